"""Proving one target: replay the steps before the `sorry`, search from there, check the whole proof.

Everything goes through `search.prove_theorem`, so a proof is reported only after the prover's final
check accepted it from scratch; for a last-step target that check covers the replayed steps plus the
found ones, i.e. the whole proof as it will stand in the file.

A nested target (a `sorry` deeper in a Lean proof) is searched from a sketch instead: the declaration's
proof is opened once with its `sorry`s as holes (`SketchProver.open_sketch`; on the Lean REPL the
goals are the REPL's own `sorries`, matched by position), best-first search runs from each hole's
goal in order, and the edits that replace the `sorry`s are spliced into the proof text, which
`SketchProver.verify_sketch` then checks from scratch, byte for byte as it will be written
(`prove_declaration`; found pieces of a declaration not fully proved are PARTIAL, after the weaker
`check_partial`).

Also here: `recheck` (the final check again, for a proof found in an earlier version of the text),
`suggest_steps` (the model's next steps at a target's goal that the prover accepts) and
`best_partial_path` (how far a failed search got).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from ..autoformalize.holes import every_goal_steps, parse_sketch
from ..autoformalize.protocols import HoleGoal, SketchProver, SketchSession, proof_found_before
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
from .errors import UnsupportedTarget
from .targets import HoleKind, Target, TextEdit, proof_edit

log = logging.getLogger(__name__)

UNSUPPORTED = "unsupported"
PROVED = SearchStatus.PROVED.value
# Found for one sorry of a declaration whose other sorrys were not all found: the piece elaborates
# with the others left in place, but the declaration has not passed the final check (`--partial`).
PARTIAL = "partial"

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
    best_path: "Suggestion | None" = None  # a failed search: the furthest it got (steps Lean accepted)
    # The target as it stands in the file that was read (before earlier proofs of the same run moved
    # it): line numbers are reported from it. None: `target` itself.
    origin: Target | None = None

    @property
    def proved(self) -> bool:
        return self.status == PROVED and self.edit is not None

    @property
    def partial(self) -> bool:
        return self.status == PARTIAL and self.edit is not None

    @property
    def line(self) -> int:
        return (self.origin or self.target).line

    @property
    def column(self) -> int:
        return (self.origin or self.target).column

    @property
    def label(self) -> str:
        return (self.origin or self.target).label

    def to_json(self) -> dict[str, Any]:
        target = self.target
        return {
            "target": target.name,
            "line": self.line,
            "column": self.column + 1,
            "kind": target.kind.value,
            "status": self.status,
            "proof": self.edit.new_text if self.edit else None,
            "steps": list(self.steps),
            "time_s": round(self.elapsed_s, 3),
            "expansions": self.expansions,
            "reason": self.reason or None,
            **({"best_path": self.best_path.to_json()} if self.best_path is not None else {}),
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
        if target.holes > 1:
            raise ValueError("a sorry with siblings in its declaration is proved with prove_declaration")
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
                             checked_text=checked, best_path=best_partial_path(result))
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


@dataclass(frozen=True)
class HoleSearch:
    """The search of one hole over every goal Lean runs it on: `steps` (what replaces the `sorry`,
    the same text for each goal) only when every goal was closed."""

    steps: tuple[str, ...] | None
    status: str
    reason: str = ""
    expansions: int = 0
    best_path: "Suggestion | None" = None


async def search_hole(session: SketchSession, theorem: Theorem, goal: HoleGoal, proposer: Proposer,
                      config: EditorConfig) -> HoleSearch:
    """Close every goal Lean reports at one hole (one `sorry` run on several goals, `all_goals sorry`,
    has one per goal), in Lean's order, each from its own proof state. A proof found for one goal is
    tried on each later goal before that goal is searched; the replacement is that proof when one
    closes them all, else `first | (focus P1; done) | ...` over the distinct proofs (the same text runs
    on every goal). Any goal left unproved leaves the hole unfilled. Only the final check of the
    whole text makes the replacement count."""
    states = goal.states
    search = config.search_config()
    proofs: list[tuple[str, ...]] = []
    spent = 0
    for k, state in enumerate(states):
        reused, _ = await proof_found_before(session, state, proofs)
        if reused is not None:
            proofs.append(reused)
            continue
        root: ProverSession = _HoleSession(session, theorem, state)  # type: ignore[assignment]
        result = await best_first_search(theorem, root, proposer, search)
        spent += result.expansions
        if result.proof is None:
            reason = describe_failure(result, config)
            if len(states) > 1:
                # Partly proved: the one replacement runs on every goal, so the sorry stays.
                label = _short((state.text.strip().splitlines() or [""])[0])
                which = "goal 1 was" if k == 1 else f"goals 1-{k} were"
                by = ", ".join(_short(p[0]) for p in dict.fromkeys(proofs))
                proved = (f"; {which} proved (by {by}), but the sorry is replaced only when every goal is"
                          if k else "")
                reason = f"this sorry runs on {len(states)} goals; goal {k + 1} ({label}): {reason}{proved}"
            return HoleSearch(None, result.status.value, reason, spent, best_partial_path(result))
        proofs.append(tuple(result.proof.tactics))
    steps = every_goal_steps(proofs)
    if len(states) > 1:
        log.info("%s: one sorry on %d goals closed by %d distinct proof(s)", theorem.name, len(states),
                 len(set(proofs)))
    return HoleSearch(steps, PROVED, "", spent)


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
        result = await search_hole(session, theorem, goal, proposer, config)
    except (ProverError, ProposerError) as exc:
        return _nested_result(target, SearchStatus.ERROR.value, started, f"the search failed: {exc}")
    finally:
        try:
            await session.close()
        except ProverError as exc:
            log.warning("closing the sketch session of %s failed: %s", theorem.name, exc)
    if result.steps is None:
        return replace(_nested_result(target, result.status, started, result.reason, result.expansions),
                       best_path=result.best_path)
    steps = result.steps
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


# ============================================================================================ recheck


async def recheck(target: Target, steps: Sequence[str], backends: Backends) -> TargetOutcome:
    """The final check, again, of `steps` (a proof found for this target in an earlier version of the
    text) at `target` as it stands now: the same check a search ends with, on the current context.
    The outcome carries the edit only if it passes."""
    started = time.monotonic()
    if not target.supported or target.theorem is None:
        return TargetOutcome(target, UNSUPPORTED, reason=target.reason)
    theorem = target.theorem
    clean = tuple(s for s in steps if s.strip())
    if not clean:
        return _nested_result(target, SearchStatus.REJECTED.value, started, "no steps to check")
    edit = proof_edit(target, clean)
    try:
        if target.kind is HoleKind.NESTED:
            sketcher = await sketcher_for(backends, theorem)
            if sketcher is None:
                return _nested_result(target, UNSUPPORTED, started,
                                      "the prover cannot check a proof inside a sketch, which a nested sorry needs")
            hole_start, hole_end = target.sketch_hole
            body = target.sketch_body[:hole_start] + edit.new_text + target.sketch_body[hole_end:]
            if parse_sketch(body, theorem.language).holes:
                return _nested_result(target, SearchStatus.REJECTED.value, started, "the proof still contains a sorry")
            verification = await sketcher.verify_sketch(theorem, body)
        else:
            prover: Prover = await backends.prover(theorem)
            if target.prefix:
                prover = ReplayingProver(prover, target.prefix)
            verification = await prover.verify(theorem, Proof(clean))
    except ProverError as exc:
        verification = Verification(Verdict.UNCHECKED, f"final check could not run: {exc}")
    if not verification.accepted:
        return _nested_result(target, SearchStatus.REJECTED.value, started,
                              f"the final check refused the proof in the current text: "
                              f"{verification.reason or verification.verdict.value}", 0, verification.checked_text)
    return TargetOutcome(target, PROVED, clean, edit, time.monotonic() - started, "", 0, verification.checked_text)


_STILL_SORRY = "it still contains a sorry"


async def _verify_filled(sketcher: SketchProver, theorem: Theorem, body: str) -> Verification:
    """The final check of a declaration's proof text with its holes filled (`body`, byte for byte as
    it will be written); a text that still holds a `sorry` is refused before the prover is asked."""
    if parse_sketch(body, theorem.language).holes:
        return Verification(Verdict.REJECTED, _STILL_SORRY)
    try:
        return await sketcher.verify_sketch(theorem, body)
    except ProverError as exc:
        return Verification(Verdict.UNCHECKED, f"final check could not run: {exc}")


async def recheck_declaration(targets: Sequence[Target], steps: Sequence[Sequence[str]],
                              backends: Backends, *, remaining: int = 0) -> list[TargetOutcome]:
    """`recheck` for proofs of every `sorry` of one declaration (found in an earlier version of the
    text): each piece put at its target as the declaration stands now, and one final check of the whole
    declaration with all of them in place. Each outcome carries its edit only if that check passes.

    `remaining`: the pieces are a partial result, and that many other `sorry`s of the declaration stay
    (they must still be there, as `sorry`s). Then the check is the one `--partial` writes with
    (`check_partial`, weaker than the final check: the declaration is not proved) and the outcomes
    are PARTIAL."""
    started = time.monotonic()
    if len(targets) != len(steps) or not targets:
        raise ValueError("one list of steps per target")
    first = targets[0]
    theorem = first.theorem

    def every(status: str, reason: str, checked: str = "") -> list[TargetOutcome]:
        return [_nested_result(t, status, started, reason, 0, checked) for t in targets]

    if theorem is None or any(t.kind is not HoleKind.NESTED or t.sketch_body != first.sketch_body for t in targets):
        return every(UNSUPPORTED, "its sorrys are no longer searchable sorrys of one declaration: "
                     + next((t.reason for t in targets if t.reason), "the declaration changed"))
    sketcher = await sketcher_for(backends, theorem)
    if sketcher is None:
        return every(UNSUPPORTED, "the prover cannot check a proof inside a sketch, which a nested sorry needs")
    sketch = parse_sketch(first.sketch_body, theorem.language)
    holes = {(h.start, h.end): h for h in sketch.holes}
    if len(sketch.holes) != len(targets) + remaining or any(t.sketch_hole not in holes for t in targets):
        left = f" and {remaining} left open" if remaining else ""
        return every(SearchStatus.REJECTED.value, f"the declaration now has {len(sketch.holes)} sorrys and the proofs "
                                                  f"are for {len(targets)}{left}")
    clean = [tuple(s for s in st if s.strip()) for st in steps]
    if not all(clean):
        return every(SearchStatus.REJECTED.value, "no steps to check")
    edits = [proof_edit(t, st) for t, st in zip(targets, clean)]
    body = sketch.fill({holes[t.sketch_hole].index: e.new_text for t, e in zip(targets, edits)})
    if remaining:
        ok, why = await check_partial(sketcher, theorem, body, remaining)
        if not ok:
            return every(SearchStatus.REJECTED.value,
                         f"the declaration does not elaborate with the pieces in the current text: {why}")
        elapsed = time.monotonic() - started
        return [TargetOutcome(t, PARTIAL, st, e, elapsed, f"{remaining} other sorry(s) of the declaration stay; it "
                              "elaborates with them left in place") for t, st, e in zip(targets, clean, edits)]
    verification = await _verify_filled(sketcher, theorem, body)
    if not verification.accepted:
        return every(SearchStatus.REJECTED.value, f"the final check refused the proofs in the current text: "
                     f"{verification.reason or verification.verdict.value}", verification.checked_text)
    elapsed = time.monotonic() - started
    return [TargetOutcome(t, PROVED, st, e, elapsed, "", 0, verification.checked_text)
            for t, st, e in zip(targets, clean, edits)]


# ============================================================================================ declarations


async def prove_declaration(
    targets: Sequence[Target],
    backends: Backends,
    config: EditorConfig,
    progress: ProgressCallback | None = None,
) -> list[TargetOutcome]:
    """All the sorrys of one declaration (its NESTED targets, which share one sketch), searched in
    order, each from the goal Lean reports at it; accepted together only when the final check of the
    whole declaration, with every found piece in place, passes. When only some are found, each found
    piece is kept as PARTIAL if the declaration with just those pieces filled still elaborates (the
    other sorrys left in place): `--partial` writes those."""
    started = time.monotonic()
    targets = sorted(targets, key=lambda t: t.start)
    first = targets[0]
    theorem = first.theorem
    if theorem is None or any(t.kind is not HoleKind.NESTED or t.sketch_body != first.sketch_body for t in targets):
        raise ValueError("prove_declaration takes the NESTED targets of one declaration")

    def every(status: str, reason: str) -> list[TargetOutcome]:
        return [_nested_result(t, status, started, reason) for t in targets]

    sketcher = await sketcher_for(backends, theorem)
    if sketcher is None:
        return every(UNSUPPORTED, "the prover cannot open a proof sketch, which a nested sorry needs")
    sketch = parse_sketch(first.sketch_body, theorem.language)
    holes = {(h.start, h.end): h for h in sketch.holes}
    if len(sketch.holes) != len(targets) or any(t.sketch_hole not in holes for t in targets):
        return every(UNSUPPORTED, f"the proof has {len(sketch.holes)} sorrys and {len(targets)} were located; "
                                  "they must be searched together")
    proposer: Proposer = await backends.proposer(theorem.language)
    search = config.search_config()
    if progress is not None:
        proposer = CountingProposer(proposer, progress, search.max_expansions * len(targets))
    found: dict[int, tuple[str, ...]] = {}  # hole index -> steps
    failures: dict[int, tuple[str, str, int]] = {}  # hole index -> status, reason, expansions
    expansions: dict[int, int] = {}
    try:
        session = await sketcher.open_sketch(theorem, sketch)
    except ProverError as exc:
        return every(SearchStatus.ERROR.value, f"could not open the proof as a sketch: {exc}")
    try:
        for target in targets:
            hole = holes[target.sketch_hole]
            fills = [proof_edit(t, found[holes[t.sketch_hole].index]).new_text for t in targets
                     if holes[t.sketch_hole].index < hole.index and holes[t.sketch_hole].index in found]
            log.info("searching %s (%d of %d sorrys of %s)", target.label, hole.index + 1, len(targets), theorem.name)
            try:
                goal = await session.hole_goal(hole.index, fills)
                if not goal.ok or goal.state is None:
                    failures[hole.index] = (SearchStatus.ERROR.value,
                                            f"the proof around the sorry does not check: {goal.error}", 0)
                    continue
                result = await search_hole(session, theorem, goal, proposer, config)
            except (ProverError, ProposerError) as exc:
                failures[hole.index] = (SearchStatus.ERROR.value, f"the search failed: {exc}", 0)
                continue
            expansions[hole.index] = result.expansions
            if result.steps is None:
                failures[hole.index] = (result.status, result.reason, result.expansions)
            else:
                found[hole.index] = result.steps
    finally:
        try:
            await session.close()
        except ProverError as exc:
            log.warning("closing the sketch session of %s failed: %s", theorem.name, exc)
    edits = {holes[t.sketch_hole].index: proof_edit(t, found[holes[t.sketch_hole].index]) for t in targets
             if holes[t.sketch_hole].index in found}
    body = sketch.fill({index: edit.new_text for index, edit in edits.items()})
    if len(found) == len(targets):
        verification = await _verify_filled(sketcher, theorem, body)
        if not verification.accepted and verification.reason == _STILL_SORRY:
            return every(SearchStatus.REJECTED.value, f"a proof was found but the final check refused it: {_STILL_SORRY}")
        if not verification.accepted:
            reason = (f"proofs were found for all {len(targets)} sorrys but the final check of the declaration "
                      f"refused them: {verification.reason or verification.verdict.value}")
            return [_nested_result(t, SearchStatus.REJECTED.value, started, reason,
                                   expansions.get(holes[t.sketch_hole].index, 0), verification.checked_text)
                    for t in targets]
        elapsed = time.monotonic() - started
        return [TargetOutcome(t, PROVED, found[holes[t.sketch_hole].index], edits[holes[t.sketch_hole].index],
                              elapsed, "", expansions.get(holes[t.sketch_hole].index, 0), verification.checked_text)
                for t in targets]
    partial_ok, partial_reason = False, ""
    if found:
        partial_ok, partial_reason = await check_partial(sketcher, theorem, body, len(targets) - len(found))
    out = []
    missing = ", ".join(str(t.line) for t in targets if holes[t.sketch_hole].index not in found)
    for t in targets:
        index = holes[t.sketch_hole].index
        if index in failures:
            status, reason, spent = failures[index]
            out.append(_nested_result(t, status, started, reason, spent))
        elif partial_ok:
            out.append(TargetOutcome(t, PARTIAL, found[index], edits[index], time.monotonic() - started,
                                     f"found, but the declaration still has a sorry the search did not close "
                                     f"(line {missing}); it elaborates with that sorry left in place",
                                     expansions.get(index, 0)))
        else:
            out.append(_nested_result(t, SearchStatus.REJECTED.value, started,
                                      f"found, but the declaration does not elaborate with it: {partial_reason}",
                                      expansions.get(index, 0)))
    return out


async def check_partial(sketcher: SketchProver, theorem: Theorem, body: str, remaining: int) -> tuple[bool, str]:
    """The check a partial write gets (`prove --write --partial`, and the language server's quick fix
    for a partial result): the declaration with the found pieces filled (`body`) must hold exactly the
    `remaining` sorrys the search did not close (a piece that brings its own `sorry` is refused), and
    Lean must elaborate it with those left in place. Weaker than the final check: the declaration
    still uses `sorry`, so it is not proved, and no from-scratch check of the whole proof runs."""
    left = len(parse_sketch(body, theorem.language).holes)
    if left != remaining:
        return False, f"it would keep {left} sorrys where {remaining} were left open"
    return await _elaborates(sketcher, theorem, body)


async def _elaborates(sketcher: SketchProver, theorem: Theorem, body: str) -> tuple[bool, str]:
    """Does the declaration with some sorrys filled still elaborate (the rest left as sorrys)? Lean's
    own answer: the filled text opened as a sketch, its first remaining hole must get a goal."""
    partial = parse_sketch(body, theorem.language)
    if not partial.holes:
        return False, "no sorry left"
    try:
        session = await sketcher.open_sketch(theorem, partial)
    except ProverError as exc:
        return False, str(exc)
    try:
        goal = await session.hole_goal(partial.holes[0].index, ())
        return goal.ok, goal.error
    except ProverError as exc:
        return False, str(exc)
    finally:
        try:
            await session.close()
        except ProverError:
            pass


# ============================================================================================ suggestions


@dataclass(frozen=True)
class Suggestion:
    """Steps Lean accepted at a target's goal, and the goals they leave ("" when they close it)."""

    steps: tuple[str, ...]
    goals: str
    score: float = 0.0

    @property
    def closes(self) -> bool:
        return not self.goals

    def to_json(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "goals": self.goals, "closes_goal": self.closes,
                "score": round(self.score, 4)}


