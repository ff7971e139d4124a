"""Proving one target: replay the steps before the `sorry`, search from there, check the whole proof.

Everything goes through `search.prove_theorem`, so a proof is reported only after the prover's final
check accepted it from scratch; for a last-step target that check covers the replayed steps plus the
found ones, i.e. the whole proof as it will stand in the file.

A nested target (a `sorry` deeper in a Lean proof) is searched from a sketch instead: the declaration's
proof is opened once with that `sorry` as its only hole (`SketchProver.open_sketch`), best-first search
runs from the hole's goal, and the edit that replaces the `sorry` is spliced into the proof text, which
`SketchProver.verify_sketch` then checks from scratch, byte for byte as it will be written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from ..autoformalize.holes import parse_sketch
from ..autoformalize.protocols import SketchProver, SketchSession
from ..errors import ProposerError, ProverError
from ..interfaces import Proposer, Prover, ProverSession
from ..search import SearchResult, best_first_search, prove_theorem
from ..types import (
    Candidate,
    GoalState,
    OutcomeKind,
    Proof,
    ProposalRequest,
    SamplingParams,
    SearchStatus,
    StepOutcome,
    Theorem,
    Verdict,
    Verification,
)
from .backends import Backends, EditorConfig
from .targets import HoleKind, Target, TextEdit, proof_edit

log = logging.getLogger(__name__)

UNSUPPORTED = "unsupported"
PROVED = SearchStatus.PROVED.value

# (expansions so far, expansion budget)
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class TargetOutcome:
    """What happened to one target. `steps` and `edit` are set only for a checked proof."""

    target: Target
    status: str  # a SearchStatus value, or "unsupported"
    steps: tuple[str, ...] = ()
    edit: TextEdit | None = None
    elapsed_s: float = 0.0
    reason: str = ""
    expansions: int = 0
    checked_text: str = ""

    @property
    def proved(self) -> bool:
        return self.status == PROVED and self.edit is not None

    def to_json(self) -> dict[str, Any]:
        target = self.target
        return {
            "target": target.name,
            "line": target.line,
            "column": target.column + 1,
            "kind": target.kind.value,
            "status": self.status,
            "proof": self.edit.new_text if self.edit else None,
            "steps": list(self.steps),
            "time_s": round(self.elapsed_s, 3),
            "expansions": self.expansions,
            "reason": self.reason or None,
        }


class _ReplayedSession:
    """A session whose root is the state after the replayed steps."""

    def __init__(self, inner: ProverSession, root: GoalState) -> None:
        self.inner = inner
        self.theorem = inner.theorem
        self._root = root

    @property
    def parallelism(self) -> int:
        return int(getattr(self.inner, "parallelism", 1) or 1)

    async def initial_state(self) -> GoalState:
        return self._root

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        return await self.inner.step(state, tactic)

    async def close(self) -> None:
        await self.inner.close()


class ReplayingProver:
    """A prover whose sessions start after fixed steps: the tactics written before the `sorry`.

    `verify` and `render` see the whole proof (those steps, then the found ones), so the final check
    is the check of the complete proof. The wrapped prover is shared and is not closed here.
    """

    def __init__(self, inner: Prover, prefix: Sequence[str]) -> None:
        self.inner = inner
        self.prefix = tuple(prefix)
        self.name = getattr(inner, "name", "prover")

    async def start(self) -> None:
        await self.inner.start()

    async def open(self, theorem: Theorem) -> ProverSession:
        session = await self.inner.open(theorem)
        try:
            state = await session.initial_state()
            for k, step in enumerate(self.prefix, start=1):
                outcome = await session.step(state, step)
                where = f"step {k} of {len(self.prefix)} before the sorry ({_short(step)})"
                if outcome.kind is OutcomeKind.GOALS and outcome.state is not None:
                    state = outcome.state
                elif outcome.kind is OutcomeKind.PROVED:
                    raise ProverError(f"{where} already finishes the proof; the sorry is not needed")
                elif outcome.kind is OutcomeKind.TIMEOUT:
                    raise ProverError(f"{where} timed out when replayed")
                else:
                    raise ProverError(f"{where} fails when replayed: {outcome.message.strip()[:300]}")
        except BaseException:
            await session.close()
            raise
        return _ReplayedSession(session, state)

    def whole(self, proof: Proof) -> Proof:
        return Proof(self.prefix + tuple(proof.tactics))

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        """The check of the whole proof. Steps the check reports as accepted (`details["tactics"]`,
        hammer calls replaced by what they found) are given back relative to the replayed root, like
        the search's proof; the whole list stays in `details["whole_tactics"]`."""
        verification = await self.inner.verify(theorem, self.whole(proof))
        steps = verification.details.get("tactics")
        if isinstance(steps, list) and len(steps) >= len(self.prefix):
            details = dict(verification.details, whole_tactics=list(steps), tactics=list(steps[len(self.prefix):]))
            verification = replace(verification, details=details)
        return verification

    def render(self, theorem: Theorem, proof: Proof) -> str:
        return self.inner.render(theorem, self.whole(proof))

    async def close(self) -> None:
        """Nothing to do: the wrapped prover belongs to the backends."""


