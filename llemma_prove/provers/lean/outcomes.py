"""What one tactic response means for the search (DESIGN "Soundness", issue 3 item 4).

A step is PROVED only when the REPL says `proofStatus: Completed` (or, for REPL builds older than Lean
4.19 without `proofStatus`, no goals are left) and no error, no `sorry` came with it. `goals: []` with
an error is an ERROR: Lean closes a goal with a synthetic `sorry` when a tactic fails
(`invalid_tactic` transcript). A step that introduces a `sorry` (`have h : P := sorry`) and leaves
goals is GOALS marked `introduces_sorry`: nothing built on it can pass the final check, but the paper's
harness (LeanDojo) still returned its state and queued it, so pruning it is the search's choice. A
step that uses `sorry` and leaves no goals is an ERROR (LeanDojo's `ProofGivenUp`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...types import OutcomeKind
from .messages import Message, ReplFailure, Response, Severity, TacticResponse

COMPLETED = "Completed"
OPEN_GOALS = "Incomplete: open goals remain"

_SORRY_WARNING = re.compile(r"declaration uses ['`]sorry['`]")


@dataclass(frozen=True)
class StepVerdict:
    kind: OutcomeKind
    text: str = ""  # the new goal state's text (GOALS only)
    message: str = ""
    introduces_sorry: bool = False  # GOALS only


def goals_text(goals: tuple[str, ...] | list[str]) -> str:
    """A goal state's text as Lean shows it: the goals, separated by blank lines."""
    return "\n\n".join(goals)


def is_sorry_warning(message: Message) -> bool:
    return message.severity == Severity.WARNING and bool(_SORRY_WARNING.search(message.data))


def first_lines(messages: list[Message], limit: int = 3) -> str:
    return "\n".join(m.data.strip() for m in messages[:limit])


def classify_tactic_response(response: Response) -> StepVerdict:
    """Map one response to a tactic request onto GOALS / PROVED / ERROR."""
    if isinstance(response, ReplFailure):
        message = response.message
        if message.startswith("Lean error:\n"):
            message = message[len("Lean error:\n") :]
        return StepVerdict(OutcomeKind.ERROR, message=message.strip())
    if not isinstance(response, TacticResponse):
        return StepVerdict(OutcomeKind.ERROR, message=f"unexpected answer to a tactic: {type(response).__name__}")
    errors = response.errors
    if errors:
        return StepVerdict(OutcomeKind.ERROR, message=first_lines(errors))
    if response.sorries or any(is_sorry_warning(m) for m in response.messages):
        if response.goals:
            return StepVerdict(OutcomeKind.GOALS, text=goals_text(response.goals),
                               message="the tactic introduces `sorry`", introduces_sorry=True)
        return StepVerdict(OutcomeKind.ERROR, message="the tactic introduces `sorry`")
    status = response.proof_status
    if response.goals:
        if status is None or status == OPEN_GOALS or not status.startswith(("Error", "Incomplete: contains")):
            return StepVerdict(OutcomeKind.GOALS, text=goals_text(response.goals))
        return StepVerdict(OutcomeKind.ERROR, message=status)
    # no goals left
    if status is None:  # REPL for Lean < 4.19: no goals, no error, no sorry
        return StepVerdict(OutcomeKind.PROVED)
    if status == COMPLETED:
        return StepVerdict(OutcomeKind.PROVED)
    return StepVerdict(OutcomeKind.ERROR, message=status)
