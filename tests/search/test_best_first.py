"""Best-first search against the scripted prover and proposer doubles."""

from __future__ import annotations

import heapq
import random

import networkx as nx
import pytest

from llemma_prove.errors import ProverError
from llemma_prove.search import Priority, SearchConfig, best_first_search, graph_from_json, graph_to_json
from llemma_prove.search.best_first import clean_candidate_order, paper_candidate_order
from llemma_prove.types import Candidate, OutcomeKind, Proof, SamplingParams, SearchStatus, Theorem
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves, times_out

THM = Theorem("t", "theorem t : P := by sorry")


async def run(script, table, config=None, root="A", clock=None):
    prover = ScriptedProver(script, {"t": root})
    proposer = ScriptedProposer(table)
    session = await prover.open(THM)
    kwargs = {"clock": clock} if clock else {}
    result = await best_first_search(THM, session, proposer, config or SearchConfig(), **kwargs)
    return result, prover, proposer


def expansion_order(result) -> list[str]:
    nodes = [(d["expanded_at"], d["text"]) for _, d in result.graph.nodes(data=True) if d.get("expanded_at") is not None]
    return [text for _, text in sorted(nodes)]


# A small world with a dead end, an error, a timeout, a duplicate state and a proof two steps deep.
SCRIPT = {
    "A": {"a1": goes_to("B"), "a2": goes_to("C"), "a3": fails("unknown identifier"), "a4": times_out()},
    "B": {"b1": goes_to("D"), "b2": goes_to("C")},  # C is reachable twice
    "C": {"c1": goes_to("E")},
    "D": {},  # dead end: every candidate errors
    "E": {"e1": proves()},
}
TABLE = {
    "A": [("a1", -0.1), ("a2", -0.5), ("a3", -0.2), ("a4", -0.3)],
    "B": [("b1", -0.1), ("b2", -0.2)],
    "C": [("c1", -0.4)],
    "D": [("d1", -0.1)],
    "E": [("e1", -0.1)],
}


async def test_finds_the_proof_through_errors_timeouts_and_dead_ends():
    result, prover, _ = await run(SCRIPT, TABLE)
    assert result.status is SearchStatus.PROVED
    assert result.proof == Proof(("a1", "b2", "c1", "e1"))
    # The proof replays through the script, as a from-scratch check would.
    assert (await prover.verify(THM, result.proof)).accepted
    kinds = {d["outcome"] for _, _, d in result.graph.edges(data=True)}
    assert {"goals", "error", "timeout", "proved"} <= kinds


async def test_faithful_order_and_duplicate_state_queued_twice_in_tree_mode():
    result, _, proposer = await run(SCRIPT, TABLE)
    # costs: B .1, C .5, D .2, C-via-B .3 ; E via C-via-B = .7, E via C = .9
    # The paper checks `visited` only when queueing, so C (queued twice before either copy was
    # expanded) is expanded twice: A, B(.1), D(.2), C via B(.3), C via A(.5), E(.7).
    assert expansion_order(result) == ["A", "B", "D", "C", "C", "E"]
    assert result.proof == Proof(("a1", "b2", "c1", "e1"))
    assert [r.state.text for r in proposer.requests] == ["A", "B", "D", "C", "C", "E"]


async def test_merge_mode_shares_identical_states():
    config = SearchConfig(merge_duplicate_states=True)
    result, _, _ = await run(SCRIPT, TABLE, config)
    texts = [d["text"] for _, d in result.graph.nodes(data=True) if d["kind"] == "state"]
    assert len(texts) == len(set(texts))  # one node per state text
    c_node = next(n for n, d in result.graph.nodes(data=True) if d.get("text") == "C")
    assert result.graph.in_degree(c_node) == 2  # reached from A and from B
    assert expansion_order(result).count("C") == 1  # and expanded once, unlike the paper's tree
    assert result.status is SearchStatus.PROVED


async def test_tree_mode_never_requeues_an_expanded_state():
    script = {"A": {"x": goes_to("B")}, "B": {"back": goes_to("A"), "y": goes_to("C")}, "C": {}}
    table = {"A": [("x", -0.1)], "B": [("back", -0.01), ("y", -0.5)], "C": [("z", -0.1)]}
    result, _, _ = await run(script, table)
    assert result.status is SearchStatus.EXHAUSTED
    assert expansion_order(result) == ["A", "B", "C"]
    dropped = [d for _, d in result.graph.nodes(data=True) if d.get("queued") is False]
    assert [d["text"] for d in dropped] == ["A"]


