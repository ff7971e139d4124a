"""Draft-Sketch-Prove on the Lean REPL: a sketch's `sorry` holes as proof states, the exact final check.

The whole sketch runs once as a command (`statement := by <sketch>`) on the header environment; the
REPL answers with one `sorries` entry per goal a `sorry` closes, each with its position, goal and
`proofState` (a `sorry` run on several goals, `all_goals sorry`, has one entry per goal at one
position). Each hole of the sketch is matched to the entries at its position (positions in the
command are shifted back to the sketch's own lines and columns) and keeps all of them, in order, so
holes are independent and the fills of earlier holes are not needed. Tactics then run on a hole's proof state in the same REPL process
(proof states belong to one process: the session keeps its worker, and a restarted process is
detected by its token). The assembled proof is checked by `LeanReplProver.verify_source`, the same
from-scratch check as `verify`, on the exact text (header + statement + ` by` + filled sketch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from ...autoformalize.holes import Sketch
from ...autoformalize.protocols import HoleGoal
from ...errors import ProverError
from ...types import GoalState, OutcomeKind, StepOutcome, Theorem, Verification
from .messages import CommandRequest, CommandResponse, ReplProtocolError, TacticRequest
from .outcomes import classify_tactic_response
from .prover import LeanReplProver, _first_problem
from .lexer import filter_text
from .render import declaration_name, source_prefix, statement_head
from .repl import LeanRepl, ReplCrashed, ReplTimeout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HoleHandle:
    """A REPL proof state of one process incarnation (`token`), reached from a sketch hole."""

    token: tuple[int, int]
    proof_state: int


def sketch_command(theorem: Theorem, body: str) -> tuple[str, int]:
    """The command that elaborates the sketch, and the offset where `body` starts in it."""
    head = statement_head(theorem.statement) + " by"
    return head + body, len(head)


def to_sketch_position(command: str, body_offset: int, line: int, column: int) -> tuple[int, int]:
    """A (1-based line, 0-based column) of the command as the same position in the sketch body."""
    before = command[:body_offset]
    body_line = before.count("\n") + 1
    body_column = body_offset - (before.rfind("\n") + 1)
    if line == body_line:
        return 1, column - body_column
    return line - body_line + 1, column


class LeanSketchSession:
    """One sketch on one REPL worker; implements `autoformalize.protocols.SketchSession`."""

    def __init__(self, prover: LeanReplProver, theorem: Theorem, sketch: Sketch) -> None:
        self.prover = prover
        self.theorem = theorem
        self.sketch = sketch
        self._pool = prover.pool
        self._worker = self._pool.assign()
        self._goals: dict[int, HoleGoal] | None = None

    async def hole_goal(self, index: int, fills: Sequence[str]) -> HoleGoal:
        if self._goals is None:
            self._goals = await self._pool.run(self._worker, self._elaborate)
        goal = self._goals.get(index)
        if goal is None:
            return HoleGoal(index, None, "Lean reported no proof state at this hole")
        return goal

    async def _elaborate(self, repl: LeanRepl) -> dict[int, HoleGoal]:
        theorem = self.theorem
        timeout = self.prover.options.check_timeout_s
        command, offset = sketch_command(theorem, self.sketch.text)

        def everywhere(message: str) -> dict[int, HoleGoal]:
            return {h.index: HoleGoal(h.index, None, message) for h in self.sketch.holes}

        refused = filter_text(self.sketch.text, declaration_name(theorem.statement), allow_sorry=True)
        if not refused.ok:  # a model's sketch passes the same text filter as every search step
            return everywhere("refused by the text filter: " + "; ".join(refused.reasons))

        try:
            env = await repl.env_for_header(theorem.header, timeout)
            if theorem.preamble.strip():
                pre = await repl.request(CommandRequest(theorem.preamble, env=env), timeout)
                if not isinstance(pre, CommandResponse) or pre.errors:
                    return everywhere(f"the preamble does not elaborate: {_first_problem(pre)}")
                env = pre.env
            response = await repl.request(CommandRequest(command, env=env), timeout)
        except ReplTimeout:
            return everywhere(f"the sketch ran past {timeout:g} s")
        except (ReplCrashed, ReplProtocolError) as exc:
            raise ProverError(f"Lean failed while elaborating the sketch of {theorem.name}: {exc}") from None
        if not isinstance(response, CommandResponse):
            return everywhere(f"the REPL refused the sketch: {_first_problem(response)}")
        if response.errors:
            first = response.errors[0]
            where = ""
            if first.pos is not None:
                line, column = to_sketch_position(command, offset, first.pos.line, first.pos.column)
                where = f" (sketch line {line}, column {column})" if line >= 1 else " (in the statement)"
            return everywhere(f"the sketch does not elaborate{where}: {_first_problem(response)}")
        # One `sorry` run on several goals (`all_goals sorry`, `any_goals sorry`, `t <;> sorry`) gets
        # one entry per goal, all with the same `pos`/`endPos`: leanprover-community/repl at 8fff855
        # (v4.24.0), `REPL/Lean/InfoTree.lean`: `findSorryTacticNodes` collects, with `findAllInfo`,
        # every `TacticInfo` node whose syntax is the `sorry` tactic and whose `goalsBefore` is not
        # empty, and the combinators elaborate the one `sorry` syntax once per goal, each a node of
        # its own; `InfoTree.sorries` keeps `goalsBefore.head!` of each, and `REPL/Main.lean`
        # `sorries` records a proof state per entry. The recorded `H20231115_2` transcript
        # (`induction' x with x hx` then `all_goals sorry`) shows the two entries at 3:12. So the
        # entries are grouped by hole, in Lean's order, and the hole keeps every goal.
        states: dict[int, list[GoalState]] = {}
        for entry in response.sorries:
            if entry.pos is None or entry.proof_state is None:
                continue
            line, column = to_sketch_position(command, offset, entry.pos.line, entry.pos.column)
            hole = self.sketch.hole_at(line, column)
            if hole is None:
                log.warning("%s: a sorry at %d:%d matches no hole of the sketch", theorem.name, line, column)
                continue
            states.setdefault(hole.index, []).append(GoalState(entry.goal, HoleHandle(repl.token, entry.proof_state)))
        return {index: HoleGoal(index, found[0], more=tuple(found[1:])) for index, found in states.items()}

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        handle = state.handle
        if not isinstance(handle, HoleHandle):
            raise ProverError(f"state {state.text[:60]!r} does not come from a Lean sketch session")
        timeout = self.prover.options.step_timeout_s
        refused = filter_text(tactic, declaration_name(self.theorem.statement))
        if not refused.ok:
            return StepOutcome.error("refused by the text filter: " + "; ".join(refused.reasons))

        async def job(repl: LeanRepl) -> StepOutcome:
            if repl.token != handle.token:
                return StepOutcome.error("the REPL process restarted and lost this sketch's proof states")
            try:
                response = await repl.request(TacticRequest(tactic, handle.proof_state), timeout)
            except ReplTimeout as exc:
                return StepOutcome.timeout(f"the tactic ran past {timeout:g} s", exc.elapsed_s)
            except (ReplCrashed, ReplProtocolError) as exc:
                return StepOutcome.error(str(exc))
            verdict = classify_tactic_response(response)
            if verdict.kind is OutcomeKind.GOALS:
                new = HoleHandle(repl.token, response.proof_state)  # type: ignore[union-attr]
                return StepOutcome.goals(GoalState(verdict.text, new))
            if verdict.kind is OutcomeKind.PROVED:
                return StepOutcome.proved(message=verdict.message)
            return StepOutcome.error(verdict.message)

        return await self._pool.run(self._worker, job)

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            self._pool.release(worker)


class LeanSketchProver:
    """`autoformalize.protocols.SketchProver` for the Lean REPL backend."""

    def __init__(self, prover: LeanReplProver) -> None:
        self.prover = prover

    async def open_sketch(self, theorem: Theorem, sketch: Sketch) -> LeanSketchSession:
        await self.prover.start()
        return LeanSketchSession(self.prover, theorem, sketch)

    async def verify_sketch(self, theorem: Theorem, body: str) -> Verification:
        source = source_prefix(theorem) + sketch_command(theorem, body)[0] + "\n"
        return await self.prover.verify_source(theorem, source)


def sketch_prover(prover: LeanReplProver) -> LeanSketchProver:
    """The DSP capability of a Lean REPL prover (what `llemma-prove autoformalize --mode dsp` uses)."""
    return LeanSketchProver(prover)
