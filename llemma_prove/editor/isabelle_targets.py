"""Isabelle targets: the `sorry`/`oops` of a `.thy` theory and whether the search can start there.
Split from `targets.py`, which keeps the values shared with Lean and the selection and writing helpers."""

from __future__ import annotations

from dataclasses import dataclass

from ..types import Language, Theorem
from .errors import UnsupportedSource
from .lean_syntax import LineIndex
from .targets import Declaration, HoleKind, Insertion, LocatedFile, Target, blank_start, line_indent, newline_at, step_text

_ISABELLE_ADVICE = (
    "only a whole proof (`sorry`/`oops` right after the statement) or a `sorry` ending a flat "
    "`apply` script can be searched"
)


ISABELLE_THEOREM_KEYWORDS = frozenset({"theorem", "lemma", "corollary", "proposition", "schematic_goal"})
# Top-level theory commands: one ends the proof before it.
ISABELLE_THEORY_COMMANDS = ISABELLE_THEOREM_KEYWORDS | {
    "end", "definition", "fun", "function", "primrec", "datatype", "codatatype", "type_synonym", "abbreviation",
    "lemmas", "declare", "text", "section", "subsection", "subsubsection", "paragraph", "chapter", "locale",
    "context", "notation", "no_notation", "hide_const", "hide_fact", "instantiation", "class", "consts",
    "axiomatization", "inductive", "inductive_set", "coinductive", "record", "typedecl", "termination",
    "ML", "ML_file", "setup", "method_setup", "named_theorems", "interpretation", "sublocale", "export_code",
    "bundle", "unbundle", "syntax", "translations", "primcorec", "nominal_datatype", "type_notation",
    "overloading", "specification", "global_interpretation", "experiment", "print_theorems",
}
ISABELLE_PROOF_OPENERS = frozenset(
    {"proof", "by", "apply", "apply_end", "sorry", "oops", "using", "unfolding", "including", "supply", ".", ".."}
)
# Isar proof commands: each starts a new step.
ISABELLE_PROOF_COMMANDS = ISABELLE_PROOF_OPENERS | {
    "done", "qed", "defer", "prefer", "back", "have", "show", "hence", "thus", "then", "from", "with", "also",
    "finally", "moreover", "ultimately", "note", "fix", "assume", "presume", "obtain", "define", "let", "case",
    "next", "subgoal", "consider", "guess", "interpret", "txt", "nitpick", "sledgehammer", "try", "try0", "{", "}",
}
ISABELLE_APPLY_STYLE = frozenset({"apply", "apply_end", "using", "unfolding", "including", "supply", "defer",
                                  "prefer", "back"})


@dataclass(frozen=True)
class _IsaTok:
    kind: str
    text: str
    start: int
    end: int
    line: int
    column: int
    first_on_line: bool
    depth: int  # parenthesis depth before the token


def isabelle_tokens(text: str) -> list[_IsaTok]:
    from ..provers.isabelle.theory import TheorySyntaxError, TokenKind, tokens

    try:
        raw = tokens(text)
    except TheorySyntaxError as exc:
        raise UnsupportedSource(f"cannot read the Isabelle theory: {exc}") from None
    index = LineIndex(text)
    out: list[_IsaTok] = []
    last_line = 0
    depth = 0
    for tok in raw:
        if tok.kind in (TokenKind.SPACE, TokenKind.COMMENT):
            continue
        line, column = index.position(tok.start)
        first = line != last_line
        last_line = line
        out.append(_IsaTok(tok.kind.value, tok.text, tok.start, tok.end, line, column, first, depth))
        if tok.kind is TokenKind.SYMBOL and tok.text in "([":
            depth += 1
        elif tok.kind is TokenKind.SYMBOL and tok.text in ")]" and depth:
            depth -= 1
    return out


def _is_word(tok: _IsaTok, words: frozenset[str] | set[str]) -> bool:
    return tok.kind in ("word", "symbol") and tok.text in words and tok.depth == 0


