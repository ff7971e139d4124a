"""Lean 4 text for autoformalization: statement clean-up, normal form, equivalence theorems, holes.

All of this is text work on Lean source; the prover decides what elaborates. The scanner respects
brackets, comments and strings so that `:` and `:=` inside binders or terms are never taken for the
statement's own separators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..textscan import skip_nested
from ..types import Language, Theorem
from .holes import Hole, lean_fill_text

DEFAULT_HEADER = "import Mathlib\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"  # the miniF2F header
# Each hole is first tried with these, in order (then a short best-first search on its goal).
HOLE_TACTICS = ("norm_num", "linarith", "nlinarith", "positivity", "omega", "simp", "decide")
# A short automatic attempt at `A → B` between two statements.
EQUIVALENCE_TACTICS = (
    "exact fun h => h",
    "intro h; intros; apply h <;> assumption",
    "intro h; intros; simp_all",
    "intro h; intros; aesop",
    "tauto",
)
_OPENERS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄"}
_CLOSERS = set(_OPENERS.values())
_DECL = re.compile(r"\s*(?:@\[[^\]]*\]\s*)?(?:private\s+|protected\s+)?(?:theorem|lemma|example)\b")


def _top_level_positions(text: str) -> list[tuple[int, str]]:
    """(offset, char) of every character at bracket depth 0 outside comments and strings."""
    out: list[tuple[int, str]] = []
    depth = 0
    i, n = 0, len(text)
    while i < n:
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/-", i):
            j = skip_nested(text, i, "/-", "-/")
            i = n if j < 0 else j
            continue
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS:
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append((i, ch))
        i += 1
    return out


def find_assign(text: str) -> int:
    """Offset of the statement's own `:=` (top level), or -1."""
    for i, ch in _top_level_positions(text):
        if ch == ":" and text.startswith(":=", i):
            return i
    return -1


def find_colon(text: str) -> int:
    """Offset of the top-level `:` that separates the binders from the conclusion, or -1."""
    for i, ch in _top_level_positions(text):
        if ch == ":" and not text.startswith(":=", i) and not text.startswith("::", i) and text[i - 1 : i] != ":":
            return i
    return -1


@dataclass(frozen=True)
class LeanStatement:
    keyword: str
    name: str
    binders: str
    conclusion: str

    def proposition(self) -> str:
        """The statement as one proposition: `∀ binders, conclusion`."""
        binders = self.binders.strip()
        conclusion = self.conclusion.strip()
        return f"∀ {binders}, {conclusion}" if binders else conclusion


def parse_statement(statement: str) -> LeanStatement | None:
    """Split `theorem name binders : conclusion := proof` into its parts; None if it has no such shape."""
    match = _DECL.match(statement)
    if match is None:
        return None
    keyword = match.group(0).split()[-1]
    rest = statement[match.end() :]
    name = ""
    if keyword != "example":
        name_match = re.match(r"\s*([^\s(\[{⦃:]+)", rest)
        if name_match is None:
            return None
        name = name_match.group(1)
        rest = rest[name_match.end() :]
    assign = find_assign(rest)
    body = rest if assign < 0 else rest[:assign]
    colon = find_colon(body)
    if colon < 0:
        return None
    return LeanStatement(keyword, name, body[:colon], body[colon + 1 :])


class LeanTarget:
    """Lean 4 for statement autoformalization and sketches with `sorry` holes."""

    language = Language.LEAN4
    hole_tactics: tuple[str, ...] = HOLE_TACTICS
    equivalence_tactics: tuple[str, ...] = EQUIVALENCE_TACTICS
    default_header = DEFAULT_HEADER

    def statement_stub(self, name: str) -> str:
        return f"theorem {name}"

    def clean_statement(self, text: str) -> str:
        """A candidate statement ending `:= by sorry`: the model's text up to its own `:=`."""
        text = text.strip()
        assign = find_assign(text)
        head = text if assign < 0 else text[:assign]
        return head.rstrip() + " := by sorry"

    def statement_head(self, statement: str) -> str:
        """The statement with its proof removed, ending `:= by`: what a sketch continues."""
        assign = find_assign(statement)
        if assign < 0:
            return statement.rstrip() + " := by"
        return statement[: assign + 2] + " by"

    def normalise(self, statement: str) -> str:
        """Normal form for exact matching: no name, no proof, single spaces, `∑ x in` as `∑ x ∈`."""
        parsed = parse_statement(statement)
        if parsed is not None:
            text = f"{parsed.binders} : {parsed.conclusion}"
        else:
            assign = find_assign(statement)
            text = statement if assign < 0 else statement[:assign]
        text = re.sub(r"--[^\n]*", " ", text)
        text = re.sub(r"([∑∏]\s*\S+\s+)in\b", r"\1∈", text)
        text = " ".join(text.split())
        text = re.sub(r"([(\[{⟨]) ", r"\1", text)
        return re.sub(r" ([)\]}⟩])", r"\1", text)

    def theorem(self, name: str, statement: str, header: str = "", split: str = "") -> Theorem:
        return Theorem(
            name=name, statement=statement, header=header or self.default_header, split=split, language=self.language
        )

    true_proposition = "True"

    def propositions(self, candidate: str, reference: str) -> tuple[str, str] | None:
        """Each statement as one proposition (`∀ binders, conclusion`), or None if either is unparsable."""
        cand, ref = parse_statement(candidate), parse_statement(reference)
        if cand is None or ref is None:
            return None
        return cand.proposition(), ref.proposition()

    def implication(self, name: str, hypothesis: str, conclusion: str) -> str:
        return f"theorem {name} : ({hypothesis}) → ({conclusion}) := by sorry"

    def fill_text(self, hole: Hole, steps: Sequence[str]) -> str:
        return lean_fill_text(hole, steps)

    def full_text(self, statement_head: str, body: str) -> str:
        return statement_head + body
