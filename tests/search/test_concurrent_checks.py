"""Improved mode checks an expansion's candidates at once; paper mode's prover calls are unchanged."""

from __future__ import annotations

import time
from dataclasses import replace

import networkx as nx

from llemma_prove.search import SearchConfig, best_first_search
from llemma_prove.search.config import Priority
from llemma_prove.types import SearchStatus, Theorem
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, ScriptedSession, fails, goes_to, proves, times_out

THM = Theorem("t", "theorem t : P := by sorry")

SCRIPT = {
    "A": {"a1": goes_to("B", 0.02), "a2": goes_to("C", 0.01), "a3": fails(delay_s=0.03), "a4": times_out(0.01)},
    "B": {"b1": goes_to("D", 0.02), "b2": goes_to("C", 0.01), "b3": fails(delay_s=0.01)},
    "C": {"c1": goes_to("E", 0.01), "c2": fails(delay_s=0.02)},
    "D": {"d1": fails(delay_s=0.01)},
    "E": {"e1": fails(delay_s=0.01), "e2": goes_to("F", 0.01)},
    "F": {},
}
TABLE = {
    "A": [("a1", -0.1), ("a2", -0.5), ("a3", -0.7), ("a4", -0.9)],
    "B": [("b1", -0.2), ("b2", -0.3), ("b3", -0.4)],
    "C": [("c1", -0.2), ("c2", -0.6)],
    "D": [("d1", -0.1)],
    "E": [("e1", -0.1), ("e2", -0.2)],
}


class ParallelSession(ScriptedSession):
    """A scripted session that says it can run 4 steps at once and records how many it did."""

    parallelism = 4

    def __init__(self, prover, theorem) -> None:
        super().__init__(prover, theorem)
        self.in_flight = 0
        self.peak = 0

    async def step(self, state, tactic):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await super().step(state, tactic)
        finally:
            self.in_flight -= 1


class WatchingProposer(ScriptedProposer):
    """Records how many checks were running when each generation was asked for."""

    def __init__(self, table, session=None) -> None:
        super().__init__(table)
        self.session = session
        self.in_flight_at_request: list[tuple[str, int]] = []

    async def propose(self, requests, params):
        for r in requests:
            self.in_flight_at_request.append((r.state.text, self.session.in_flight if self.session else 0))
        return await super().propose(requests, params)


async def search(config, script=SCRIPT, table=TABLE, parallel=True):
    prover = ScriptedProver(script, {"t": "A"})
    session = ParallelSession(prover, THM) if parallel else ScriptedSession(prover, THM)
    proposer = WatchingProposer(table, session if parallel else None)
    result = await best_first_search(THM, session, proposer, config)
    return result, prover, session, proposer


def graph_data(result):
    data = nx.node_link_data(result.graph, edges="edges")
    data["graph"].pop("config")  # the configs differ in parallel_checks only
    for edge in data["edges"]:
        edge.pop("elapsed_s")
    return data


async def test_paper_mode_calls_the_prover_one_at_a_time_in_candidate_order():
    config = SearchConfig.paper()
    assert config.parallel_checks == 1
    parallel, prover_p, session, _ = await search(config, parallel=True)
    plain, prover_s, _, _ = await search(config, parallel=False)
    assert session.peak == 1  # a session able to run 4 at once still gets one at a time
    assert prover_p.calls == prover_s.calls
    assert [c[2] for c in prover_p.calls[:4]] == ["a1", "a2", "a3", "a4"]
    assert graph_data(parallel) == graph_data(plain)


async def test_improved_mode_checks_at_once_and_builds_the_same_graph():
    improved = SearchConfig.improved(max_expansions=10)
    assert improved.parallel_checks == 0  # as many as the session runs
    one_by_one = replace(improved, parallel_checks=1)
    fast, prover_f, session, _ = await search(improved)
    slow, prover_s, _, _ = await search(one_by_one, parallel=False)
    assert session.peak == 4
    assert fast.status is slow.status is SearchStatus.EXHAUSTED
    assert (fast.expansions, fast.steps) == (slow.expansions, slow.steps)
    assert sorted(prover_f.calls) == sorted(prover_s.calls)
    assert graph_data(fast) == graph_data(slow)


async def test_first_proof_found_ends_the_search_and_stops_the_other_checks():
    script = {"A": {"slow": fails(delay_s=2.0), "quick": proves(0.01), "slower": fails(delay_s=3.0)}}
    table = {"A": [("slow", -0.1), ("quick", -0.2), ("slower", -0.3)]}
    start = time.monotonic()
    result, _, session, _ = await search(SearchConfig.improved(), script, table)
    assert time.monotonic() - start < 1.0  # not after the slow checks
    assert result.status is SearchStatus.PROVED and result.proof.tactics == ("quick",)
    assert session.in_flight == 0  # the others were cancelled
    leaves = [d for _, _, d in result.graph.edges(data=True)]
    assert [e["tactic"] for e in leaves] == ["quick"]


async def test_next_generation_overlaps_checks_only_when_the_next_node_is_certain():
    # A's expansion queues B (cost 0.1) and C (cost 5). Every child of B would cost more than 5, so C
    # is certainly next: its candidates are asked for while B's checks still run.
    script = {
        "A": {"a1": goes_to("B"), "a2": goes_to("C")},
        "B": {"b1": fails(delay_s=0.05), "b2": goes_to("G", 0.05)},
        "C": {"c1": fails(delay_s=0.01)},
        "G": {"g1": fails(delay_s=0.01)},
    }
    table = {"A": [("a1", -0.1), ("a2", -5.0)], "B": [("b1", -9.0), ("b2", -9.5)], "C": [("c1", -1.0)],
             "G": [("g1", -1.0)]}
    # with sum-of-scores priority (under depth-normalised priority B's children, 9.1 / 2, would come before C)
    config = SearchConfig.improved(max_expansions=10, priority=Priority.SUM_LOGPROB)
    fast, _, _, proposer = await search(config, script, table)
    slow, _, _, _ = await search(replace(config, parallel_checks=1), script, table, parallel=False)
    asked = dict(proposer.in_flight_at_request)
    assert asked["C"] > 0  # generation for C started while B's checks were running
    assert asked["B"] == 0  # B was not certain while A's checks ran (a2 could have come first)
    assert [r.state.text for r in proposer.requests] == ["A", "B", "C", "G"]
    assert graph_data(fast) == graph_data(slow)