def best_partial_path(result: SearchResult) -> Suggestion | None:
    """The deepest state a failed search reached (the cheapest among the deepest), as the steps from
    the root that reach it and the goals left there; None when it got no further than the root."""
    graph = result.graph
    root = graph.graph.get("root") if graph is not None else None
    if root is None:
        return None
    best, best_key = None, None
    for node, data in graph.nodes(data=True):
        if data.get("kind") != "state" or node == root:
            continue
        key = (data.get("depth", 0), -float(data.get("cost", 0.0)))
        if best_key is None or key > best_key:
            best, best_key = node, key
    if best is None:
        return None
    import networkx as nx

    try:
        path = nx.shortest_path(graph, root, best)
    except nx.NetworkXNoPath:
        return None
    steps = tuple(graph.edges[u, v]["tactic"] for u, v in zip(path, path[1:]))
    return Suggestion(steps, graph.nodes[best].get("text", ""), -float(graph.nodes[best].get("cost", 0.0)))


async def suggest_steps(target: Target, backends: Backends, config: EditorConfig, count: int = 5) -> list[Suggestion]:
    """The model's top next steps at the target's goal (the goal Lean reports at that `sorry`), each
    run by the prover: only the ones it accepts are returned, best score first, with the goals they
    leave. Raises `ProverError` when the goal cannot be reached (the proof around it does not check)."""
    theorem = target.theorem
    if not target.supported or theorem is None:
        raise UnsupportedTarget(f"{target.label}: {target.reason}")
    session: Any
    if target.kind is HoleKind.NESTED:
        sketcher = await sketcher_for(backends, theorem)
        if sketcher is None:
            raise ProverError("the prover cannot open a proof sketch, which a nested sorry needs")
        sketch = parse_sketch(target.sketch_body, theorem.language)
        hole = next((h for h in sketch.holes if (h.start, h.end) == target.sketch_hole), None)
        if hole is None:
            raise ProverError("the sorry is not a hole of its proof sketch")
        session = await sketcher.open_sketch(theorem, sketch)
        try:
            goal = await session.hole_goal(hole.index, ())
        except BaseException:
            await session.close()
            raise
        if not goal.ok or goal.state is None:
            await session.close()
            raise ProverError(f"the proof around the sorry does not check: {goal.error}")
        state = goal.state
    else:
        prover: Prover = await backends.prover(theorem)
        if target.prefix:
            prover = ReplayingProver(prover, target.prefix)
        session = await prover.open(theorem)
        try:
            state = await session.initial_state()
        except BaseException:
            await session.close()
            raise
    try:
        proposer: Proposer = await backends.proposer(theorem.language)
        params = config.search_config().sampling
        (candidates,) = await proposer.propose([ProposalRequest(theorem, state)], params)
        seen: set[str] = set()
        out: list[Suggestion] = []
        for cand in sorted(candidates, key=lambda c: c.score, reverse=True):
            tactic = cand.tactic.strip()
            if not tactic or tactic in seen or "sorry" in tactic.split() or "admit" in tactic.split():
                continue
            seen.add(tactic)
            outcome = await session.step(state, tactic)
            if outcome.kind is OutcomeKind.PROVED:
                out.append(Suggestion((tactic,), "", cand.score))
            elif outcome.kind is OutcomeKind.GOALS and outcome.state is not None:
                out.append(Suggestion((tactic,), outcome.state.text, cand.score))
            if len(out) >= count:
                break
        return out
    finally:
        await session.close()
