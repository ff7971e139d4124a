"""Isabelle text for autoformalization: statement cut, normal form, equivalence lemmas, holes.

A miniF2F Isabelle statement is `theorem name: fixes ... assumes ... shows ...` (or a bare quoted
proposition). The scanner here is lexical (quotes, cartouches, comments); it is enough to find where
the statement ends and to restate it as one meta-level proposition for the equivalence check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..textscan import skip_nested_or_end
from ..types import Language, Theorem
from .holes import Hole, isabelle_fill_text

DEFAULT_IMPORTS = ("Complex_Main", "HOL-Computational_Algebra.Computational_Algebra", "HOL-Number_Theory.Number_Theory")
# DSP's order (DESIGN section 4); Sledgehammer comes after these when the session offers it.
HOLE_TACTICS = (
    "by auto",
    "by simp",
    "by blast",
    "by fastforce",
    "by force",
    "by eval",
    "by presburger",
    "by sos",
    "by arith",
    "by linarith",
    "by (auto simp: field_simps)",
)
EQUIVALENCE_TACTICS = (
    "using h by auto",
    "using h by simp",
    "using h by blast",
    "using h by fastforce",
    "using h by (auto simp: field_simps)",
    "using h by arith",
    "using h by presburger",
    "using h by linarith",
)
PROOF_OPENERS = frozenset({"proof", "by", "apply", "sorry", "oops", "using", "unfolding", "including", "supply", "sledgehammer", "normalhammer", "."})
_TOKEN = re.compile(
    r'(?P<comment>\(\*)|(?P<string>"(?:[^"\\]|\\.)*"?)|(?P<cart>\\<open>|‹)|(?P<word>[A-Za-z0-9_\'.?]+|\\<[A-Za-z_]+>)|(?P<space>\s+)|(?P<sym>.)',
    re.S,
)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Tok]:
    """Outer-syntax tokens (comments and cartouches kept whole, spaces dropped)."""
    out: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        m = _TOKEN.match(text, i)
        assert m is not None
        kind = m.lastgroup or "sym"
        if kind == "comment":
            end = skip_nested_or_end(text, i, "(*", "*)")
            out.append(Tok("comment", text[i:end], i, end))
            i = end
            continue
        if kind == "cart":
            opener = m.group(0)
            closer = "\\<close>" if opener == "\\<open>" else "›"
            end = skip_nested_or_end(text, i, opener, closer)
            out.append(Tok("cartouche", text[i:end], i, end))
            i = end
            continue
        if kind != "space":
            out.append(Tok(kind, m.group(0), i, m.end()))
        i = m.end()
    return out


def split_statement(text: str) -> tuple[str, str]:
    """(statement, proof): the statement ends before the first proof keyword after its name."""
    toks = [t for t in tokenize(text) if t.kind != "comment"]
    start = 2 if toks and toks[0].text in ("theorem", "lemma") else 0
    for tok in toks[start:]:
        if tok.kind in ("word", "sym") and tok.text in PROOF_OPENERS:
            return text[: tok.start].rstrip(), text[tok.start :]
    return text.rstrip(), ""


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    if text.startswith("\\<open>") and text.endswith("\\<close>"):
        return text[len("\\<open>") : -len("\\<close>")]
    if text.startswith("‹") and text.endswith("›"):
        return text[1:-1]
    return text


@dataclass(frozen=True)
class IsabelleStatement:
    name: str
    fixes: tuple[tuple[str, str], ...]  # (variable, type or "")
    assumes: tuple[str, ...]
    shows: tuple[str, ...]

    def proposition(self) -> str:
        """The statement as one meta-level proposition (inner syntax, without outer quotes)."""
        body = " &&& ".join(f"({s})" for s in self.shows)
        if len(self.shows) > 1:
            body = f"({body})"
        for assumption in reversed(self.assumes):
            body = f"({assumption}) \\<Longrightarrow> {body}"
        if self.fixes:
            binders = " ".join(f"({v}::{t})" if t else v for v, t in self.fixes)
            body = f"\\<And>{binders}. {body}"
        return body


def parse_statement(statement: str) -> IsabelleStatement | None:
    """Read `theorem name: fixes/assumes/shows` or `theorem name: "prop"`; None if the shape is unknown."""
    toks = [t for t in tokenize(statement) if t.kind != "comment"]
    if len(toks) < 2 or toks[0].text not in ("theorem", "lemma"):
        return None
    k = 1
    name = ""
    if toks[k].kind == "word" and toks[k].text not in ("fixes", "assumes", "shows"):
        name = toks[k].text
        k += 1
        if k < len(toks) and toks[k].text == ":":
            k += 1
    fixes: list[tuple[str, str]] = []
    assumes: list[str] = []
    shows: list[str] = []
    section = "shows"
    pending_vars: list[str] = []
    while k < len(toks):
        tok = toks[k]
        if tok.kind == "word" and tok.text in ("fixes", "assumes", "shows"):
            fixes.extend((v, "") for v in pending_vars)
            pending_vars = []
            section = tok.text
            k += 1
            continue
        if tok.kind == "word" and tok.text == "and":
            fixes.extend((v, "") for v in pending_vars)
            pending_vars = []
            k += 1
            continue
        if section == "fixes":
            if tok.text == ":" and k + 1 < len(toks) and toks[k + 1].text == ":":
                type_tok = toks[k + 2] if k + 2 < len(toks) else None
                if type_tok is None:
                    return None
                fixes.extend((v, _unquote(type_tok.text)) for v in pending_vars)
                pending_vars = []
                k += 3
                continue
            if tok.kind in ("word", "string"):
                pending_vars.append(_unquote(tok.text))
                k += 1
                continue
            return None
        # assumes / shows: optional `label:` or `label[attrs]:`, then propositions, each perhaps
        # followed by a term pattern `(is "...")` that names parts of it and changes nothing
        if tok.text == "(" and k + 1 < len(toks) and toks[k + 1].text == "is":
            while k < len(toks) and toks[k].text != ")":
                k += 1
            k += 1
            continue
        if tok.kind == "word" and k + 1 < len(toks) and toks[k + 1].text in (":", "["):
            k += 1
            if toks[k].text == "[":
                while k < len(toks) and toks[k].text != "]":
                    k += 1
                k += 1
            if k < len(toks) and toks[k].text == ":":
                k += 1
            continue
        if tok.kind in ("string", "cartouche"):
            (assumes if section == "assumes" else shows).append(_unquote(tok.text))
            k += 1
            continue
        return None
    fixes.extend((v, "") for v in pending_vars)
    if not shows:
        return None
    return IsabelleStatement(name, tuple(fixes), tuple(assumes), tuple(shows))


def default_header(name: str, imports: Sequence[str] = DEFAULT_IMPORTS) -> str:
    return f"theory {name} imports\n  " + "\n  ".join(f'"{i}"' if "-" in i else i for i in imports) + "\nbegin"


class IsabelleTarget:
    """Isabelle/HOL for statement autoformalization and DSP sketches with `sledgehammer` holes."""

    language = Language.ISABELLE
    hole_tactics: tuple[str, ...] = HOLE_TACTICS
    equivalence_tactics: tuple[str, ...] = EQUIVALENCE_TACTICS

    def statement_stub(self, name: str) -> str:
        return f"theorem {name}:"

    def clean_statement(self, text: str) -> str:
        return split_statement(text.strip())[0].strip()

    def statement_head(self, statement: str) -> str:
        return split_statement(statement)[0].rstrip()

    def normalise(self, statement: str) -> str:
        """Normal form for exact matching: no name, no labels, no comments, single spaces."""
        head = split_statement(statement)[0]
        toks = [t for t in tokenize(head) if t.kind != "comment"]
        if len(toks) >= 2 and toks[0].text in ("theorem", "lemma"):
            toks = toks[2:] if toks[1].kind == "word" else toks[1:]
            if toks and toks[0].text == ":":
                toks = toks[1:]
        words: list[str] = []
        k = 0
        while k < len(toks):
            tok = toks[k]
            # assumption labels: `h0 :` before a quoted proposition
            if (
                tok.kind == "word"
                and k + 2 < len(toks)
                and toks[k + 1].text == ":"
                and toks[k + 2].kind in ("string", "cartouche")
                and (k == 0 or toks[k - 1].text != ":")
            ):
                k += 2
                continue
            words.append(" ".join(_unquote(tok.text).split()) if tok.kind == "string" else tok.text)
            k += 1
        return " ".join(words)

    def theorem(self, name: str, statement: str, header: str = "", split: str = "") -> Theorem:
        return Theorem(
            name=name,
            statement=statement,
            header=header or default_header(name),
            split=split,
            language=self.language,
        )

    true_proposition = "True"

    def propositions(self, candidate: str, reference: str) -> tuple[str, str] | None:
        """Each statement as one meta-level proposition, or None if either is unparsable."""
        cand, ref = parse_statement(candidate), parse_statement(reference)
        if cand is None or ref is None:
            return None
        return cand.proposition(), ref.proposition()

    def implication(self, name: str, hypothesis: str, conclusion: str) -> str:
        return f'lemma {name}:\n  assumes h: "{hypothesis}"\n  shows "{conclusion}"'

    def fill_text(self, hole: Hole, steps: Sequence[str]) -> str:
        return isabelle_fill_text(hole, steps)

    def full_text(self, statement_head: str, body: str) -> str:
        return statement_head + body
