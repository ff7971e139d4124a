"""Holes in a proof sketch: find them and fill them back in, as exact text operations.

A sketch is the model's proof text with the steps it could not justify left open: `sledgehammer` in
Isabelle (as in Draft, Sketch, Prove) and `sorry` in Lean 4. Finding a hole means finding the keyword
as a token outside comments, strings and cartouches; filling means splicing a replacement in at the
hole's character span, so that filling every hole with its own keyword gives the sketch back byte for
byte and nothing else in the text can move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ..textscan import skip_nested_or_end
from ..types import Language

LEAN_HOLE_TOKENS = ("sorry",)
ISABELLE_HOLE_TOKENS = ("sledgehammer",)


@dataclass(frozen=True)
class Hole:
    """One open step: where it is in the sketch and what it looked like there."""

    index: int
    start: int  # character offset of the hole token in the sketch
    end: int
    token: str
    line: int  # 1-based line number in the sketch
    column: int  # 0-based column (code points), as Lean's positions count
    term_position: bool = False  # Lean: the hole stands for a term (`:= sorry`), not a tactic

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "line": self.line,
            "column": self.column,
            "token": self.token,
            "term_position": self.term_position,
        }


@dataclass(frozen=True)
class Sketch:
    """A proof text and its holes, in textual order."""

    text: str
    holes: tuple[Hole, ...]
    language: Language

    def segments(self) -> list[str]:
        """The text between holes: `len(holes) + 1` pieces."""
        pieces = []
        pos = 0
        for hole in self.holes:
            pieces.append(self.text[pos : hole.start])
            pos = hole.end
        pieces.append(self.text[pos:])
        return pieces

    def fill(self, replacements: Sequence[str] | Mapping[int, str]) -> str:
        """The sketch with hole `i` replaced by `replacements[i]`; holes without one keep their token."""
        if isinstance(replacements, Mapping):
            table = dict(replacements)
        else:
            if len(replacements) > len(self.holes):
                raise ValueError(f"{len(replacements)} replacements for {len(self.holes)} holes")
            table = dict(enumerate(replacements))
        out = []
        for piece, hole in zip(self.segments(), self.holes):
            out.append(piece)
            out.append(table.get(hole.index, hole.token))
        out.append(self.segments()[-1])
        return "".join(out)

    def hole_at(self, line: int, column: int) -> Hole | None:
        """The hole starting at a (1-based line, 0-based column) position, as a prover reports it."""
        for hole in self.holes:
            if hole.line == line and hole.column == column:
                return hole
        return None


def parse_sketch(text: str, language: Language, tokens: Iterable[str] | None = None) -> Sketch:
    """Find the holes of `text`; `tokens` overrides the hole keywords of the language."""
    if language is Language.LEAN4:
        spans = _lean_token_spans(text, tuple(tokens or LEAN_HOLE_TOKENS))
    else:
        spans = _isabelle_token_spans(text, tuple(tokens or ISABELLE_HOLE_TOKENS))
    holes = []
    for index, (start, end) in enumerate(spans):
        line = text.count("\n", 0, start) + 1
        column = start - (text.rfind("\n", 0, start) + 1)
        term = language is Language.LEAN4 and _lean_term_position(text, start)
        holes.append(Hole(index, start, end, text[start:end], line, column, term))
    return Sketch(text, tuple(holes), language)


# -- Lean 4 ---------------------------------------------------------------------------------------


def _lean_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_'!?." or "\u2080" <= ch <= "\u209c"


def _lean_token_spans(text: str, tokens: tuple[str, ...]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/-", i):
            i = skip_nested_or_end(text, i, "/-", "-/")
            continue
        ch = text[i]
        if ch == '"':
            i = _skip_string(text, i)
            continue
        if ch == "«":
            j = text.find("»", i)
            i = n if j < 0 else j + 1
            continue
        if ch.isalnum() or ch == "_":
            j = i
            while j < n and _lean_ident_char(text[j]):
                j += 1
            word = text[i:j]
            before = text[i - 1] if i > 0 else ""
            if word in tokens and before != "." and before != "@":
                spans.append((i, j))
            i = j
            continue
        i += 1
    return spans


_LEAN_TERM_PRECEDERS = (":=", "(", "⟨", ",", "exact", "from", "refine", "use", "exists", "show", "fun", "λ")


def _lean_term_position(text: str, start: int) -> bool:
    """Is the hole at `start` a term (`:= sorry`, `exact sorry`) rather than a tactic?"""
    before = text[:start].rstrip()
    if before.endswith("by") and (len(before) == 2 or not _lean_ident_char(before[-3])):
        return False
    for word in _LEAN_TERM_PRECEDERS:
        if before.endswith(word):
            if word[0].isalpha() and len(before) > len(word) and _lean_ident_char(before[-len(word) - 1]):
                continue
            return True
    return False


# -- Isabelle -------------------------------------------------------------------------------------

_OPEN = "\\<open>"
_CLOSE = "\\<close>"


def _isabelle_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_'."


def _isabelle_token_spans(text: str, tokens: tuple[str, ...]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("(*", i):
            i = skip_nested_or_end(text, i, "(*", "*)")
            continue
        if text.startswith(_OPEN, i):
            i = skip_nested_or_end(text, i, _OPEN, _CLOSE)
            continue
        if text.startswith("‹", i):
            i = skip_nested_or_end(text, i, "‹", "›")
            continue
        if text.startswith("{*", i):
            j = text.find("*}", i + 2)
            i = n if j < 0 else j + 2
            continue
        ch = text[i]
        if ch in "\"`":
            i = _skip_string(text, i, quote=ch)
            continue
        if ch.isalnum() or ch == "_":
            j = i
            while j < n and _isabelle_ident_char(text[j]):
                j += 1
            if text[i:j] in tokens:
                spans.append((i, j))
            i = j
            continue
        i += 1
    return spans


# -- shared scanning helpers ---------------------------------------------------------------------


def _skip_string(text: str, i: int, quote: str = '"') -> int:
    j = i + 1
    n = len(text)
    while j < n:
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j + 1
        j += 1
    return n


# -- replacement text ----------------------------------------------------------------------------


def lean_fill_text(hole: Hole, tactics: Sequence[str]) -> str:
    """Lean text that closes `hole` with `tactics`, laid out so the surrounding block still parses.

    A tactic hole is replaced in place; further tactics go on new lines at the hole's own column,
    which is where Lean's tactic block expects them. A term hole becomes `(by ...)`.
    """
    if not tactics:
        raise ValueError("no tactics to fill a hole with")
    if hole.term_position:
        return "(by " + _aligned(tactics, hole.column + 4) + ")"
    return _aligned(tactics, hole.column)


def lean_every_goal_text(proofs: Sequence[Sequence[str]]) -> str:
    """One Lean tactic that closes each goal a hole runs on, given a proof (tactic list) per goal.

    The same text replaces the hole for every goal (`all_goals sorry` runs it once per goal), so the
    proofs are tried in turn: `first | (focus P1; done) | (focus P2; done)`. `done` makes a proof that
    leaves the goal open fail, so `first` goes on to the next; `focus` keeps `done` to the hole's own
    goal where the hole is not run focused (Lean 4 `Init/Tactics.lean`: `first` is
    `"first " withPosition((ppDedent(ppLine) colGe "| " tacticSeq)+)`, `focus` and the parenthesised
    `(tacticSeq)` take a tactic sequence). Proofs with a line break are laid out as blocks:

        first
          | (focus
              tac1
              tac2
              done)
          | (focus tac3; done)

    the `|`s at one column (`colGe`), each sequence's tactics at one column (`sepByIndent`). The text
    starts at column 0; continuation lines are relative to it (`render_steps` places it at the hole).
    A single distinct proof is given back as it is. Nothing here is trusted: the final check of the
    whole text decides."""
    distinct: list[tuple[str, ...]] = []
    for proof in proofs:
        steps = tuple(s.replace("\r\n", "\n").strip("\n").rstrip() for s in proof if s.strip())
        if not steps:
            raise ValueError("an empty proof for a goal of the hole")
        if steps not in distinct:
            distinct.append(steps)
    if not distinct:
        raise ValueError("no proofs to combine")
    if len(distinct) == 1:
        return "\n".join(distinct[0])
    if all("\n" not in s for p in distinct for s in p):
        return "first " + " ".join("| (focus " + "; ".join(s.strip() for s in p) + "; done)" for p in distinct)
    lines = ["first"]
    for proof in distinct:
        if all("\n" not in s for s in proof):
            lines.append("  | (focus " + "; ".join(s.strip() for s in proof) + "; done)")
            continue
        lines.append("  | (focus")
        for step in proof:
            parts = step.split("\n")
            base = len(parts[0]) - len(parts[0].lstrip(" "))
            lines.append(" " * 6 + parts[0].strip())
            for part in parts[1:]:
                lead = len(part) - len(part.lstrip(" "))
                lines.append(" " * 6 + part[min(lead, base):] if part.strip() else "")
        lines.append(" " * 6 + "done)")
    return "\n".join(lines)


def every_goal_steps(proofs: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """The steps that replace a hole given one proof per goal it runs on (see `lean_every_goal_text`)."""
    distinct = list(dict.fromkeys(proofs))
    return distinct[0] if len(distinct) == 1 else (lean_every_goal_text(distinct),)


def isabelle_fill_text(hole: Hole, steps: Sequence[str]) -> str:
    """Isabelle text for a hole: the closing method (`by auto`, Sledgehammer's `by (metis ...)`)."""
    if not steps:
        raise ValueError("no proof steps to fill a hole with")
    return _aligned(steps, hole.column)


def _aligned(lines: Sequence[str], column: int) -> str:
    pad = " " * column
    out: list[str] = []
    for k, item in enumerate(lines):
        parts = item.strip("\n").split("\n")
        for m, part in enumerate(parts):
            out.append(part if k == 0 and m == 0 else pad + part)
    return "\n".join(out)