def locate_isabelle(text: str) -> LocatedFile:
    toks = isabelle_tokens(text)
    theory = next((k for k, t in enumerate(toks) if t.kind == "word" and t.text == "theory"), None)
    begin = None
    if theory is not None:
        begin = next((k for k in range(theory + 1, len(toks)) if toks[k].kind == "word" and toks[k].text == "begin"),
                     None)
    if theory is None or begin is None:
        raise UnsupportedSource("not an Isabelle theory: no `theory NAME imports ... begin` header")
    header = text[toks[theory].start: toks[begin].end]
    index = LineIndex(text)

    decls: list[tuple[Declaration, int, int, int]] = []  # declaration, statement end, proof start, proof end (indices)
    command_starts = [j for j in range(begin + 1, len(toks)) if _is_word(toks[j], ISABELLE_THEORY_COMMANDS)]
    for pos, j in enumerate(command_starts):
        tok = toks[j]
        if tok.text not in ISABELLE_THEOREM_KEYWORDS:
            continue
        stop_cmd = command_starts[pos + 1] if pos + 1 < len(command_starts) else len(toks)
        k = j + 1
        if k < stop_cmd and toks[k].text == "(":  # `lemma (in locale) name: ...`
            while k < stop_cmd and toks[k].text != ")":
                k += 1
            k += 1
        name = None
        if k + 1 < stop_cmd and toks[k].kind == "word" and toks[k + 1].text in (":", "["):
            name = toks[k].text
        opener = next((m for m in range(k, stop_cmd) if _is_word(toks[m], ISABELLE_PROOF_OPENERS)), None)
        if opener is None:
            continue  # a statement with no proof at all: nothing to fill
        end_tok = toks[stop_cmd - 1]
        decl = Declaration(tok.text, name, name, tok.start, tok.start, end_tok.end, tok.line,
                           index.position(end_tok.end)[0])
        decls.append((decl, opener, opener, stop_cmd))

    theory_name = toks[theory + 1].text if theory + 1 < len(toks) else "theory"
    targets: list[Target] = []
    for j in range(begin + 1, len(toks)):
        tok = toks[j]
        if tok.kind != "word" or tok.text not in ("sorry", "oops"):
            continue
        owner = next((d for d in decls if d[2] <= j < d[3]), None)
        if owner is None:
            targets.append(Target(Language.ISABELLE, tok.start, tok.end, tok.line, tok.column, HoleKind.UNSUPPORTED,
                                  None, f"this {tok.text} is not in the proof of a theorem or lemma", keyword=tok.text))
            continue
        targets.append(_isabelle_target(text, header, toks[begin].end, toks, j, owner, theory_name))
    return LocatedFile(Language.ISABELLE, text, tuple(d[0] for d in decls), tuple(targets), header)


def _isabelle_target(text: str, header: str, header_end: int, toks: list[_IsaTok], j: int,
                     owner: tuple[Declaration, int, int, int], theory_name: str) -> Target:
    decl, stmt_stop, proof_start, proof_end = owner
    tok = toks[j]

    def unsupported(reason: str) -> Target:
        return Target(Language.ISABELLE, tok.start, tok.end, tok.line, tok.column, HoleKind.UNSUPPORTED, decl,
                      reason, keyword=tok.text)

    proof = toks[proof_start:proof_end]
    steps: list[list[_IsaTok]] = []
    for t in proof:
        if not steps or _is_word(t, ISABELLE_PROOF_COMMANDS):
            steps.append([t])
        else:
            steps[-1].append(t)
    last = steps[-1]
    if not (len(last) == 1 and last[0].start == tok.start):
        return unsupported(f"this {tok.text} is inside a structured proof (`{steps[0][0].text}` at line "
                           f"{steps[0][0].line}); " + _ISABELLE_ADVICE)
    earlier = steps[:-1]
    bad = next((s for s in earlier if s[0].text not in ISABELLE_APPLY_STYLE), None)
    if bad is not None:
        return unsupported(f"this {tok.text} follows `{bad[0].text}` at line {bad[0].line}; " + _ISABELLE_ADVICE)
    others = [t for s in earlier for t in s if t.kind == "word" and t.text in ("sorry", "oops")]
    if others:
        return unsupported(f"the proof has another sorry (line {others[0].line}), fill it first")
    stmt_end = toks[stmt_stop - 1].end
    statement = text[decl.start: stmt_end]
    name = decl.name or f"{theory_name}_line{decl.line}"
    theorem = Theorem(
        name=name,
        statement=statement,
        header=header,
        preamble=text[header_end: decl.start].strip(),
        language=Language.ISABELLE,
        source="file",
    )
    newline = newline_at(text, tok.start)
    if tok.first_on_line:
        insertion = Insertion(tok.start, tok.end, line_indent(text, tok.start), newline, True, "")
    else:
        insertion = Insertion(tok.start, tok.end, line_indent(text, decl.start) + "  ", newline, False, "",
                              block_start=blank_start(text, tok.start))
    kind = HoleKind.WHOLE_PROOF if not earlier else HoleKind.LAST_STEP
    prefix = tuple(step_text(text, s[0].start, s[-1].end, s[0].column) for s in earlier)
    return Target(Language.ISABELLE, tok.start, tok.end, tok.line, tok.column, kind, decl, theorem=theorem,
                  prefix=prefix, insertion=insertion, keyword=tok.text)



__all__ = ["isabelle_tokens", "locate_isabelle"]