async def test_expansion_budget_is_respected():
    # An endless chain: S0 -> S1 -> ...
    script = {f"S{i}": {"next": goes_to(f"S{i + 1}")} for i in range(500)}
    table = {f"S{i}": [("next", -0.1)] for i in range(500)}
    result, _, proposer = await run(script, table, SearchConfig(max_expansions=7), root="S0")
    assert result.status is SearchStatus.BUDGET
    assert result.expansions == 7
    assert len(proposer.requests) == 7


async def test_candidate_count_is_passed_to_the_proposer():
    table = {"A": [(f"t{i}", -0.01 * i) for i in range(50)]}
    config = SearchConfig(sampling=SamplingParams(n=5))
    result, prover, _ = await run({"A": {}}, table, config)
    assert result.status is SearchStatus.EXHAUSTED
    assert len(prover.calls) == 5


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowModel(ScriptedProposer):
    def __init__(self, table, clock, seconds) -> None:
        super().__init__(table)
        self.clock, self.seconds = clock, seconds

    async def propose(self, requests, params):
        self.clock.now += self.seconds
        return await super().propose(requests, params)


async def test_time_limit_counts_model_time_by_default_and_not_when_excluded():
    script = {f"S{i}": {"next": goes_to(f"S{i + 1}")} for i in range(100)}
    table = {f"S{i}": [("next", -0.1)] for i in range(100)}
    for exclude, expected in ((False, SearchStatus.TIMEOUT), (True, SearchStatus.BUDGET)):
        clock = FakeClock()
        prover = ScriptedProver(script, {"t": "S0"})
        proposer = SlowModel(table, clock, seconds=10.0)
        config = SearchConfig(max_expansions=20, time_limit_s=55.0, exclude_model_wait=exclude)
        result = await best_first_search(THM, await prover.open(THM), proposer, config, clock=clock)
        assert result.status is expected
        assert result.model_wait_s == pytest.approx(10.0 * result.expansions)
    # with model time counted, 55 s allow 6 generations of 10 s each (checked before each step)
    clock = FakeClock()
    proposer = SlowModel(table, clock, seconds=10.0)
    prover = ScriptedProver(script, {"t": "S0"})
    config = SearchConfig(max_expansions=20, time_limit_s=55.0)
    result = await best_first_search(THM, await prover.open(THM), proposer, config, clock=clock)
    assert result.expansions == 6


def test_paper_candidate_order_dedups_raw_text_then_strips():
    cands = [Candidate(" a", -0.5), Candidate("a", -0.1), Candidate(" a", -0.2), Candidate("", -0.05), Candidate("b", -0.1)]
    assert [(c.tactic, c.score) for c in paper_candidate_order(cands)] == [
        ("", -0.05), ("a", -0.1), ("b", -0.1), ("a", -0.2),
    ]
    assert [(c.tactic, c.score) for c in clean_candidate_order(cands)] == [("a", -0.1), ("b", -0.1)]


async def test_clean_candidates_avoid_repeated_and_empty_steps():
    table = {"A": [(" a1", -0.3), ("a1", -0.2), ("", -0.01), ("a1 ", -0.25)]}
    script = {"A": {"a1": goes_to("B")}, "B": {}}
    _, prover, _ = await run(script, table)
    assert [c[2] for c in prover.calls if c[1] == "A"] == ["", "a1", "a1", "a1"]
    _, prover, _ = await run(script, table, SearchConfig(clean_candidates=True))
    assert [c[2] for c in prover.calls if c[1] == "A"] == ["a1"]