def _short(step: str) -> str:
    lines = step.strip().splitlines() or [""]
    more = "..." if len(lines[0]) > 60 or len(lines) > 1 else ""
    return f"`{lines[0][:60]}{more}`"


class CountingProposer:
    """Passes requests through and reports each expansion (one request is one expansion)."""

    def __init__(self, inner: Proposer, callback: ProgressCallback, budget: int) -> None:
        self.inner = inner
        self.callback = callback
        self.budget = budget
        self.count = 0

    async def propose(self, requests: Sequence[ProposalRequest], params: SamplingParams) -> list[list[Candidate]]:
        self.count += len(requests)
        try:
            self.callback(self.count, self.budget)
        except Exception:  # a progress display must never break a search
            log.exception("progress callback failed")
        return await self.inner.propose(requests, params)


def describe_failure(result: SearchResult, config: EditorConfig) -> str:
    status = result.status
    if status is SearchStatus.REJECTED:
        reason = result.verification.reason if result.verification else ""
        return f"a proof was found but the final check refused it: {reason or 'no reason given'}"
    if status is SearchStatus.BUDGET:
        return f"no proof within {config.expansions} expansions"
    if status is SearchStatus.TIMEOUT:
        return f"no proof within the time limit ({config.time_limit_s:g} s)"
    if status is SearchStatus.EXHAUSTED:
        return f"the search ran out of candidates after {result.expansions} expansions"
    return result.error or status.value


def _found_steps(result: SearchResult) -> tuple[str, ...]:
    """The steps to write: the ones the final check accepted when it lists them (the Isabelle check
    replaces each hammer call by the tactic it found), else the search's own."""
    assert result.proof is not None
    found = tuple(result.proof.tactics)
    checked = result.verification.details.get("tactics") if result.verification else None
    if isinstance(checked, list) and len(checked) == len(found) and all(isinstance(s, str) for s in checked):
        return tuple(checked)
    return found


async def prove_target(
    target: Target,
    backends: Backends,
    config: EditorConfig,
    progress: ProgressCallback | None = None,
) -> TargetOutcome:
    """Search for a proof of one target; the outcome carries the edit only if the final check accepted."""
    started = time.monotonic()
    if not target.supported or target.theorem is None:
        return TargetOutcome(target, UNSUPPORTED, reason=target.reason)
    theorem = target.theorem
    if target.kind is HoleKind.NESTED:
        return await prove_nested(target, backends, config, progress)
    prover: Prover = await backends.prover(theorem)
    proposer: Proposer = await backends.proposer(theorem.language)
    if target.prefix:
        prover = ReplayingProver(prover, target.prefix)
    search = config.search_config()
    if progress is not None:
        proposer = CountingProposer(proposer, progress, search.max_expansions)
    log.info("searching %s (%s)", target.label, target.kind.value)
    result = await prove_theorem(theorem, prover, proposer, search)
    elapsed = time.monotonic() - started
    checked = result.verification.checked_text if result.verification else ""
    if not result.proved or result.proof is None:
        return TargetOutcome(target, result.status.value, elapsed_s=elapsed,
                             reason=describe_failure(result, config), expansions=result.expansions,
                             checked_text=checked)
    steps = _found_steps(result)
    edit = proof_edit(target, steps)
    return TargetOutcome(target, PROVED, steps, edit, elapsed, "", result.expansions, checked)


# ============================================================================================ nested


class _HoleSession:
    """A sketch session seen as a ProverSession whose root is the hole's goal (for best-first search).
    The sketch session belongs to `prove_nested`, which closes it."""

    def __init__(self, session: SketchSession, theorem: Theorem, state: GoalState) -> None:
        self.session = session
        self.theorem = theorem
        self._root = state

    async def initial_state(self) -> GoalState:
        return self._root

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        return await self.session.step(state, tactic)

    async def close(self) -> None:
        return None


