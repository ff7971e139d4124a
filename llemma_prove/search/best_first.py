"""Best-first proof search over goal states.

With the default `SearchConfig` this is the LLEMMA paper's harness (llemma_formal2formal's
`best_first_search`, DESIGN section 6), step for step:
- the queue is a min-heap of (cost, tactic path), cost = minus the sum of candidate scores along the
  path, ties broken by comparing the tactic paths, as Python's heapq did on the paper's tuples;
- each expansion pops one state, marks its text visited, asks for `n` candidates (beam search), keeps
  the first occurrence of each raw candidate text in descending score order, then strips them;
- candidates run in that order; the first proof stops the search; a new state is queued unless its
  text was already expanded (a state reached by a step that used `sorry` included); errors and
  timeouts are dropped; a prover crash ends the theorem (ERROR);
- at most `max_expansions` pops; a hard clock of `time_limit_s` seconds per theorem, generation
  included: whatever call is in flight when it runs out is interrupted and the theorem ends as
  TIMEOUT, as the harness's SIGALRM did. Time spent queueing for a shared model or a free prover
  (`waits.WaitMeter`) is not on the clock: the harness ran one theorem at a time.

The improvements in `SearchConfig` change only what they say. The search knows the two interfaces and
nothing about Lean, Isabelle or models.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence, TypeVar

import networkx as nx

from ..errors import ProposerError, ProverError
from ..interfaces import Proposer, ProverSession
from ..types import Candidate, GoalState, OutcomeKind, Proof, ProposalRequest, SearchStatus, StepOutcome, Theorem
from ..waits import WaitMeter, install_meter, remove_meter
from .concurrent import Pipeline, _HardTimeout, pipelined
from .config import Priority, SearchConfig
from .result import MESSAGE_LIMIT, SearchResult

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Node:
    id: int
    state: GoalState
    steps: tuple[str, ...]
    cost: float  # minus the sum of candidate scores along the path (lower is better)

    @property
    def depth(self) -> int:
        return len(self.steps)


def paper_candidate_order(candidates: Sequence[Candidate]) -> list[Candidate]:
    """First occurrence of each raw text, best score first (stable), then stripped: `_unique_sorted`."""
    seen: set[str] = set()
    ordered: list[Candidate] = []
    for cand in sorted(candidates, key=lambda c: -c.score):
        if cand.tactic not in seen:
            seen.add(cand.tactic)
            ordered.append(cand)
    return [Candidate(c.tactic.strip(), c.score, c.logprob_sum, c.num_tokens) for c in ordered]


def clean_candidate_order(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Strip first, drop empty texts, keep the best-scoring copy of each stripped text."""
    best: dict[str, Candidate] = {}
    for cand in candidates:
        text = cand.tactic.strip()
        if not text:
            continue
        if text not in best or cand.score > best[text].score:
            best[text] = Candidate(text, cand.score, cand.logprob_sum, cand.num_tokens)
    return sorted(best.values(), key=lambda c: -c.score)


