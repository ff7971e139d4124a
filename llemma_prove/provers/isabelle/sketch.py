"""Draft-Sketch-Prove on PISA: a sketch's `sledgehammer` holes as named PISA states, checked front to back.

Isabelle checks a proof in order, so holes are reached one after another, as DSP's own checker does:
the text before hole 0 runs on the theorem's root state (split into commands by Isabelle's parser),
the hole's goal is the state there, a fill
(`by auto`, Sledgehammer's `by (metis ...)`) runs on it, then the text up to the next hole, and so on.
A fill closes its hole when it succeeds and the proof level drops below the hole's (the `have` it
proves is done) or the theorem is finished. The state after each successful fill is kept, keyed by
the fills so far, so the next hole continues from it without replaying. The assembled proof is
checked by `PisaProver.verify`, the from-scratch final check, which replays it command by command.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from ...autoformalize.holes import Sketch
from ...autoformalize.protocols import HammerFound, HoleGoal
from ...errors import ProverError
from ...types import GoalState, OutcomeKind, Proof, StepOutcome, Theorem, Verification
from .prover import PisaHandle, PisaProver, PisaSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HoleHandle:
    """A hole's PISA state, its proof level, and the fills that led to it."""

    pisa: PisaHandle
    level: int
    fills: tuple[str, ...]


class IsabelleSketchSession:
    """One sketch on one PISA server; implements `SketchSession` and `HammerSession`."""

    def __init__(self, prover: PisaProver, session: PisaSession, sketch: Sketch) -> None:
        self.prover = prover
        self.session = session
        self.theorem = session.theorem
        self.sketch = sketch
        self._segments = sketch.segments()
        self._after: dict[tuple[str, ...], GoalState] = {}  # fills of holes 0..k -> state after hole k

    async def _level(self, state: GoalState) -> int:
        handle = state.handle
        assert isinstance(handle, PisaHandle)
        return await self.session.worker.run(lambda client: client.proof_level(handle.name))

    async def _advance(self, state: GoalState, text: str, what: str) -> tuple[GoalState | None, str]:
        """Run `text` on `state`, split into single commands by Isabelle's own parser (as the final
        check does); blank text or comments change nothing."""
        if not text.strip():
            return state, ""
        commands = await self.session.worker.run(lambda client: client.parse_text(text, timeout_s=60.0))
        for command in commands:
            stripped = command.strip()
            if not stripped or (stripped.startswith("(*") and stripped.endswith("*)")):
                continue
            outcome = await self.session.step(state, command)
            if outcome.kind is OutcomeKind.PROVED:
                return None, f"the theorem was already finished by {what}"
            if outcome.kind is not OutcomeKind.GOALS or outcome.state is None:
                return None, f"{what} does not check at {command.strip()[:80]!r}: {outcome.message[:300]}"
            state = outcome.state
        return state, ""

    async def hole_goal(self, index: int, fills: Sequence[str]) -> HoleGoal:
        fills = tuple(fills[:index])
        if len(fills) < index:
            raise ValueError(f"hole {index} needs the fills of the {index} holes before it")
        try:
            state = await self.session.initial_state()
        except ProverError as exc:
            return HoleGoal(index, None, f"the statement does not open: {exc}")
        start = 0
        for k in range(index, 0, -1):  # the latest state we already hold
            known = self._after.get(fills[:k])
            if known is not None:
                state, start = known, k
                break
        for k in range(start, index + 1):
            state_or_none, error = await self._advance(state, self._segments[k], f"the text before hole {k}")
            if state_or_none is None:
                return HoleGoal(index, None, error)
            state = state_or_none
            if k == index:
                break
            state_or_none, error = await self._advance(state, fills[k], f"the fill of hole {k}")
            if state_or_none is None:
                return HoleGoal(index, None, error)
            state = state_or_none
            self._after[fills[: k + 1]] = state
        level = await self._level(state)
        assert isinstance(state.handle, PisaHandle)
        return HoleGoal(index, GoalState(state.text, HoleHandle(state.handle, level, fills)))

    def _hole(self, state: GoalState) -> HoleHandle:
        if not isinstance(state.handle, HoleHandle):
            raise ProverError(f"state {state.text[:60]!r} does not come from an Isabelle sketch session")
        return state.handle

    async def _closed(self, hole: HoleHandle, fill: str, outcome: StepOutcome) -> StepOutcome:
        """PROVED when `fill` discharged the hole's goal (proof level dropped, or theorem finished)."""
        if outcome.kind is OutcomeKind.PROVED:
            return outcome
        if outcome.kind is not OutcomeKind.GOALS or outcome.state is None:
            return outcome
        if await self._level(outcome.state) < hole.level:
            self._after[hole.fills + (fill,)] = outcome.state
            return StepOutcome.proved(outcome.elapsed_s, outcome.message)
        return StepOutcome.error("the step did not close the hole's goal", outcome.elapsed_s)

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        hole = self._hole(state)
        outcome = await self.session.step(GoalState(state.text, hole.pisa), tactic)
        return await self._closed(hole, tactic.strip(), outcome)

    async def hammer(self, state: GoalState, timeout_s: float) -> HammerFound:
        """Sledgehammer on the hole's goal; the proof it finds is what goes into the hole."""
        hole = self._hole(state)
        outcome, tactic = await self.session._sledgehammer(hole.pisa, "", timeout_s)
        if tactic is None:
            return HammerFound(None, outcome.message[:300], outcome.elapsed_s)
        closed = await self._closed(hole, tactic.strip(), outcome)
        if closed.kind is not OutcomeKind.PROVED:
            return HammerFound(None, f"Sledgehammer's {tactic!r} did not close the hole", outcome.elapsed_s)
        return HammerFound(tactic.strip(), f"sledgehammer: {tactic.strip()}", outcome.elapsed_s)

    async def close(self) -> None:
        await self.session.close()


class IsabelleSketchProver:
    """`autoformalize.protocols.SketchProver` for the PISA backend."""

    def __init__(self, prover: PisaProver) -> None:
        self.prover = prover

    async def open_sketch(self, theorem: Theorem, sketch: Sketch) -> IsabelleSketchSession:
        await self.prover.start()
        return IsabelleSketchSession(self.prover, await self.prover.open(theorem), sketch)

    async def verify_sketch(self, theorem: Theorem, body: str) -> Verification:
        return await self.prover.verify(theorem, Proof((body.strip(),)))


def sketch_prover(prover: PisaProver) -> IsabelleSketchProver:
    """The DSP capability of a PISA prover (what `llemma-prove autoformalize --mode dsp` uses)."""
    return IsabelleSketchProver(prover)
