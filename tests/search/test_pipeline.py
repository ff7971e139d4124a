"""Improved mode's pipeline (search/concurrent.py): generation and checks run ahead of the logical
search, which still expands the paper's states in the paper's order.

No test here depends on timing: slow steps are steps that never answer until cancelled, so a search
that waited for one would never end (each test runs under a generous `asyncio.wait_for`).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

import networkx as nx
import pytest

from llemma_prove.search import SearchConfig
from llemma_prove.search.best_first import BestFirstSearch
from llemma_prove.search.concurrent import pipelined
from llemma_prove.search.config import Priority
from llemma_prove.types import Candidate, GoalState, SamplingParams, SearchStatus, StepOutcome, Theorem
from llemma_prove.waits import WaitMeter, current_meter
from tests.search import test_paper_equivalence as worlds

THM = Theorem("t", "theorem t : P := by sorry")
HANG = "hang"  # a step that never answers: only cancelling it ends it


class Session:
    """Answers from a script {state: {tactic: (kind, next state)}}; HANG steps wait until cancelled."""

    def __init__(self, script, parallelism: int = 4) -> None:
        self.script = script
        self.parallelism = parallelism
        self.in_flight: set[tuple[str, str]] = set()
        self.cancelled: list[tuple[str, str]] = []
        self.log: list[tuple[str, str]] = []

    async def initial_state(self) -> GoalState:
        return GoalState("A")

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        key = (state.text, tactic)
        self.log.append(key)
        kind, target = self.script.get(state.text, {}).get(tactic, ("error", None))
        self.in_flight.add(key)
        try:
            if kind == HANG:
                await asyncio.Event().wait()
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise
        finally:
            self.in_flight.discard(key)
        if kind == "goals":
            return StepOutcome.goals(GoalState(target))
        if kind == "proved":
            return StepOutcome.proved()
        return StepOutcome.error("tactic failed")

    async def close(self) -> None:
        pass


class Proposer:
    """Answers from a table {state: [(tactic, score)]}; records what was running when it was asked.
    States in `hang` never get an answer (until the call is cancelled)."""

    def __init__(self, table, session: Session, hang=()) -> None:
        self.table, self.session, self.hang = table, session, set(hang)
        self.asked: list[tuple[str, frozenset]] = []
        self.cancelled: list[str] = []

    async def propose(self, requests, params):
        (request,) = requests
        state = request.state.text
        self.asked.append((state, frozenset(self.session.in_flight)))
        try:
            if state in self.hang:
                await asyncio.Event().wait()
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            self.cancelled.append(state)
            raise
        return [[Candidate(t, s) for t, s in self.table.get(state, [])]]


async def run(config, script, table, hang=(), parallelism=4):
    session = Session(script, parallelism)
    proposer = Proposer(table, session, hang)
    result = await asyncio.wait_for(BestFirstSearch(THM, session, proposer, config).run(), 10.0)
    return result, session, proposer


IMPROVED = SearchConfig.improved(max_expansions=20, priority=Priority.SUM_LOGPROB)


def test_only_the_paper_setting_runs_one_check_after_another():
    assert not pipelined(SearchConfig.paper())
    assert pipelined(SearchConfig.improved())
    assert not pipelined(SearchConfig.improved(parallel_checks=1))


async def test_a_hanging_check_holds_up_neither_the_next_generation_nor_its_checks():
    # a2 hangs. Its child could only cost 0.9, after B (0.1), so B is certainly next: B's candidates are
    # asked for and checked while a2 still runs, and b1's proof ends the search; a2 is cancelled.
    script = {"A": {"a1": ("goals", "B"), "a2": (HANG, None)}, "B": {"b1": ("proved", None)}}
    table = {"A": [("a1", -0.1), ("a2", -0.9)], "B": [("b1", -0.5)]}
    result, session, proposer = await run(IMPROVED, script, table)
    assert result.status is SearchStatus.PROVED and result.proof.tactics == ("a1", "b1")
    asked = dict(proposer.asked)
    assert ("A", "a2") in asked["B"]  # asked while a2 was running
    assert session.cancelled == [("A", "a2")] and not session.in_flight
    assert result.expansions == 2
    assert result.graph.nodes[[n for n, d in result.graph.nodes(data=True) if d.get("text") == "B"][0]]["expanded_at"] == 1


async def test_the_next_node_is_not_asked_for_while_a_running_check_could_still_come_first():
    # With depth-normalised priority a child of B (cost (0.1 + 0.05) / 2) beats C (0.5): while b1 runs,
    # C is not certain and must not be asked for; b1 hangs, so C is never asked and the search waits on b1.
    script = {"A": {"a1": ("goals", "B"), "a2": ("goals", "C")}, "B": {"b1": (HANG, None)}}
    table = {"A": [("a1", -0.1), ("a2", -0.5)], "B": [("b1", -0.05)], "C": [("c1", -1.0)]}
    config = SearchConfig.improved(max_expansions=20, time_limit_s=0.5)
    result, session, proposer = await run(config, script, table)
    assert result.status is SearchStatus.TIMEOUT
    assert [s for s, _ in proposer.asked] == ["A", "B"]
    assert session.cancelled == [("B", "b1")]


async def test_a_proof_cancels_the_running_checks_and_the_generation_ahead():
    # B is certain while A's a2, a3 hang; C (certain once B's candidates are known: B's child would cost
    # 2.1) has its generation hanging; b1 proves: everything still running is cancelled.
    script = {"A": {"a1": ("goals", "B"), "a2": ("goals", "C"), "a3": (HANG, None), "a4": (HANG, None)},
              "B": {"b1": (HANG, None), "b2": ("proved", None)}}
    table = {"A": [("a1", -0.1), ("a2", -0.2), ("a3", -3.0), ("a4", -3.1)], "B": [("b1", -2.0), ("b2", -2.5)],
             "C": [("c1", -1.0)]}
    result, session, proposer = await run(IMPROVED, script, table, hang={"C"})
    assert result.status is SearchStatus.PROVED and result.proof.tactics == ("a1", "b2")
    assert sorted(session.cancelled) == [("A", "a3"), ("A", "a4"), ("B", "b1")]
    assert proposer.cancelled == ["C"] and not session.in_flight


async def test_one_check_at_a_time_still_overlaps_generation():
    # A single worker: checks one after another in candidate order, but C is asked for while B's checks run.
    script = {"A": {"a1": ("goals", "B"), "a2": ("goals", "C")}, "B": {"b1": ("error", None), "b2": ("error", None)},
              "C": {"c1": ("proved", None)}}
    table = {"A": [("a1", -0.1), ("a2", -5.0)], "B": [("b1", -9.0), ("b2", -9.5)], "C": [("c1", -1.0)]}
    result, session, proposer = await run(IMPROVED, script, table, parallelism=1)
    assert result.status is SearchStatus.PROVED and result.proof.tactics == ("a2", "c1")
    assert session.log == [("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "b2"), ("C", "c1")]
    assert any(running for state, running in proposer.asked if state == "C")


# -- random worlds: the pipeline expands what one check after another expands ---------------------------


class YieldingSession(worlds.WorldSession):
    """A world's prover whose answers come back after a random number of event-loop turns."""

    def __init__(self, world, rng: random.Random, parallelism: int) -> None:
        super().__init__(world, worlds.VirtualClock())
        self.rng, self.parallelism = rng, parallelism

    async def step(self, state, tactic):
        for _ in range(self.rng.choice([0, 1, 2, 5, 20])):
            await asyncio.sleep(0)
        return await super().step(state, tactic)


