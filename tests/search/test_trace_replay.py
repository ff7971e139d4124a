"""Replay the 599 real Lean search steps of miniF2F-test through the search.

The prover double answers (state, tactic) from the recorded next state; the proposer double offers the
recorded tactics at each state. Every recorded proof must be found.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from llemma_prove.search import SearchConfig, best_first_search
from llemma_prove.types import Proof, SearchStatus, Theorem
from tests.conftest import require_shared
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves

TRACES = "tactics/minif2f_test_search_traces.jsonl"


def load_rows():
    path = require_shared(TRACES)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def world(rows):
    script: dict[str, dict] = defaultdict(dict)
    for r in rows:
        after = r["state_after"]
        script[r["state_before"]][r["tactic"]] = proves() if after == "no goals" else goes_to(after)
    return script


def sequences(rows):
    """(theorem, source) -> tactic list, for the sequences whose every step survived deduplication."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["theorem"], r["source"])].append(r)
    out = {}
    for key, group in groups.items():
        group.sort(key=lambda r: r["step"])
        if [r["step"] for r in group] == list(range(group[0]["num_steps"])):
            out[key] = group
    return out


def test_the_trace_file_is_the_one_described():
    rows = load_rows()
    assert len(rows) == 599
    assert len({r["theorem"] for r in rows}) == 113


async def test_every_complete_recorded_proof_is_found_exactly():
    rows = load_rows()
    script = world(rows)
    seqs = sequences(rows)
    assert len(seqs) > 300
    # Each recorded tactic is offered at its state together with a failing distractor that scores higher.
    for (theorem, source), group in seqs.items():
        table = {}
        for r in group:
            table[r["state_before"]] = [("distractor_" + r["tactic"], -0.01), (r["tactic"], -0.5)]
            script[r["state_before"]].setdefault("distractor_" + r["tactic"], fails("unknown tactic"))
        thm = Theorem(theorem, f"theorem {theorem} : _ := by sorry", split="test")
        prover = ScriptedProver(script, {theorem: group[0]["state_before"]})
        result = await best_first_search(thm, await prover.open(thm), ScriptedProposer(table), SearchConfig())
        recorded = Proof(tuple(r["tactic"] for r in group))
        assert result.status is SearchStatus.PROVED, (theorem, source)
        assert result.proof == recorded, (theorem, source)
        assert (await prover.verify(thm, result.proof)).accepted


@pytest.mark.parametrize("improved", [False, True])
async def test_every_theorem_is_proved_with_all_recorded_tactics_offered(improved):
    rows = load_rows()
    script = world(rows)
    table = defaultdict(list)
    for r in rows:
        table[r["state_before"]].append((r["tactic"], -0.1 * (1 + r["step"])))
    roots = {}
    for r in rows:
        if r["step"] == 0:
            roots.setdefault(r["theorem"], r["state_before"])
    assert len(roots) == 113
    config = SearchConfig.improved() if improved else SearchConfig()
    proved = 0
    for theorem, root in roots.items():
        thm = Theorem(theorem, f"theorem {theorem} : _ := by sorry", split="test")
        prover = ScriptedProver(script, {theorem: root})
        result = await best_first_search(thm, await prover.open(thm), ScriptedProposer(table), config)
        assert result.status is SearchStatus.PROVED, theorem
        assert (await prover.verify(thm, result.proof)).accepted, theorem
        proved += 1
    assert proved == 113