async def test_depth_normalised_priority_prefers_deep_confident_paths():
    # Path via B is long but confident; C is shallow but less likely overall.
    script = {
        "A": {"toB": goes_to("B"), "toC": goes_to("C")},
        "B": {"toB2": goes_to("B2")},
        "B2": {"toB3": goes_to("B3")},
        "B3": {},
        "C": {},
    }
    table = {"A": [("toB", -0.3), ("toC", -0.7)], "B": [("toB2", -0.3)], "B2": [("toB3", -0.3)]}
    result, _, _ = await run(script, table)
    assert expansion_order(result)[:3] == ["A", "B", "B2"]  # sums .3, .6 < .7
    result, _, _ = await run(script, table, SearchConfig(priority=Priority.DEPTH_NORMALISED))
    assert expansion_order(result)[:4] == ["A", "B", "B2", "B3"]


async def test_prover_crash_ends_the_search_as_error():
    class Crashing(ScriptedProver):
        async def open(self, theorem):
            session = await super().open(theorem)

            async def step(state, tactic):
                raise ProverError("REPL died and could not be restarted")

            session.step = step
            return session

    prover = Crashing(SCRIPT, {"t": "A"})
    result = await best_first_search(THM, await prover.open(THM), ScriptedProposer(TABLE), SearchConfig())
    assert result.status is SearchStatus.ERROR
    assert "REPL died" in result.error


async def test_graph_round_trips_through_json():
    result, _, _ = await run(SCRIPT, TABLE)
    import json

    data = json.loads(json.dumps(graph_to_json(result.graph)))
    again = graph_from_json(data)
    assert nx.utils.graphs_equal(again, result.graph)
    assert result.elapsed_s >= result.prover_s + result.model_wait_s


# -- the paper's harness, written out independently, compared on random worlds ----------------------


def paper_reference(script, table, root, max_iters, n):
    """llemma_formal2formal `best_first_search` with Dojo replaced by the script (for comparison)."""
    queue = [(0.0, [], root)]
    visited = set()
    expanded = []
    for _ in range(max_iters):
        if not queue:
            break
        total_score, steps, state = heapq.heappop(queue)
        visited.add(state)
        expanded.append(state)
        rows = list(table.get(state, ()))[:n]
        texts, scores = [], []
        for t, s in sorted(rows, key=lambda x: -x[1]):  # _unique_sorted
            if t not in texts:
                texts.append(t)
                scores.append(s)
        texts = [t.strip() for t in texts]
        for step, score in zip(texts, scores):
            edge = script.get(state, {}).get(step)
            if edge is None or edge.kind in (OutcomeKind.ERROR, OutcomeKind.TIMEOUT):
                continue
            if edge.kind is OutcomeKind.PROVED:
                return expanded, steps + [step]
            if edge.target not in visited:
                heapq.heappush(queue, (total_score - score, steps + [step], edge.target))
    return expanded, None


def random_world(rng: random.Random):
    states = [f"S{i}" for i in range(rng.randint(3, 25))]
    script, table = {}, {}
    scores = [-0.1, -0.25, -0.5, -1.0, -2.0]  # few distinct values: ties happen
    for s in states:
        edges, rows = {}, []
        for j in range(rng.randint(0, 6)):
            tactic = f"{s.lower()}_t{j}"
            r = rng.random()
            if r < 0.5:
                edges[tactic] = goes_to(rng.choice(states))
            elif r < 0.6:
                edges[tactic] = proves()
            elif r < 0.8:
                edges[tactic] = fails()
            else:
                edges[tactic] = times_out()
            rows.append((tactic, rng.choice(scores)))
            if rng.random() < 0.2:  # a whitespace variant of the same tactic
                rows.append((" " + tactic, rng.choice(scores)))
            if rng.random() < 0.1:  # an exact duplicate
                rows.append((tactic, rng.choice(scores)))
        script[s], table[s] = edges, rows
    return states[0], script, table


@pytest.mark.parametrize("seed", range(60))
async def test_faithful_mode_expands_in_exactly_the_papers_order(seed):
    rng = random.Random(seed)
    root, script, table = random_world(rng)
    max_iters = rng.choice([3, 10, 100])
    n = rng.choice([2, 4, 32])
    config = SearchConfig(max_expansions=max_iters, sampling=SamplingParams(n=n))
    result, _, _ = await run(script, table, config, root=root)
    expected_expanded, expected_proof = paper_reference(script, table, root, max_iters, n)
    assert expansion_order(result) == expected_expanded
    assert (list(result.proof.tactics) if result.proof else None) == expected_proof
