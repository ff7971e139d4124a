"""Lean's own view of a file's `sorry`s: which ones are tactics, read from the REPL, not guessed.

The text scanner (`lean_targets`) guesses from layout whether a `sorry` stands for a tactic. Where a
Lean REPL is available the file is elaborated once instead (everything after the header, on the
header environment, with `allTactics`), and the answer decides:

- The REPL reports a `sorries` entry for every explicit `sorry` it elaborated, tactic or term alike
  (one per goal for a `sorry` run on several, `all_goals sorry`, all at one position; the role is the
  same for each), each with `pos`, `endPos`, `goal` and `proofState`: no field says which
  (leanprover-community/repl v4.24.0, `REPL/Lean/InfoTree.lean`, `InfoTree.sorries`: the tactic nodes
  whose syntax is `Tactic.tacticSorry` with goals, then the term nodes whose syntax is `Term.sorry`;
  `REPL/Main.lean`, `sorries`, gives both a proof state; the recorded `dup_sorries` transcript shows
  a term `:= sorry` reported exactly like the tactic one of `tactic_sorry`).
- With `allTactics` the REPL also lists every original, substantive tactic node (`InfoTree.tactics`,
  `isSubstantive`: `tacticSorry` is one) with its own range. A `sorry` is a tactic-position hole
  exactly when a `tactics` entry `sorry` has the range of its `sorries` entry; a term `sorry` lies
  inside the range of the tactic that holds it (`exact sorry`, `simp [a, sorry]`).

Positions are (1-based line, 0-based column in code points) of the command text, lines split at
`\\n` only (Lean's `FileMap`), so a CRLF file or astral characters before a `sorry` map back exactly.

The view is keyed by each declaration's exact text: a later version of the file (earlier proofs
written in) keeps the verdicts of the declarations it did not change, and a changed declaration goes
back to the scanner. A declaration with an error message, or text Lean never reached, is left to the
scanner too. Either way a wrong verdict only ever reaches an edit through the final check.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from .lean_syntax import LineIndex

log = logging.getLogger(__name__)


class SorryRole(str, enum.Enum):
    TACTIC = "tactic"  # Lean ran it as the `sorry` tactic
    TERM = "term"  # Lean elaborated it as a term
    ABSENT = "absent"  # Lean elaborated the declaration and reported no `sorry` here


@dataclass(frozen=True)
class LeanSorry:
    """One `sorry` as Lean reported it, with file offsets (code points)."""

    start: int
    end: int
    role: SorryRole
    goal: str = ""


@dataclass(frozen=True)
class LeanView:
    """Per declaration text (as written), the role Lean gave each `sorry`, by offset in that text."""

    roles: Mapping[str, Mapping[int, LeanSorry]] = field(default_factory=dict)
    source: str = "the Lean REPL"

    def role(self, decl_text: str, offset_in_decl: int) -> SorryRole | None:
        """Lean's verdict on the `sorry` at this offset of this declaration; None: ask the scanner."""
        entries = self.roles.get(decl_text)
        if entries is None:
            return None
        found = entries.get(offset_in_decl)
        return found.role if found is not None else SorryRole.ABSENT


def _pos(data: Any) -> tuple[int, int] | None:
    if data is None:
        return None
    return data.line, data.column


def view_from_response(text: str, base: int, response: Any, declarations: Any) -> LeanView:
    """The view of `text` from the REPL's answer to `text[base:]` run on the header environment.

    `declarations` are the scanner's `Declaration`s of `text`; only those Lean elaborated without an
    error get verdicts."""
    command = text[base:]
    lines = LineIndex(command)  # lines end at `\n` only, columns in code points (Lean's `FileMap`)

    def offset(pos: Any) -> int | None:
        at = _pos(pos)
        if at is None:
            return None
        found = lines.checked_offset(*at)
        return None if found is None else base + found

    tactic_ranges = set()
    for info in getattr(response, "tactics", None) or ():
        if info.tactic.strip() != "sorry":
            continue
        start, end = offset(info.pos), offset(info.end_pos)
        if start is not None and end is not None:
            tactic_ranges.add((start, end))
    sorries: list[LeanSorry] = []
    for entry in getattr(response, "sorries", None) or ():
        start, end = offset(entry.pos), offset(entry.end_pos)
        if start is None or end is None or text[start:end] != "sorry":
            log.warning("Lean reported a sorry at %s that is not a `sorry` of the text", entry.pos)
            continue
        role = SorryRole.TACTIC if (start, end) in tactic_ranges else SorryRole.TERM
        sorries.append(LeanSorry(start, end, role, entry.goal))
    errors = []
    for message in getattr(response, "messages", ()):
        if message.severity == "error":
            first = offset(message.pos)
            last = offset(message.end_pos) if message.end_pos is not None else first
            errors.append((first, last if last is not None else first))
    roles: dict[str, dict[int, LeanSorry]] = {}
    for decl in declarations:
        if any(a is None or b is None or (a <= decl.end and b >= decl.start) for a, b in errors):
            continue  # Lean did not see this declaration whole: the scanner decides
        chunk = text[decl.start: decl.end]
        roles[chunk] = {s.start - decl.start: s for s in sorries if decl.start <= s.start < decl.end}
    return LeanView(roles)


async def lean_view(text: str, header: str, backends: Any) -> LeanView | None:
    """Elaborate `text` (everything after `header`) once on a Lean REPL from `backends` and read its
    `sorries` and `tactics`; None when no Lean REPL is available (then the scanner decides)."""
    from ..errors import ProverError, UserError
    from ..provers.lean import LeanReplProver
    from ..types import Language, Theorem
    from .lean_targets import locate_lean

    # The backends pick a prover by language and imports: a theorem with the file's header asks for it.
    theorem = Theorem(name="llemma_locate_sorries", statement="", header=header, language=Language.LEAN4,
                      source="file")
    try:
        prover = await backends.prover(theorem)
    except (ProverError, UserError) as exc:
        log.info("no Lean to locate the sorrys with (%s); using the text scanner", exc)
        return None
    if not isinstance(prover, LeanReplProver):
        return None
    try:
        response = await prover.elaborate(header, text[len(header):], all_tactics=True)
    except ProverError as exc:
        log.warning("Lean could not elaborate the file (%s); using the text scanner", exc)
        return None
    if not hasattr(response, "sorries"):
        log.warning("the REPL refused the file (%s); using the text scanner", response)
        return None
    return view_from_response(text, len(header), response, locate_lean(text).declarations)


__all__ = ["LeanSorry", "LeanView", "SorryRole", "lean_view", "view_from_response"]
