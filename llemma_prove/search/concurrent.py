"""Improved mode's search loop: candidates checked at once, the next generations overlapping the checks.

A single theorem (the editor's case) searched as the paper does leaves all Lean workers but one idle
and the model idle while Lean works. `Pipeline` keeps both busy without changing which states the
search expands or in what order (strict best-first):

- The *logical* search is the paper's loop, unchanged in what it decides: pop the queue's best node,
  get its candidates, then record each candidate's outcome in candidate order (a new state queued, or
  a leaf). So the queue, the node ids and the graph come out exactly as with one check after another.
- The *physical* work runs ahead of it. Up to `width` checks run at once over the prover's workers,
  started in the order the logical search will want their outcomes (this expansion's candidates, then
  the next expansion's, ...); a slow check (a step hanging to its time limit) holds up only the
  recording of the candidates after it, not the prover or the model.
- Generation for a node starts as soon as that node is *certainly* the next one popped: it is the
  queue's best (after the nodes already known to come first), and every candidate not yet recorded,
  whatever its outcome, could only queue a state that comes after it (a child's priority is known from
  its candidate's score before the check; an outcome already in that queues nothing is ignored). Only
  states the paper's loop would expand, in its order, are ever asked of the model or the prover; the
  ordering never guesses, so nothing is thrown away unless the search ends.
- The first proof found ends the search, whichever of those checks finds it (only *which* proof is
  found can differ from one check after another, as with any concurrency), and every check and
  generation still running is cancelled at once so the final check starts immediately.

What differs from one check after another, besides time: `steps` counts the checks that finished (some
of an expansion the logical search had not reached yet when a proof ended it), and on a proof the
graph lacks the outcomes not yet recorded. The clock: generation that overlaps checks is on the clock
as the checks' wall time; only a wait on generation alone is generation time (`exclude_model_wait`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator, Optional, Sequence

from ..types import Candidate, OutcomeKind, Proof, ProposalRequest, SearchStatus, StepOutcome

if TYPE_CHECKING:
    from .best_first import BestFirstSearch, _Node
    from .config import SearchConfig
    from .result import SearchResult

log = logging.getLogger(__name__)


def pipelined(config: "SearchConfig") -> bool:
    """Whether the search runs through `Pipeline` (every setting of `parallel_checks` but the paper's 1)."""
    return config.parallel_checks != 1


def check_width(search: "BestFirstSearch") -> int:
    """How many candidates to check at once."""
    width = search.config.parallel_checks
    if width == 0:
        width = int(getattr(search.session, "parallelism", 1) or 1)
    return max(1, width)


@dataclass(eq=False)
class _Plan:
    """One expansion: its node, its generation, its candidates and their checks."""

    node: "_Node"
    generation: "Optional[asyncio.Task[Any]]" = None
    candidates: Optional[list[Candidate]] = None
    keys: list[tuple[Any, ...]] = field(default_factory=list)  # the queue key each candidate's state would get
    checks: list[Optional[Any]] = field(default_factory=list)  # one task per candidate once started
    launched: int = 0  # checks started, in candidate order
    recorded: int = 0  # outcomes recorded by the logical search, in candidate order


class _HardTimeout(Exception):
    """The theorem's clock ran out during (or before) a call."""


class _Proved(Exception):
    def __init__(self, plan: _Plan, index: int, elapsed: float) -> None:
        self.plan, self.index, self.elapsed = plan, index, elapsed


class Pipeline:
    """Runs `search` (see the module docstring); use through `BestFirstSearch.run`."""

    def __init__(self, search: "BestFirstSearch") -> None:
        self.search = search
        self.width = check_width(search)
        self.current: _Plan | None = None  # the expansion the logical search is in
        self.ahead: list[_Plan] = []  # the next expansions, each certain, in the order they will come
        self.running: set[asyncio.Task] = set()

    # -- the logical search: the paper's loop over work started ahead of it ------------------------

    async def run(self) -> "SearchResult":
        s = self.search
        try:
            while True:
                ended = s._ended()
                if ended is not None:
                    return ended
                node = s._pop()
                plan = self.ahead.pop(0) if self.ahead else None
                if plan is not None and plan.node is not node:  # cannot happen: planned nodes are certain
                    log.error("search of %s: planned node %d, popped %d; planning dropped", s.theorem.name,
                              plan.node.id, node.id)
                    self._cancel_all([plan] + self.ahead)
                    self.ahead, plan = [], None
                self.current = plan or _Plan(node)
                await self._candidates(self.current)
                for index, cand in enumerate(self.current.candidates or ()):
                    if s._out_of_time():
                        raise _HardTimeout()
                    outcome, elapsed = await self._outcome(self.current, index)
                    self.current.recorded = index + 1
                    ended = s._commit(node, cand, outcome, elapsed)
                    if ended is not None:
                        return ended
        except _Proved as proved:
            return self._proved(proved)
        finally:
            self._cancel_all([p for p in [self.current, *self.ahead] if p is not None])
            if self.running:
                await asyncio.gather(*self.running, return_exceptions=True)

    async def _candidates(self, plan: _Plan) -> None:
        """The plan's candidates, waiting for its generation (started now unless it ran ahead)."""
        s = self.search
        if plan.candidates is not None:
            return
        if plan.generation is None:
            self._generate(plan)
        s._begin_generation()
        try:
            await self._until(plan.generation)
            if s._late():
                raise _HardTimeout()
        finally:
            s._end_generation()
        self._take_candidates(plan)

    async def _outcome(self, plan: _Plan, index: int) -> tuple[StepOutcome, float]:
        s = self.search
        started = s.clock()
        try:
            while index >= len(plan.checks):
                await self._until(None)  # not started yet: every slot is busy with earlier checks
            task = plan.checks[index]
            await self._until(task)
        finally:
            s.prover_s += s.clock() - started
        return task.result()  # a ProverError ends the search, as in the paper's loop

    # -- the physical work ------------------------------------------------------------------------

    async def _until(self, target: "asyncio.Future[Any] | None") -> None:
        """Keep the work going until `target` is done (None: until anything finishes). A proof found
        by any check ends the search; so does the clock."""
        s = self.search
        while True:
            self._reap()
            self._launch()  # before any new generation, so that checks reach the prover first
            self._plan_ahead()
            self._launch()  # the checks of a plan whose candidates just came in
            if target is not None and target.done():
                return
            remaining = s.config.time_limit_s - s._elapsed_counted()
            if remaining <= 0:
                raise _HardTimeout()
            waiting = set(self.running)
            waiting.update(p.generation for p in self.ahead if p.generation is not None and not p.generation.done())
            if target is not None:
                waiting.add(target)
            if not waiting:
                return
            done, _ = await asyncio.wait(waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if target is None and done:
                self._reap()
                return

    def _reap(self) -> None:
        """Count finished checks and end the search on the first proof among them (candidate order)."""
        finished = [t for t in self.running if t.done()]
        if not finished:
            return
        self.running.difference_update(finished)
        proof: tuple[int, int, _Plan, int, float] | None = None
        plans = [p for p in [self.current, *self.ahead] if p is not None]
        for task in finished:
            if task.cancelled() or task.exception() is not None:
                continue  # an exception is raised when the logical search reaches that check
            self.search.steps += 1
            outcome, elapsed = task.result()
            if outcome.kind is OutcomeKind.PROVED:
                position = next((i, p.checks.index(task), p) for i, p in enumerate(plans) if task in p.checks)
                if proof is None or position[:2] < proof[:2]:
                    proof = (*position, elapsed)
        if proof is not None:
            raise _Proved(proof[2], proof[1], proof[3])

    def _launch(self) -> None:
        """Start checks in the order the logical search wants them while slots are free."""
        s = self.search
        if s._out_of_time():
            return
        for plan in [p for p in [self.current, *self.ahead] if p is not None]:
            if plan.candidates is None:
                return  # later plans' checks wait for this one's candidates, to keep the order
            while plan.launched < len(plan.candidates):
                if len(self.running) >= self.width:
                    return
                task = asyncio.ensure_future(self._check(plan, plan.launched))
                plan.checks.append(task)
                plan.launched += 1
                self.running.add(task)

    async def _check(self, plan: _Plan, index: int) -> tuple[StepOutcome, float]:
        t0 = self.search.clock()
        async with _call(self.search):
            outcome = await self.search.session.step(plan.node.state, plan.candidates[index].tactic)  # type: ignore[index]
        return outcome, self.search.clock() - t0

    def _generate(self, plan: _Plan) -> None:
        s = self.search
        request = ProposalRequest(s.theorem, plan.node.state, plan.node.steps)

        async def generate() -> Any:
            async with _call(s):
                return await s.proposer.propose([request], s.config.sampling)

        plan.generation = asyncio.ensure_future(generate())

    def _take_candidates(self, plan: _Plan) -> None:
        assert plan.generation is not None and plan.generation.done()
        (raw,) = plan.generation.result()  # a ProposerError ends the search
        plan.candidates = self.search._order_candidates(raw)
        plan.keys = [self.search._child_key(plan.node, cand) for cand in plan.candidates]

    def _plan_ahead(self) -> None:
        """Start generating for the next node once it is certain (one generation ahead at a time)."""
        s = self.search
        if self.current is None:
            return
        for plan in self.ahead:
            if plan.candidates is None and plan.generation is not None and plan.generation.done():
                if plan.generation.cancelled() or plan.generation.exception() is not None:
                    return  # the logical search raises it when it gets there
                self._take_candidates(plan)
        if s.expansions + len(self.ahead) >= s.config.max_expansions:
            return
        plans = [self.current, *self.ahead]
        if any(p.candidates is None for p in plans) or len(s._queue) <= len(self.ahead):
            return
        bound = self._lowest_possible_child(plans)
        if bound is not None and not tuple(s._queue[0][:2]) < bound:
            return  # not even the queue's best is certain (the common case: skip the sort below)
        following = heapq.nsmallest(len(self.ahead) + 1, s._queue)
        if any(entry[-1] is not plan.node for entry, plan in zip(following, self.ahead)):
            return  # cannot happen while every planned node is certain
        best = following[-1]
        if bound is not None and not tuple(best[:2]) < bound:
            return
        plan = _Plan(best[-1])
        self._generate(plan)
        self.ahead.append(plan)

    def _lowest_possible_child(self, plans: Sequence[_Plan]) -> tuple[Any, ...] | None:
        """The best queue key any candidate not yet recorded could still add (None: none can)."""
        bound: tuple[Any, ...] | None = None
        for plan in plans:
            checks = plan.checks
            for index in range(plan.recorded, len(plan.keys)):
                key = plan.keys[index]
                if bound is not None and not key < bound:
                    continue
                task = checks[index] if index < len(checks) else None
                if task is not None and task.done() and not task.cancelled() and task.exception() is None:
                    outcome = task.result()[0]
                    if outcome.kind is not OutcomeKind.GOALS or outcome.state is None:
                        continue  # queues nothing (a proof ends the search)
                bound = key
        return bound

    def _cancel_all(self, plans: Sequence[_Plan]) -> None:
        for plan in plans:
            if plan.generation is not None:
                plan.generation.cancel()  # no-op when it is done
                plan.generation.add_done_callback(_quiet)
        for task in self.running:
            task.cancel()

    def _proved(self, proved: _Proved) -> "SearchResult":
        """End the search with a proof found by a check of the current or a planned expansion."""
        s = self.search
        plans = [p for p in [self.current, *self.ahead] if p is not None]
        for plan in plans[1 : plans.index(proved.plan) + 1]:  # planned expansions reached by this proof
            s._visited.add(plan.node.state.text)
            s.graph.nodes[plan.node.id]["expanded_at"] = s.expansions
            s.expansions += 1
        cand = proved.plan.candidates[proved.index]  # type: ignore[index]
        node = proved.plan.node
        s._record_leaf(node, cand, OutcomeKind.PROVED, "", proved.elapsed)
        return s._result(SearchStatus.PROVED, Proof(node.steps + (cand.tactic,)))


@contextlib.asynccontextmanager
async def _call(search: "BestFirstSearch") -> AsyncIterator[None]:
    """One call of the search in flight: queueing counts off the clock only while all calls queue."""
    search.meter.call_started()
    try:
        yield
    finally:
        search.meter.call_ended()


def _quiet(task: "asyncio.Future[Any]") -> None:
    """Retrieve a dropped task's exception so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()
