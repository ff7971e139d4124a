"""Best-first proof search over goal states.

With the default `SearchConfig` this is the LLEMMA paper's harness (llemma_formal2formal's
`best_first_search`), step for step:
- the queue is a min-heap of (cost, tactic path), cost = minus the sum of candidate scores along the
  path, ties broken by comparing the tactic paths, as Python's heapq did on the paper's tuples;
- each expansion pops one state, marks its text visited, asks for `n` candidates (beam search), keeps
  the first occurrence of each raw candidate text in descending score order, then strips them;
- candidates run in that order; the first proof stops the search; a new state is queued unless its
  text was already expanded; errors and timeouts are dropped;
- at most `max_expansions` pops and `time_limit_s` wall-clock seconds, model time included. The
  clock is checked before every generation and every step, so one call in flight can finish past the
  limit (each prover step has its own limit; the runner adds a hard cap per theorem).

The improvements in `SearchConfig` change only what they say. The search knows the two interfaces and
nothing about Lean, Isabelle or models.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import networkx as nx

from ..errors import ProposerError, ProverError
from ..interfaces import Proposer, ProverSession
from ..types import Candidate, GoalState, OutcomeKind, Proof, ProposalRequest, SearchStatus, Theorem
from .concurrent import check_concurrently, check_width, drop_prefetched, take_prefetched
from .config import Priority, SearchConfig
from .result import MESSAGE_LIMIT, SearchResult

log = logging.getLogger(__name__)


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
        self._queue: list[tuple[float, list[str], int, _Node]] = []
        self._visited: set[str] = set()  # texts of expanded states
        self._by_text: dict[str, int] = {}  # merge mode: text -> node id, for expanded and queued states
        self._start = 0.0
        self.prover_s = 0.0
        self.model_wait_s = 0.0
        self.expansions = 0
        self.steps = 0
        self.prefetched: dict[int, Any] = {}  # node id -> generation started early (search/concurrent.py)

    # -- bookkeeping -------------------------------------------------------------------------------

    def _elapsed_counted(self) -> float:
        elapsed = self.clock() - self._start
        if self.config.exclude_model_wait:
            elapsed -= self.model_wait_s
        return elapsed

    def _out_of_time(self) -> bool:
        return self._elapsed_counted() >= self.config.time_limit_s

    def _priority(self, node: _Node) -> float:
        if self.config.priority is Priority.DEPTH_NORMALISED and node.depth > 0:
            return node.cost / node.depth
        return node.cost

    def _add_state_node(self, state: GoalState, steps: tuple[str, ...], cost: float) -> _Node:
        node = _Node(next(self._ids), state, steps, cost)
        self.graph.add_node(
            node.id, kind="state", text=state.text, depth=node.depth, cost=cost, expanded_at=None
        )
        return node

    def _push(self, node: _Node) -> None:
        heapq.heappush(self._queue, (self._priority(node), list(node.steps), next(self._tiebreak), node))
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
        self._start = self.clock()
        try:
            t0 = self.clock()
            root_state = await self.session.initial_state()
            self.prover_s += self.clock() - t0
        except ProverError as exc:
            return self._result(SearchStatus.ERROR, error=f"could not start the theorem: {exc}")
        root = self._add_state_node(root_state, (), 0.0)
        self.graph.graph["root"] = root.id
        self._push(root)
        try:
            return await self._loop()
        except ProverError as exc:
            return self._result(SearchStatus.ERROR, error=f"prover failed: {exc}")
        except ProposerError as exc:
            return self._result(SearchStatus.ERROR, error=f"proposer failed: {exc}")
        finally:
            drop_prefetched(self)  # generation started early for a node never reached

    async def _loop(self) -> SearchResult:
        cfg = self.config
        while True:
            if not self._queue:
                return self._result(SearchStatus.EXHAUSTED)
            if self.expansions >= cfg.max_expansions:
                return self._result(SearchStatus.BUDGET)
            if self._out_of_time():
                return self._result(SearchStatus.TIMEOUT)
            _, _, _, node = heapq.heappop(self._queue)
            self._visited.add(node.state.text)
            self.graph.nodes[node.id]["expanded_at"] = self.expansions
            self.expansions += 1

            request = ProposalRequest(self.theorem, node.state, node.steps)
            t0 = self.clock()
            raw = await take_prefetched(self, node) if self.prefetched else None
            if raw is None:
                (raw,) = await self.proposer.propose([request], cfg.sampling)
            self.model_wait_s += self.clock() - t0
            order = clean_candidate_order if cfg.clean_candidates else paper_candidate_order
            candidates = order(raw)
            width = check_width(self)
            if width > 1:  # improved mode: the candidates checked at once over the prover's workers
                ended = await check_concurrently(self, node, candidates, width)
                if ended is not None:
                    return ended
                continue

            for cand in candidates:
                if self._out_of_time():
                    return self._result(SearchStatus.TIMEOUT)
                t0 = self.clock()
                outcome = await self.session.step(node.state, cand.tactic)
                elapsed = self.clock() - t0
                self.prover_s += elapsed
                self.steps += 1
                if outcome.kind is OutcomeKind.PROVED:
                    self._record_leaf(node, cand, outcome.kind, outcome.message, elapsed)
                    return self._result(SearchStatus.PROVED, Proof(node.steps + (cand.tactic,)))
                if outcome.kind is not OutcomeKind.GOALS or outcome.state is None:
                    self._record_leaf(node, cand, outcome.kind, outcome.message, elapsed)
                    continue
                self._on_new_state(node, cand, outcome.state, elapsed)

    def _on_new_state(self, parent: _Node, cand: Candidate, state: GoalState, elapsed: float) -> None:
        edge = dict(tactic=cand.tactic, score=cand.score, outcome=OutcomeKind.GOALS.value, elapsed_s=elapsed)
        if self.config.merge_duplicate_states and state.text in self._by_text:
            # Identical state already known (expanded or queued): share its node, queue nothing.
            self.graph.add_edge(parent.id, self._by_text[state.text], **edge)
            return
        child = self._add_state_node(state, parent.steps + (cand.tactic,), parent.cost - cand.score)
        self.graph.add_edge(parent.id, child.id, **edge)
        if state.text in self._visited:
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