class YieldingProposer(worlds.WorldProposer):
    def __init__(self, world, rng: random.Random) -> None:
        super().__init__(world, worlds.VirtualClock())
        self.rng = rng

    async def propose(self, requests, params):
        for _ in range(self.rng.choice([0, 3, 30])):
            await asyncio.sleep(0)
        return await super().propose(requests, params)


def graph_data(result):
    data = nx.node_link_data(result.graph, edges="edges")
    data["graph"].pop("config")
    for edge in data["edges"]:
        edge.pop("elapsed_s")
    return data


def expanded(result):
    nodes = [(d["expanded_at"], d["text"]) for _, d in result.graph.nodes(data=True) if d.get("expanded_at") is not None]
    return [text for _, text in sorted(nodes)]


def replays(world, tactics) -> bool:
    state = world.root
    for i, tactic in enumerate(tactics):
        step = world.script.get(state, {}).get(tactic)
        if step is None:
            return False
        if step.kind == worlds.PROVED:
            return i == len(tactics) - 1
        if step.kind not in (worlds.GOALS, worlds.SORRY):
            return False
        state = step.target
    return False


@pytest.mark.parametrize("merge", [True, False], ids=["merge-states", "no-merge"])
def test_the_pipeline_expands_the_same_states_in_the_same_order_on_random_worlds(merge):
    for seed in range(300):
        world = worlds.random_world(seed)
        config = SearchConfig.improved(max_expansions=world.max_iters, sampling=SamplingParams(n=world.n),
                                       merge_duplicate_states=merge, time_limit_s=1e9)
        results = []
        for parallel_checks, parallelism in ((1, 1), (0, random.Random(seed).choice([1, 2, 3, 8]))):
            rng = random.Random(seed * 7 + parallelism)
            session = YieldingSession(world, rng, parallelism)
            search = BestFirstSearch(THM, session, YieldingProposer(world, rng),
                                     replace(config, parallel_checks=parallel_checks))
            results.append(asyncio.run(search.run()))
        one_by_one, piped = results
        assert (piped.status is SearchStatus.PROVED) == (one_by_one.status is SearchStatus.PROVED), seed
        if piped.status is SearchStatus.PROVED:
            assert replays(world, piped.proof.tactics), seed
            a, b = expanded(piped), expanded(one_by_one)
            assert a[: len(b)] == b[: len(a)], seed  # the same order as far as both went
        else:
            assert piped.status is one_by_one.status, seed
            assert (piped.expansions, piped.steps) == (one_by_one.expansions, one_by_one.steps), seed
            assert graph_data(piped) == graph_data(one_by_one), seed