async def sketcher_for(backends: Backends, theorem: Theorem) -> SketchProver | None:
    """The sketch capability for `theorem`: the backends' own `sketcher(theorem)` if they have one, the
    prover itself if it implements `SketchProver`, the Lean REPL adapter for a `LeanReplProver`."""
    own = getattr(backends, "sketcher", None)
    if own is not None:
        return await own(theorem)
    prover = await backends.prover(theorem)
    if isinstance(prover, SketchProver):
        return prover
    try:
        from ..provers.lean import LeanReplProver
        from ..provers.lean.sketch import sketch_prover
    except ImportError:  # pragma: no cover - the Lean backend is part of the package
        return None
    if isinstance(prover, LeanReplProver):
        return sketch_prover(prover)
    return None


def _nested_result(target: Target, status: str, started: float, reason: str, expansions: int = 0,
                   checked: str = "") -> TargetOutcome:
    return TargetOutcome(target, status, elapsed_s=time.monotonic() - started, reason=reason,
                         expansions=expansions, checked_text=checked)


async def prove_nested(
    target: Target,
    backends: Backends,
    config: EditorConfig,
    progress: ProgressCallback | None = None,
) -> TargetOutcome:
    """Search a nested `sorry` from its sketch hole; the edit is kept only if `verify_sketch` accepts
    the declaration with exactly that edit in place."""
    started = time.monotonic()
    theorem = target.theorem
    assert theorem is not None
    sketcher = await sketcher_for(backends, theorem)
    if sketcher is None:
        return _nested_result(target, UNSUPPORTED, started,
                              "the prover cannot open a proof sketch, which a nested sorry needs")
    sketch = parse_sketch(target.sketch_body, theorem.language)
    hole_start, hole_end = target.sketch_hole
    hole = next((h for h in sketch.holes if h.start == hole_start and h.end == hole_end), None)
    if hole is None or len(sketch.holes) != 1:
        return _nested_result(target, UNSUPPORTED, started,
                              f"the proof around this sorry has {len(sketch.holes)} sorrys; exactly one was expected")
    proposer: Proposer = await backends.proposer(theorem.language)
    search = config.search_config()
    if progress is not None:
        proposer = CountingProposer(proposer, progress, search.max_expansions)
    log.info("searching %s (%s) from its sketch hole", target.label, target.kind.value)
    try:
        session = await sketcher.open_sketch(theorem, sketch)
    except ProverError as exc:
        return _nested_result(target, SearchStatus.ERROR.value, started, f"could not open the proof as a sketch: {exc}")
    try:
        goal = await session.hole_goal(hole.index, ())
        if not goal.ok or goal.state is None:
            return _nested_result(target, SearchStatus.ERROR.value, started,
                                  f"the proof around the sorry does not check: {goal.error}")
        root: ProverSession = _HoleSession(session, theorem, goal.state)  # type: ignore[assignment]
        result = await best_first_search(theorem, root, proposer, search)
    except (ProverError, ProposerError) as exc:
        return _nested_result(target, SearchStatus.ERROR.value, started, f"the search failed: {exc}")
    finally:
        try:
            await session.close()
        except ProverError as exc:
            log.warning("closing the sketch session of %s failed: %s", theorem.name, exc)
    if result.proof is None:
        return _nested_result(target, result.status.value, started, describe_failure(result, config),
                              result.expansions)
    steps = tuple(result.proof.tactics)
    edit = proof_edit(target, steps)
    assert (edit.start, edit.end) == (target.start, target.end)  # NESTED edits replace just the `sorry`
    body = target.sketch_body[:hole_start] + edit.new_text + target.sketch_body[hole_end:]
    if parse_sketch(body, theorem.language).holes:  # a found "tactic" that is itself a sorry
        return _nested_result(target, SearchStatus.REJECTED.value, started,
                              "a proof was found but the final check refused it: it still contains a sorry",
                              result.expansions)
    try:
        verification = await sketcher.verify_sketch(theorem, body)
    except ProverError as exc:
        verification = Verification(Verdict.UNCHECKED, f"final check could not run: {exc}")
    checked = verification.checked_text
    if not verification.accepted:
        log.warning("proof of %s found by the search was not accepted: %s", target.label, verification.reason)
        return _nested_result(target, SearchStatus.REJECTED.value, started,
                              f"a proof was found but the final check refused it: "
                              f"{verification.reason or verification.verdict.value}", result.expansions, checked)
    return TargetOutcome(target, PROVED, steps, edit, time.monotonic() - started, "", result.expansions, checked)
