"""The prover capability that Draft, Sketch, Prove needs, beyond `Prover`.

A `SketchProver` opens a sketch (a theorem plus a proof text with holes) and hands out the goal state
of each hole; the pipeline then tries tactics on that state with `step`, exactly as on any
`ProverSession`. Holes are asked for in order and with the texts that closed the earlier ones, so a
backend that checks proofs front to back (PISA) can replay them, and one that elaborates the whole
sketch at once (the Lean REPL, whose `sorry`s each carry a proof state) can ignore them.

`step(hole_state, tactic)` must return PROVED exactly when the tactic discharges that hole's goal,
even when the enclosing proof goes on (in Isabelle, `by auto` after `have ...` returns to the outer
proof: that is PROVED for the hole). Nothing a session says counts as a proof: the assembled text
always goes through `verify_sketch`, the prover's own from-scratch final check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from ..types import GoalState, OutcomeKind, StepOutcome, Theorem, Verification
from .holes import Sketch


@dataclass(frozen=True)
class HoleGoal:
    """The goal at one hole, or why there is none (the skeleton around it does not check).

    A hole the proof runs on several goals (Lean: `all_goals sorry`, `any_goals sorry`, `t <;> sorry`)
    has one state per goal, in the prover's order: `state` is the first, `more` the others. Whatever
    replaces the hole is run on each of them, so it must close every one."""

    index: int
    state: GoalState | None
    error: str = ""
    more: tuple[GoalState, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state is not None

    @property
    def states(self) -> tuple[GoalState, ...]:
        """Every goal the hole's replacement must close (none when there is no state)."""
        return () if self.state is None else (self.state, *self.more)


@runtime_checkable
class SketchSession(Protocol):
    theorem: Theorem

    async def hole_goal(self, index: int, fills: Sequence[str]) -> HoleGoal:
        """Goal of hole `index`, with holes `0..index-1` replaced by `fills`. Raises `ProverError` only
        for a broken prover; a sketch that does not elaborate is a `HoleGoal` with an error."""
        ...

    async def step(self, state: GoalState, tactic: str) -> StepOutcome: ...

    async def close(self) -> None: ...


async def closes_goal(session: SketchSession, state: GoalState, steps: Sequence[str]) -> bool:
    """Do `steps`, run in turn from `state`, close that goal (the last one completes it, none before)?
    How a proof found for one goal of a hole is tried on its other goals before they are searched."""
    for k, tactic in enumerate(steps):
        outcome = await session.step(state, tactic)
        if outcome.kind is OutcomeKind.PROVED:
            return k == len(steps) - 1
        if outcome.kind is not OutcomeKind.GOALS or outcome.state is None:
            return False
        state = outcome.state
    return False


async def proof_found_before(session: SketchSession, state: GoalState, proofs: Sequence[tuple[str, ...]]
                             ) -> tuple[tuple[str, ...] | None, int]:
    """The first of the distinct `proofs` (found for earlier goals of the same hole) that closes `state`,
    and how many were tried: a goal is searched only when none does."""
    tried = 0
    for proof in dict.fromkeys(proofs):
        tried += 1
        if await closes_goal(session, state, proof):
            return proof, tried
    return None, tried


@runtime_checkable
class SketchProver(Protocol):
    async def open_sketch(self, theorem: Theorem, sketch: Sketch) -> SketchSession:
        """`sketch.text` is the proof text that follows the theorem's statement (Lean: after `:= by`)."""
        ...

    async def verify_sketch(self, theorem: Theorem, body: str) -> Verification:
        """The prover's from-scratch final check (the same check as `Prover.verify`) of the theorem's
        statement followed by `body`, the assembled proof text with every hole filled, byte for byte."""
        ...


@dataclass(frozen=True)
class HammerFound:
    """What a hammer call produced: the proof text to put in the hole (None when it found nothing)."""

    text: str | None
    message: str = ""
    elapsed_s: float = 0.0


@runtime_checkable
class HammerSession(Protocol):
    """Optional session capability (Isabelle): run Sledgehammer on a hole's goal."""

    async def hammer(self, state: GoalState, timeout_s: float) -> HammerFound: ...