# -- the clock: queueing is off the clock only while every call of the search queues ------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_wait_meter_counts_overlapping_waits_once_and_only_while_every_call_waits():
    clock = Ticks()
    meter = WaitMeter(clock)
    a = meter.begin()
    clock.now = 2.0
    meter.end(a)  # one call at a time (nothing declared): a wait is queueing
    b = meter.begin()
    c = meter.begin()
    clock.now = 5.0
    meter.end(b)
    clock.now = 6.0
    meter.end(c)
    assert meter.total() == pytest.approx(2.0 + 4.0)  # b and c overlapped: counted once, not 3 + 4
    meter.call_started()
    meter.call_started()
    d = meter.begin()  # one of two calls waits, the other works: the search is not queued
    clock.now = 10.0
    assert meter.total() == pytest.approx(6.0)
    e = meter.begin()  # now both wait
    clock.now = 11.0
    assert meter.total() == pytest.approx(7.0)
    meter.end(d)
    meter.end(e)
    meter.call_ended()
    meter.call_ended()
    clock.now = 20.0
    assert meter.total() == pytest.approx(7.0)


async def test_a_check_queueing_while_another_runs_stays_on_the_clock():
    # q queues for 100 virtual seconds at a shared resource while r is running: the search was working
    # all along, so the 50 s clock runs out (with the queueing left off it, the search would end EXHAUSTED).
    clock = Ticks()
    released = asyncio.Event()

    class QueueingSession(Session):
        async def step(self, state, tactic):
            if tactic == "r":
                await released.wait()
            elif tactic == "q":
                await asyncio.sleep(0)  # r is in flight by now
                meter = current_meter()
                token = meter.begin()
                clock.now += 100.0
                await asyncio.sleep(0)
                meter.end(token)
                released.set()
            return StepOutcome.error("tactic failed")

    session = QueueingSession({}, parallelism=2)
    proposer = Proposer({"A": [("r", -0.1), ("q", -0.2)]}, session)
    config = SearchConfig.improved(max_expansions=5, time_limit_s=50.0)
    result = await asyncio.wait_for(BestFirstSearch(THM, session, proposer, config, clock).run(), 10.0)
    assert result.status is SearchStatus.TIMEOUT


async def test_failures_of_work_run_ahead_end_the_search_when_the_search_gets_there():
    from llemma_prove.errors import ProposerError, ProverError

    class FailingProposer(Proposer):
        async def propose(self, requests, params):
            if requests[0].state.text == "C":
                raise ProposerError("the model server went away")
            return await super().propose(requests, params)

    # C's generation runs ahead (C is certain while B's checks run) and fails: ERROR once C is popped.
    script = {"A": {"a1": ("goals", "B"), "a2": ("goals", "C")}, "B": {"b1": ("error", None)}}
    table = {"A": [("a1", -0.1), ("a2", -5.0)], "B": [("b1", -9.0)], "C": [("c1", -1.0)]}
    session = Session(script)
    result = await asyncio.wait_for(BestFirstSearch(THM, session, FailingProposer(table, session), IMPROVED).run(), 10)
    assert result.status is SearchStatus.ERROR and "model server went away" in result.error
    assert result.expansions == 3

    class BrokenSession(Session):
        async def step(self, state, tactic):
            if tactic == "b1":
                raise ProverError("the REPL died")
            return await super().step(state, tactic)

    session = BrokenSession(script)
    result = await asyncio.wait_for(BestFirstSearch(THM, session, Proposer(table, session), IMPROVED).run(), 10)
    assert result.status is SearchStatus.ERROR and "REPL died" in result.error
