"""Paper mode against an independent transcription of the harness, on 1,000 random worlds, and a
mutation check that every known way of drifting from the harness is caught by those worlds.

The transcription follows wellecks/llemma_formal2formal@0931a1e `proofsearch.py` (`best_first_search`,
`generate_vllm`, `_unique_sorted`) with LeanDojo replaced by a scripted world and the wall clock by a
virtual one. Its SIGALRM (`Dojo(..., hard_timeout=600)`) is modelled as: the theorem fails as soon as
600 s have passed, whatever call was in flight. In virtual time a call interrupted at the limit and a
call whose answer is thrown away because it came after the limit are the same thing, which is how the
real-time interruption itself is tested separately (`test_hard_clock_interrupts_a_call_in_flight`).

Worlds are built to contain what makes searches disagree: complete ties (same cost, same tactic path,
from whitespace variants of one tactic), cost ties between different paths, exact duplicate and
whitespace-variant candidates, empty candidates, revisited states, errors, step timeouts, crashes,
steps that leave goals but use `sorry`, slow calls that cross the time limit, and queueing for the
shared model (which the harness never did, so it must not count).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from dataclasses import dataclass

import pytest

from llemma_prove.search import SearchConfig
from llemma_prove.search.best_first import BestFirstSearch
from llemma_prove.types import (
    Candidate,
    GoalState,
    ProposalRequest,
    SamplingParams,
    SearchStatus,
    StepOutcome,
    Theorem,
)
from llemma_prove.waits import current_meter

THM = Theorem("t", "theorem t : P := by sorry")
WORLDS = 1000

GOALS, SORRY, PROVED, ERROR, TIMEOUT, CRASH = "goals", "sorry", "proved", "error", "timeout", "crash"


@dataclass(frozen=True)
class Step:
    kind: str
    target: str | None = None
    delay: float = 0.0  # virtual seconds the prover takes


@dataclass
class World:
    root: str
    script: dict[str, dict[str, Step]]  # state -> stripped tactic -> what Lean does
    table: dict[str, list[tuple[str, float]]]  # state -> raw beams (text, mean log-prob), as generated
    gen_delay: dict[str, float]  # virtual seconds of generation at each state
    queue_delay: dict[str, float]  # virtual seconds queued for the shared model before generating
    max_iters: int
    n: int
    limit: float


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- the harness, transcribed ------------------------------------------------------------------------


def unique_sorted(texts, scores):
    """`_unique_sorted`: first occurrence of each raw text, in descending score order (stable)."""
    texts_, scores_ = [], []
    for t, s in sorted(zip(texts, scores), key=lambda x: -x[1]):
        if t not in texts_:
            texts_.append(t)
            scores_.append(s)
    return texts_, scores_


def harness(world: World):
    """`best_first_search` of the harness: (expanded state texts, outcome, proof)."""
    t = 0.0
    queue = [(0.0, [], world.root)]
    visited = set()
    expanded = []
    for _ in range(world.max_iters):
        if len(queue) == 0:
            break
        total_score, steps, state = heapq.heappop(queue)
        visited.add(state)
        expanded.append(state)
        t += world.gen_delay[state]  # generation is on the clock ...
        if t >= world.limit:  # ... and SIGALRM interrupts it
            return expanded, "timeout", None
        rows = world.table.get(state, [])[: world.n]
        texts, scores = unique_sorted([r[0] for r in rows], [r[1] for r in rows])
        texts = [s.strip() for s in texts]
        for step, score in zip(texts, scores):
            result = world.script.get(state, {}).get(step, Step(ERROR))
            t += result.delay
            if t >= world.limit:
                return expanded, "timeout", None
            if result.kind == CRASH:  # DojoCrashError: the theorem ends
                return expanded, "error", None
            if result.kind == PROVED:
                return expanded, "proved", steps + [step]
            if result.kind in (GOALS, SORRY):  # a TacticState, `sorry` or not
                if result.target not in visited:
                    heapq.heappush(queue, (total_score - score, steps + [step], result.target))
            # LeanError, TimeoutError, ProofGivenUp: dropped
    return expanded, "ended", None


# -- the same world, served to the project's search ---------------------------------------------------


class WorldSession:
    def __init__(self, world: World, clock: VirtualClock) -> None:
        self.world, self.clock = world, clock

    async def initial_state(self) -> GoalState:
        return GoalState(self.world.root)

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        result = self.world.script.get(state.text, {}).get(tactic, Step(ERROR))
        self.clock.now += result.delay
        if result.kind in (GOALS, SORRY):
            assert result.target is not None
            return StepOutcome.goals(GoalState(result.target), introduces_sorry=result.kind == SORRY)
        if result.kind == PROVED:
            return StepOutcome.proved()
        if result.kind == TIMEOUT:
            return StepOutcome.timeout()
        if result.kind == CRASH:
            return StepOutcome.error("Lean exited with signal 9", crashed=True)
        return StepOutcome.error("tactic failed")

    async def close(self) -> None:
        pass


class WorldProposer:
    """The shared model: first a queueing wait (recorded as such), then generation."""

    def __init__(self, world: World, clock: VirtualClock) -> None:
        self.world, self.clock = world, clock

    async def propose(self, requests: list[ProposalRequest], params: SamplingParams) -> list[list[Candidate]]:
        (request,) = requests
        state = request.state.text
        meter = current_meter()
        assert meter is not None, "the search installs a queueing meter"
        token = meter.begin()
        self.clock.now += self.world.queue_delay[state]
        meter.end(token)
        self.clock.now += self.world.gen_delay[state]
        rows = self.world.table.get(state, [])[: params.n]
        return [[Candidate(text, score) for text, score in rows]]


def paper_config(world: World) -> SearchConfig:
    return SearchConfig(max_expansions=world.max_iters, sampling=SamplingParams(n=world.n), time_limit_s=world.limit)


STATUS = {
    SearchStatus.PROVED: "proved",
    SearchStatus.TIMEOUT: "timeout",
    SearchStatus.ERROR: "error",
    SearchStatus.BUDGET: "ended",
    SearchStatus.EXHAUSTED: "ended",
}


async def project(world: World, search_cls: type[BestFirstSearch] = BestFirstSearch):
    clock = VirtualClock()
    search = search_cls(THM, WorldSession(world, clock), WorldProposer(world, clock), paper_config(world), clock)
    result = await search.run()
    nodes = [(d["expanded_at"], d["text"]) for _, d in result.graph.nodes(data=True) if d.get("expanded_at") is not None]
    expanded = [text for _, text in sorted(nodes)]
    return expanded, STATUS[result.status], (list(result.proof.tactics) if result.proof else None)


# -- random worlds ----------------------------------------------------------------------------------


def random_world(seed: int) -> World:
    rng = random.Random(seed)
    states = [f"S{i}" for i in range(rng.randint(2, 14))]
    scores = [-0.5, -1.0, -1.5]  # few values: cost ties between different paths are common
    script: dict[str, dict[str, Step]] = {}
    table: dict[str, list[tuple[str, float]]] = {}
    p_prove = rng.choice([0.0, 0.05, 0.15])
    p_crash = rng.choice([0.0, 0.03, 0.1])
    p_sorry = rng.choice([0.0, 0.1, 0.25])
    slow = rng.random() < 0.4
    for s in states:
        edges: dict[str, Step] = {}
        rows: list[tuple[str, float]] = []
        for j in range(rng.randint(0, 5)):
            tactic = f"t{j}"  # the same names in every state: equal paths through different states
            r = rng.random()
            delay = rng.choice([0.0, 1.0, 7.0, 25.0]) if slow else 0.0
            if r < p_prove:
                edges[tactic] = Step(PROVED, delay=delay)
            elif r < p_prove + p_crash:
                edges[tactic] = Step(CRASH, delay=delay)
            elif r < 0.7:
                kind = SORRY if rng.random() < p_sorry else GOALS
                edges[tactic] = Step(kind, rng.choice(states), delay)
            elif r < 0.85:
                edges[tactic] = Step(ERROR, delay=delay)
            else:
                edges[tactic] = Step(TIMEOUT, delay=delay)
            score = rng.choice(scores)
            rows.append((tactic, score))
            if rng.random() < 0.3:  # whitespace variant, often with the same score: a complete tie
                variant = rng.choice([" ", "\n", "  "]) + tactic if rng.random() < 0.5 else tactic + rng.choice([" ", "\n"])
                rows.append((variant, score if rng.random() < 0.6 else rng.choice(scores)))
            if rng.random() < 0.15:  # the same beam text twice
                rows.append((tactic, rng.choice(scores)))
        if rng.random() < 0.1:
            rows.append((rng.choice(["", " ", "\n"]), rng.choice(scores)))  # an empty candidate
        rng.shuffle(rows)  # beams do not arrive sorted
        script[s], table[s] = edges, rows
    gen_delay = {s: (rng.choice([0.5, 3.0, 12.0]) if slow else 0.0) for s in states}
    queue_delay = {s: rng.choice([0.0, 0.0, 40.0, 400.0]) for s in states}
    return World(
        root=states[0], script=script, table=table, gen_delay=gen_delay, queue_delay=queue_delay,
        max_iters=rng.choice([1, 2, 3, 5, 8, 20, 100]), n=rng.choice([2, 3, 32]),
        limit=rng.choice([20.0, 45.0, 90.0]) if slow else 600.0,
    )


def disagreement(seed: int, search_cls: type[BestFirstSearch] = BestFirstSearch) -> str | None:
    world = random_world(seed)
    expected = harness(world)
    got = asyncio.run(project(world, search_cls))
    if got != expected:
        return f"world {seed}: harness {expected}, search {got}"
    return None


def test_paper_mode_is_the_harness_on_a_thousand_random_worlds():
    started = time.monotonic()
    kinds = {"proved": 0, "timeout": 0, "error": 0, "ended": 0}
    for seed in range(WORLDS):
        world = random_world(seed)
        expected = harness(world)
        got = asyncio.run(project(world))
        assert got == expected, f"world {seed}"
        kinds[expected[1]] += 1
    # The worlds exercise every way a theorem ends.
    assert all(count >= 20 for count in kinds.values()), kinds
    assert time.monotonic() - started < 60


def test_the_worlds_contain_what_they_are_meant_to():
    """Complete ties, whitespace and exact duplicates, revisits, and every kind of step all occur."""
    complete_ties = duplicates = variants = revisits = 0
    step_kinds: set[str] = set()
    for seed in range(WORLDS):
        world = random_world(seed)
        for state, rows in world.table.items():
            stripped = [(t.strip(), s) for t, s in rows]
            complete_ties += len(stripped) - len(set(stripped))
            texts = [t for t, _ in rows]
            duplicates += len(texts) - len(set(texts))
            variants += len({t.strip() for t in texts}) < len(set(texts))
            for step in world.script[state].values():
                step_kinds.add(step.kind)
                revisits += step.target == state
    assert min(complete_ties, duplicates, variants, revisits) > 50
    assert step_kinds == {GOALS, SORRY, PROVED, ERROR, TIMEOUT, CRASH}


# -- mutants: each must be caught by the worlds above ------------------------------------------------


class FifoTieBreak(BestFirstSearch):
    _order = itertools.count()

    def _queue_key(self, node):
        return (self._priority(node), next(self._order))


class UnsortedCandidates(BestFirstSearch):
    def _order_candidates(self, raw):
        seen, out = set(), []
        for c in raw:
            if c.tactic not in seen:
                seen.add(c.tactic)
                out.append(Candidate(c.tactic.strip(), c.score))
        return out


class StripBeforeDedupe(BestFirstSearch):
    def _order_candidates(self, raw):
        seen, out = set(), []
        for c in sorted(raw, key=lambda c: -c.score):
            text = c.tactic.strip()
            if text not in seen:
                seen.add(text)
                out.append(Candidate(text, c.score))
        return out


class DepthNormalisedInPaperMode(BestFirstSearch):
    def _priority(self, node):
        return node.cost / node.depth if node.depth else node.cost


class BudgetOffByOne(BestFirstSearch):
    def _budget_spent(self):
        return self.expansions > self.config.max_expansions


class NoVisitedCheck(BestFirstSearch):
    def _was_expanded(self, text):
        return False


class SorryPruningInPaperMode(BestFirstSearch):
    def _prunes_sorry(self):
        return True


class SoftClock(BestFirstSearch):
    async def _timed(self, call):
        return await call  # checked between calls only: a late answer still counts


MUTANTS = [FifoTieBreak, UnsortedCandidates, StripBeforeDedupe, DepthNormalisedInPaperMode, BudgetOffByOne,
           NoVisitedCheck, SorryPruningInPaperMode, SoftClock]


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.__name__)
def test_every_mutant_is_caught_by_the_worlds(mutant):
    caught = next((d for seed in range(WORLDS) if (d := disagreement(seed, mutant))), None)
    assert caught is not None, f"{mutant.__name__} passes all {WORLDS} worlds"


# -- the hard clock in real time -----------------------------------------------------------------------


class SlowSession(WorldSession):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.cancelled = False

    async def initial_state(self) -> GoalState:
        return GoalState("S0")

    async def step(self, state, tactic):
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return StepOutcome.proved()


class QuickProposer:
    async def propose(self, requests, params):
        return [[Candidate("slow", -0.1)] for _ in requests]


async def test_hard_clock_interrupts_a_call_in_flight():
    session = SlowSession(30.0)
    config = SearchConfig(time_limit_s=0.3)
    started = time.monotonic()
    result = await BestFirstSearch(THM, session, QuickProposer(), config).run()
    assert result.status is SearchStatus.TIMEOUT
    assert session.cancelled  # the step was interrupted, not waited for
    assert time.monotonic() - started < 5.0


class QueuedProposer:
    """A shared model busy with other theorems for `queued` seconds, then quick."""

    def __init__(self, queued: float) -> None:
        self.queued = queued

    async def propose(self, requests, params):
        meter = current_meter()
        token = meter.begin()
        await asyncio.sleep(self.queued)
        meter.end(token)
        return [[Candidate("slow", -0.1)] for _ in requests]


async def test_queueing_for_the_shared_model_is_not_on_the_clock():
    # 0.6 s queued against a 0.4 s limit, then a 0.1 s step: proved, as it would be alone.
    result = await BestFirstSearch(THM, SlowSession(0.1), QueuedProposer(0.6), SearchConfig(time_limit_s=0.4)).run()
    assert result.status is SearchStatus.PROVED
    # Without a meter entry the same wait is the theorem's own time and the clock runs out.
    class Unmetered(QueuedProposer):
        async def propose(self, requests, params):
            await asyncio.sleep(self.queued)
            return [[Candidate("slow", -0.1)] for _ in requests]

    result = await BestFirstSearch(THM, SlowSession(0.1), Unmetered(0.6), SearchConfig(time_limit_s=0.4)).run()
    assert result.status is SearchStatus.TIMEOUT


async def test_excluding_generation_does_not_exclude_its_queueing_twice():
    """Queued 10 s + generating 10 s + a 10 s step per expansion, 55 s allowed: with generation
    excluded, only the steps count (6 fit, the 6th ends past 55 s: TIMEOUT); counting the queueing
    out twice would let the clock stand still and the search run to its budget."""
    clock = VirtualClock()
    world = World(root="S0", script={f"S{i}": {"t": Step(GOALS, f"S{i + 1}", 10.0)} for i in range(30)},
                  table={f"S{i}": [("t", -0.5)] for i in range(30)}, gen_delay={f"S{i}": 10.0 for i in range(31)},
                  queue_delay={f"S{i}": 10.0 for i in range(31)}, max_iters=20, n=1, limit=55.0)
    config = SearchConfig(max_expansions=20, sampling=SamplingParams(n=1), time_limit_s=55.0, exclude_model_wait=True)
    result = await BestFirstSearch(THM, WorldSession(world, clock), WorldProposer(world, clock), config, clock).run()
    assert result.status is SearchStatus.TIMEOUT and result.expansions == 6
    clock = VirtualClock()
    config = SearchConfig(max_expansions=20, sampling=SamplingParams(n=1), time_limit_s=55.0)
    result = await BestFirstSearch(THM, WorldSession(world, clock), WorldProposer(world, clock), config, clock).run()
    assert result.status is SearchStatus.TIMEOUT and result.expansions == 3  # 20 s counted per expansion
