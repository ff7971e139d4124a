"""Pipelined concurrent search: many searches share one batching proposer, checks overlap generation,
and every search keeps its own budget, so results under concurrency equal the results alone."""

from __future__ import annotations

import json
import time

import pytest

from llemma_prove.proposers.batching import BatchingProposer
from llemma_prove.runner import Runner, RunnerOptions
from llemma_prove.search import SearchConfig
from llemma_prove.store import RESULTS_FILE, RunStore
from llemma_prove.types import DecodingMethod, SamplingParams
from tests.runner.common import config
from tests.throughput.worlds import world

QUIET = dict(show_progress=False)


def _records(run_dir) -> dict[str, dict]:
    lines = [json.loads(line) for line in (run_dir / RESULTS_FILE).read_text().splitlines()]
    return {l["name"]: {k: l[k] for k in ("status", "proof", "expansions", "steps")} for l in lines}


async def _run(tmp_path, label, theorems, prover, proposer, search, concurrency):
    run_dir = tmp_path / label
    with RunStore.open(run_dir, config([t.name for t in theorems], search=search)) as store:
        await Runner(prover, proposer, search, store, RunnerOptions(concurrency=concurrency, **QUIET)).run(theorems)
    return _records(run_dir)


@pytest.mark.parametrize("expansions", [3, 4])
async def test_concurrency_8_gives_the_same_proofs_as_running_alone(tmp_path, expansions):
    search = SearchConfig(max_expansions=expansions)
    theorems, prover, proposer = world(16)
    alone = await _run(tmp_path, "alone", theorems, prover, proposer, search, 1)

    theorems, prover, inner = world(16)
    batching = BatchingProposer(inner, max_batch_size=8, max_wait_ms=2)
    together = await _run(tmp_path, "together", theorems, prover, batching, search, 8)

    assert together == alone  # status, proof, expansions and prover steps, theorem by theorem
    statuses = {r["status"] for r in alone.values()}
    assert "proved" in statuses and statuses - {"proved"}  # both outcomes occur, so the comparison means something
    assert all(r["expansions"] <= expansions for r in together.values())  # the budget is per search
    assert batching.stats.largest_batch > 1 and max(inner.batch_sizes) > 1  # requests really were batched


class _TimedProposer:
    """Wraps a proposer double; records when each inner call ran and for which states."""

    def __init__(self, inner, delay_s):
        self.inner, self.delay_s, self.calls = inner, delay_s, []

    async def propose(self, requests, params):
        import asyncio

        start = time.monotonic()
        await asyncio.sleep(self.delay_s)  # a model busy generating
        out = await self.inner.propose(requests, params)
        self.calls.append((start, time.monotonic(), {r.theorem.name for r in requests}))
        return out


class _TimedProver:
    """Wraps a prover double; records when each step ran and for which theorem."""

    def __init__(self, inner):
        self.inner, self.name, self.steps = inner, inner.name, []

    async def start(self):
        await self.inner.start()

    async def open(self, theorem):
        session = await self.inner.open(theorem)
        step = session.step

        async def timed(state, tactic):
            start = time.monotonic()
            outcome = await step(state, tactic)
            self.steps.append((start, time.monotonic(), theorem.name))
            return outcome

        session.step = timed
        return session

    async def verify(self, theorem, proof):
        return await self.inner.verify(theorem, proof)

    def render(self, theorem, proof):
        return self.inner.render(theorem, proof)

    async def close(self):
        await self.inner.close()


async def test_prover_checks_of_one_search_overlap_generation_for_others(tmp_path):
    search = SearchConfig(max_expansions=3)
    theorems, inner_prover, inner_proposer = world(8, max_delay_s=0.01)
    prover, model = _TimedProver(inner_prover), _TimedProposer(inner_proposer, delay_s=0.03)
    started = time.monotonic()
    await _run(tmp_path, "run", theorems, prover, BatchingProposer(model, max_batch_size=8, max_wait_ms=1), search, 4)
    wall = time.monotonic() - started

    overlapping = [
        (step, call) for step in prover.steps for call in model.calls
        if step[0] < call[1] and call[0] < step[1] and step[2] not in call[2]
    ]
    assert overlapping, "no prover step ran while the model generated for another search"
    busy = sum(e - s for s, e, _ in model.calls) + sum(e - s for s, e, _ in prover.steps)
    # From the first generation to the last check (run-directory set-up, writing results and the final
    # checks are not part of the overlap): shorter than the busy time only if the two ran at once.
    spans = [(s, e) for s, e, _ in model.calls] + [(s, e) for s, e, _ in prover.steps]
    active = max(e for _, e in spans) - min(s for s, _ in spans)
    assert active <= wall
    assert active < busy  # generation and checking ran at the same time, not one after the other


async def test_tiny_model_beam_search_same_proofs_alone_and_batched(tmp_path):
    """The real transformers proposer (tiny random Llama, beam search) batched across 8 searches."""
    pytest.importorskip("torch")
    from benchmarks.standin import StandInBehaviour, StandInProver, benchmark_theorems
    from llemma_prove.proposers.hf import TransformersModel
    from llemma_prove.proposers.prompts import default_lean4_template
    from llemma_prove.proposers.tactic import TacticProposer
    from tests.doubles.tiny_model import build_tiny_llama

    model = TransformersModel(str(build_tiny_llama(tmp_path / "tiny")), device="cpu", dtype="float32",
                              max_batch_size=64)
    proposer = TacticProposer(model, default_lean4_template())
    sampling = SamplingParams(n=4, method=DecodingMethod.BEAM, max_new_tokens=6, stop=("---",))
    search = SearchConfig(max_expansions=2, sampling=sampling)
    behaviour = StandInBehaviour(median_s=0.002, sigma=0.5, timeout_s=0.05, proved_rate=0.15, goals_rate=0.5)
    bench = benchmark_theorems(8)

    alone = await _run(tmp_path, "alone", bench.theorems, StandInProver(8, behaviour, bench.roots), proposer,
                       search, 1)
    batching = BatchingProposer(proposer, max_batch_size=8, max_wait_ms=20)
    together = await _run(tmp_path, "together", bench.theorems, StandInProver(8, behaviour, bench.roots), batching,
                          search, 8)
    assert together == alone
    assert any(r["status"] == "proved" for r in alone.values())
    assert batching.stats.largest_batch > 1