class BestFirstSearch:
    """One search over one theorem. Use `best_first_search` unless you need the object."""

    def __init__(
        self,
        theorem: Theorem,
        session: ProverSession,
        proposer: Proposer,
        config: SearchConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.theorem = theorem
        self.session = session
        self.proposer = proposer
        self.config = config
        self.clock = clock
        self.graph = nx.DiGraph(theorem=theorem.name, config=config.to_json())
        self._ids = itertools.count()
        self._tiebreak = itertools.count()
        self._queue: list[tuple[Any, ...]] = []
        self._visited: set[str] = set()  # texts of expanded states
        self._by_text: dict[str, int] = {}  # merge mode: text -> node id, for expanded and queued states
        self._start = 0.0
        self._generating_since: float | None = None  # set while a generation call is in flight
        self._queued_at_generation = 0.0  # the meter's total when that call started
        self._generation_s = 0.0  # finished generation calls, their queueing left out (it is metered)
        self.meter = WaitMeter(clock)
        self.prover_s = 0.0
        self.model_wait_s = 0.0
        self.expansions = 0
        self.steps = 0

    # -- bookkeeping -------------------------------------------------------------------------------

    def _elapsed_counted(self) -> float:
        """Seconds on the theorem's clock: wall time less queueing (and less generation if excluded)."""
        now = self.clock()
        queued = self.meter.total()
        elapsed = now - self._start - queued
        if self.config.exclude_model_wait:
            generating = self._generation_s
            if self._generating_since is not None:
                generating += (now - self._generating_since) - (queued - self._queued_at_generation)
            elapsed -= generating
        return elapsed

    def _out_of_time(self) -> bool:
        return self._elapsed_counted() >= self.config.time_limit_s

    async def _timed(self, call: Awaitable[T]) -> T:
        """Run one call under the hard clock: interrupted when the clock runs out, and a call that
        returns after that is treated the same way (its answer came too late to count)."""
        task: asyncio.Future[T] = asyncio.ensure_future(call)
        try:
            while not task.done():
                remaining = self.config.time_limit_s - self._elapsed_counted()
                if remaining <= 0:
                    raise _HardTimeout()
                await asyncio.wait({task}, timeout=remaining)
        except BaseException:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            raise
        result = task.result()
        if self._late():
            raise _HardTimeout()
        return result

    # Each rule of the harness lives in one small method below, so that the mutation check
    # (tests/search/test_paper_equivalence.py) can change exactly one rule and see the suite catch it.

    def _late(self) -> bool:
        return self._out_of_time()

    def _queue_key(self, node: _Node) -> tuple[Any, ...]:
        """Heap order: priority, then the tactic path (Python compared the harness's tuples so)."""
        return (self._priority(node), list(node.steps))

    def _child_key(self, parent: _Node, cand: Candidate) -> tuple[Any, ...]:
        """The queue key the state reached by `cand` from `parent` would get, before it is checked."""
        return self._queue_key(_Node(-1, parent.state, parent.steps + (cand.tactic,), parent.cost - cand.score))

    def _priority(self, node: _Node) -> float:
        if self.config.priority is Priority.DEPTH_NORMALISED and node.depth > 0:
            return node.cost / node.depth
        return node.cost

    def _budget_spent(self) -> bool:
        return self.expansions >= self.config.max_expansions

    def _was_expanded(self, text: str) -> bool:
        return text in self._visited

    def _prunes_sorry(self) -> bool:
        return self.config.prune_sorry

    def _order_candidates(self, raw: Sequence[Candidate]) -> list[Candidate]:
        return clean_candidate_order(raw) if self.config.clean_candidates else paper_candidate_order(raw)

    def _add_state_node(self, state: GoalState, steps: tuple[str, ...], cost: float) -> _Node:
        node = _Node(next(self._ids), state, steps, cost)
        self.graph.add_node(
            node.id, kind="state", text=state.text, depth=node.depth, cost=cost, expanded_at=None
        )
        return node

    def _push(self, node: _Node) -> None:
        heapq.heappush(self._queue, (*self._queue_key(node), next(self._tiebreak), node))
        self.graph.nodes[node.id]["queued"] = True
        if self.config.merge_duplicate_states:
            self._by_text[node.state.text] = node.id

    def _record_leaf(self, parent: _Node, cand: Candidate, kind: OutcomeKind, message: str, elapsed: float) -> int:
        leaf = next(self._ids)
        self.graph.add_node(leaf, kind=kind.value, message=message[:MESSAGE_LIMIT], depth=parent.depth + 1)
        self.graph.add_edge(
            parent.id, leaf, tactic=cand.tactic, score=cand.score, outcome=kind.value, elapsed_s=elapsed
        )
        return leaf

    def _result(self, status: SearchStatus, proof: Proof | None = None, error: str = "") -> SearchResult:
        return SearchResult(
            theorem_name=self.theorem.name,
            status=status,
            proof=proof,
            expansions=self.expansions,
            steps=self.steps,
            elapsed_s=self.clock() - self._start,
            prover_s=self.prover_s,
            model_wait_s=self.model_wait_s,
            error=error,
            graph=self.graph,
        )

    # -- the search --------------------------------------------------------------------------------

    async def run(self) -> SearchResult:
        token = install_meter(self.meter)
        try:
            return await self._run()
        finally:
            remove_meter(token)

    async def _run(self) -> SearchResult:
        self._start = self.clock()
        try:
            t0 = self.clock()
            root_state = await self._timed(self.session.initial_state())
            self.prover_s += self.clock() - t0
        except ProverError as exc:
            return self._result(SearchStatus.ERROR, error=f"could not start the theorem: {exc}")
        except _HardTimeout:
            return self._timeout()
        root = self._add_state_node(root_state, (), 0.0)
        self.graph.graph["root"] = root.id
        self._push(root)
        try:
            if pipelined(self.config):  # improved mode: checks at once, generation overlapping them
                return await Pipeline(self).run()
            return await self._loop()
        except _HardTimeout:
            return self._timeout()
        except ProverError as exc:
            return self._result(SearchStatus.ERROR, error=f"prover failed: {exc}")
        except ProposerError as exc:
            return self._result(SearchStatus.ERROR, error=f"proposer failed: {exc}")

    def _timeout(self) -> SearchResult:
        self._generating_since = None
        return self._result(SearchStatus.TIMEOUT, error=f"the {self.config.time_limit_s:g} s clock ran out")

    def _ended(self) -> SearchResult | None:
        """The result when the search stops before its next expansion, else None (out of time raises)."""
        if not self._queue:
            return self._result(SearchStatus.EXHAUSTED)
        if self._budget_spent():
            return self._result(SearchStatus.BUDGET)
        if self._out_of_time():
            raise _HardTimeout()
        return None

    async def _loop(self) -> SearchResult:
        """One expansion after another, each candidate checked in turn (the paper's harness)."""
        cfg = self.config
        while True:
            ended = self._ended()
            if ended is not None:
                return ended
            node = self._pop()
            request = ProposalRequest(self.theorem, node.state, node.steps)
            self._begin_generation()
            try:
                (raw,) = await self._timed(self.proposer.propose([request], cfg.sampling))
            finally:
                self._end_generation()
            for cand in self._order_candidates(raw):
                if self._out_of_time():
                    raise _HardTimeout()
                t0 = self.clock()
                try:
                    outcome = await self._timed(self.session.step(node.state, cand.tactic))
                finally:
                    self.prover_s += self.clock() - t0
                self.steps += 1
                ended = self._commit(node, cand, outcome, self.clock() - t0)
                if ended is not None:
                    return ended

    def _pop(self) -> _Node:
        """Take the queue's best node and count it as expanded."""
        node = heapq.heappop(self._queue)[-1]
        self._visited.add(node.state.text)
        self.graph.nodes[node.id]["expanded_at"] = self.expansions
        self.expansions += 1
        return node

    def _begin_generation(self) -> None:
        self._generating_since = self.clock()
        self._queued_at_generation = self.meter.total()

    def _end_generation(self) -> None:
        """Close the generation interval opened by `_begin_generation` (its queueing is metered)."""
        if self._generating_since is None:
            return
        spent = self.clock() - self._generating_since
        self.model_wait_s += spent
        self._generation_s += spent - (self.meter.total() - self._queued_at_generation)
        self._generating_since = None

    def _commit(self, node: _Node, cand: Candidate, outcome: StepOutcome, elapsed: float) -> SearchResult | None:
        """Record one checked candidate; the search's result if this outcome ends it."""
        if outcome.kind is OutcomeKind.PROVED:
            self._record_leaf(node, cand, outcome.kind, outcome.message, elapsed)
            return self._result(SearchStatus.PROVED, Proof(node.steps + (cand.tactic,)))
        if outcome.kind is OutcomeKind.ERROR and outcome.crashed and not self.config.replay_after_crash:
            self._record_leaf(node, cand, outcome.kind, outcome.message, elapsed)
            return self._result(SearchStatus.ERROR, error=f"the prover crashed: {outcome.message}")
        if outcome.kind is not OutcomeKind.GOALS or outcome.state is None:
            self._record_leaf(node, cand, outcome.kind, outcome.message, elapsed)
        elif outcome.introduces_sorry and self._prunes_sorry():
            self._record_leaf(node, cand, OutcomeKind.ERROR, "pruned: the step uses `sorry`", elapsed)
        else:
            self._on_new_state(node, cand, outcome.state, elapsed)
        return None

    def _on_new_state(self, parent: _Node, cand: Candidate, state: GoalState, elapsed: float) -> None:
        edge = dict(tactic=cand.tactic, score=cand.score, outcome=OutcomeKind.GOALS.value, elapsed_s=elapsed)
        if self.config.merge_duplicate_states and state.text in self._by_text:
            # Identical state already known (expanded or queued): share its node, queue nothing.
            self.graph.add_edge(parent.id, self._by_text[state.text], **edge)
            return
        child = self._add_state_node(state, parent.steps + (cand.tactic,), parent.cost - cand.score)
        self.graph.add_edge(parent.id, child.id, **edge)
        if self._was_expanded(state.text):
            self.graph.nodes[child.id]["queued"] = False  # the paper drops already-expanded states
            return
        self._push(child)


async def best_first_search(
    theorem: Theorem,
    session: ProverSession,
    proposer: Proposer,
    config: SearchConfig | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> SearchResult:
    """Search for a proof of `theorem` in an open prover session. The result is not yet verified."""
    return await BestFirstSearch(theorem, session, proposer, config or SearchConfig(), clock).run()
