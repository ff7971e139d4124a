"""Checking the candidates of one expansion concurrently (improved mode; the paper checks one by one).

A single theorem (the editor's case) otherwise leaves all Lean workers but one idle. Here up to
`width` candidates run at once over the prover's workers, a new one starting as each finishes; the
first proof found ends the search and the checks still running are cancelled. Outcomes other than a
proof are recorded in candidate order once all are in, so the graph and the queue come out as they
would with one check after another (only which proof is found first can differ).

While the checks run, the next expansion's generation may start early: when no candidate, whatever
its outcome, could queue a state that would come before the queue's current best node (a child's
priority is known from its candidate's score before the check), that node is certainly the next one
popped unless the search ends, so asking the model for it now changes nothing but the time.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any, Sequence

from ..types import Candidate, OutcomeKind, Proof, ProposalRequest, SearchStatus, StepOutcome
from .config import Priority

if TYPE_CHECKING:
    from .best_first import BestFirstSearch, _Node
    from .result import SearchResult


def check_width(search: "BestFirstSearch") -> int:
    """How many candidates to check at once (1 means the paper's one after another)."""
    width = search.config.parallel_checks
    if width == 0:
        width = int(getattr(search.session, "parallelism", 1) or 1)
    return max(1, width)


def _child_key(search: "BestFirstSearch", parent: "_Node", cand: Candidate) -> tuple[float, list[str]]:
    cost = parent.cost - cand.score
    depth = parent.depth + 1
    priority = cost / depth if search.config.priority is Priority.DEPTH_NORMALISED else cost
    return priority, list(parent.steps) + [cand.tactic]


def _prefetch_next(search: "BestFirstSearch", node: "_Node", candidates: Sequence[Candidate]) -> None:
    """Start generating for the queue's best node if it is certainly the next one popped."""
    if not search._queue or search.expansions >= search.config.max_expansions:
        return
    best_priority, best_steps, _, best = search._queue[0]
    if best.id in search.prefetched:
        return
    if any(_child_key(search, node, c) <= (best_priority, best_steps) for c in candidates):
        return
    request = ProposalRequest(search.theorem, best.state, best.steps)
    task = asyncio.ensure_future(search.proposer.propose([request], search.config.sampling))
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved even if never awaited
    search.prefetched[best.id] = task


async def take_prefetched(search: "BestFirstSearch", node: "_Node") -> Any:
    """The candidates generated early for `node`, or None when there was no early generation."""
    task = search.prefetched.pop(node.id, None)
    if task is None:
        return None
    (raw,) = await task
    return raw


def drop_prefetched(search: "BestFirstSearch") -> None:
    """Forget generations started early for nodes never reached. They are left to finish rather than
    cancelled: a model call running in a worker thread cannot be stopped, and cancelling its caller
    would release the model's lock while the thread still uses the model."""
    search.prefetched.clear()


async def check_concurrently(
    search: "BestFirstSearch", node: "_Node", candidates: Sequence[Candidate], width: int
) -> "SearchResult | None":
    """Check `candidates` on `node`, `width` at a time. Returns the search's result if it ends here
    (a proof, or the time limit), else None after recording every outcome."""
    if not candidates:
        return None
    if search._out_of_time():
        return search._timeout()

    async def check(index: int) -> tuple[int, StepOutcome, float]:
        t0 = search.clock()
        outcome = await search.session.step(node.state, candidates[index].tactic)
        return index, outcome, search.clock() - t0

    outcomes: dict[int, tuple[StepOutcome, float]] = {}
    running: set[asyncio.Task] = set()
    upcoming = iter(range(len(candidates)))
    started = search.clock()
    try:
        for index in itertools.islice(upcoming, width):
            running.add(asyncio.ensure_future(check(index)))
        _prefetch_next(search, node, candidates)  # after the checks, so they reach the prover first
        while running:
            remaining = search.config.time_limit_s - search._elapsed_counted()
            if remaining <= 0:
                return search._timeout()
            done, running = await asyncio.wait(running, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                index, outcome, elapsed = task.result()  # a ProverError ends the search, as in the loop
                search.steps += 1
                if outcome.kind is OutcomeKind.PROVED:
                    cand = candidates[index]
                    search._record_leaf(node, cand, outcome.kind, outcome.message, elapsed)
                    return search._result(SearchStatus.PROVED, Proof(node.steps + (cand.tactic,)))
                outcomes[index] = (outcome, elapsed)
                nxt = next(upcoming, None)
                if nxt is not None and not search._out_of_time():
                    running.add(asyncio.ensure_future(check(nxt)))
    finally:
        search.prover_s += search.clock() - started  # wall time waited on this expansion's checks
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    for index, cand in enumerate(candidates):
        if index not in outcomes:  # not started: the time ran out
            continue
        outcome, elapsed = outcomes[index]
        if outcome.kind is OutcomeKind.ERROR and outcome.crashed and not search.config.replay_after_crash:
            search._record_leaf(node, cand, outcome.kind, outcome.message, elapsed)
            return search._result(SearchStatus.ERROR, error=f"the prover crashed: {outcome.message}")
        if outcome.kind is not OutcomeKind.GOALS or outcome.state is None:
            search._record_leaf(node, cand, outcome.kind, outcome.message, elapsed)
        elif outcome.introduces_sorry and search._prunes_sorry():
            search._record_leaf(node, cand, OutcomeKind.ERROR, "pruned: the step uses `sorry`", elapsed)
        else:
            search._on_new_state(node, cand, outcome.state, elapsed)
    if len(outcomes) < len(candidates):
        return search._timeout()
    return None
