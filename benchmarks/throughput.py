"""Throughput benchmark: the engine vs the paper harness's structure, same budget, same model and prover.

- Baseline (paper harness): one search at a time; each expansion generates candidates for one state,
  then checks each candidate in turn (`search.prove_theorem` called theorem after theorem).
- Engine: `Runner` at 1, 8 and 32 concurrent searches, all asking one `BatchingProposer`, with the
  real `RunStore` writing every result; prover checks of some searches overlap generation for others.
Both use the same tiny random Llama on CPU (tests/doubles/tiny_model.py) with beam search, the same
search budget, and the benchmarks' stand-in prover (benchmarks/standin.py, a test double for Lean)
with as many step slots as the product would start Lean workers on this machine (`--workers`; one per
core as memory allows), lognormal step latency (median 50 ms, long tail) and 2% of steps hanging to the
1 s step limit. Outcomes are fixed per (state, tactic), so every mode does the same search; the
benchmark prints whether the proofs found are identical. Ratios are measured in this one run.

Distance to the limit: in the same run, the floor the engine could reach with its resources is
max(model time with perfect batching, total prover time / workers). The model part is measured by
sending every request the 32-search engine made again, in full batches of 32 back to back; the prover
part is the stand-in's busy worker-seconds of that run divided by the slots. It prints
`speedup_32: <float>` (engine at 32 searches / baseline, theorems per minute), then
`limit_ratio: <float>` (engine wall time at 32 searches / floor; 1.0 is the limit).

    python benchmarks/throughput.py            # 64 theorems, 3 expansions x 8 beams, 64 new tokens
    python benchmarks/throughput.py --quick    # 32 theorems, 1 expansion x 4 beams, 32 new tokens (< 1 min)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.standin import StandInBehaviour, StandInProver, benchmark_theorems  # noqa: E402
from llemma_prove.config import RunConfig  # noqa: E402
from llemma_prove.data.minif2f import StatementSource  # noqa: E402
from llemma_prove.interfaces import Proposer  # noqa: E402
from llemma_prove.proposers.batching import BatchingProposer  # noqa: E402
from llemma_prove.proposers.prompts import default_lean4_template  # noqa: E402
from llemma_prove.proposers.tactic import TacticProposer  # noqa: E402
from llemma_prove.provers.lean.options import default_workers  # noqa: E402
from llemma_prove.runner import Runner, RunnerOptions  # noqa: E402
from llemma_prove.search import SearchConfig, prove_theorem  # noqa: E402
from llemma_prove.store import RunStore  # noqa: E402
from llemma_prove.types import DecodingMethod, SamplingParams, Theorem  # noqa: E402
from tests.doubles.tiny_model import TinyModelSpec, build_tiny_llama  # noqa: E402

WORKERS = default_workers()  # what the product starts here: one Lean process per core, as memory allows
BATCH_SIZE = 0  # requests per model call at most (0: as many as there are searches)


class RecordingProposer:
    """Passes calls through and keeps every request, to replay them in perfect batches afterwards."""

    def __init__(self, inner: Proposer) -> None:
        self.inner = inner
        self.requests: list = []
        self.params = None
        self.busy_s = 0.0  # time the model spent on these calls (one at a time)
        self.spans: list[tuple[float, float]] = []  # (start, end) of each call, perf_counter

    async def propose(self, requests, params):
        self.requests.extend(requests)
        self.params = params
        start = time.perf_counter()
        try:
            return await self.inner.propose(requests, params)
        finally:
            self.busy_s += time.perf_counter() - start
            self.spans.append((start, time.perf_counter()))

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class Measured:
    label: str
    theorems: int
    seconds: float
    proved: int
    steps: int
    proofs: dict[str, tuple[str, ...] | None]
    steps_by_theorem: dict[str, int]
    mean_batch: float = 1.0
    model_s: float = 0.0  # summed over searches: time waiting for candidates
    prover_s: float = 0.0  # summed over searches: time waiting for step outcomes
    prover_busy_s: float = 0.0  # worker-seconds the stand-in's slots were occupied
    prover_by_theorem: dict[str, float] = field(default_factory=dict)  # baseline: each search's prover wait
    started_at: float = 0.0  # perf_counter when the run began
    prover_spans: list[tuple[float, float]] = field(default_factory=list)  # the stand-in's occupations

    @property
    def per_minute(self) -> float:
        return 60.0 * self.theorems / self.seconds


def search_config(expansions: int, candidates: int, max_new_tokens: int) -> SearchConfig:
    sampling = SamplingParams(n=candidates, method=DecodingMethod.BEAM, max_new_tokens=max_new_tokens, stop=("---",))
    return SearchConfig(max_expansions=expansions, sampling=sampling, time_limit_s=3600.0)


async def baseline(theorems: Sequence[Theorem], roots: dict, proposer: Proposer, search: SearchConfig,
                   behaviour: StandInBehaviour) -> Measured:
    """The paper harness's structure: one search at a time, generate then check each candidate in turn."""
    prover = StandInProver(WORKERS, behaviour, roots)
    await prover.start()
    proofs, steps, by_theorem = {}, {}, {}
    model_s = prover_s = 0.0
    start = time.perf_counter()
    for theorem in theorems:
        result = await prove_theorem(theorem, prover, proposer, search)
        proofs[theorem.name] = result.proof.tactics if result.proved and result.proof else None
        steps[theorem.name] = result.steps
        model_s += result.model_wait_s
        prover_s += result.prover_s
        by_theorem[theorem.name] = result.prover_s
    seconds = time.perf_counter() - start
    return Measured("baseline (sequential)", len(theorems), seconds, sum(p is not None for p in proofs.values()),
                    prover.stats.steps, proofs, steps, 1.0, model_s, prover_s, prover_by_theorem=by_theorem)


async def engine(theorems: Sequence[Theorem], roots: dict, proposer: Proposer, search: SearchConfig,
                 behaviour: StandInBehaviour, concurrency: int, wait_ms: float, run_dir: Path,
                 recorder: RecordingProposer | None = None) -> Measured:
    """The runner at `concurrency` searches, one batching proposer, the real run store."""
    prover = StandInProver(WORKERS, behaviour, roots)
    await prover.start()
    if recorder is not None:
        recorder.inner, proposer = proposer, recorder
    batching = BatchingProposer(proposer, max_batch_size=min(concurrency, BATCH_SIZE or concurrency), max_wait_ms=wait_ms)
    config = RunConfig(split="bench", statements=StatementSource("standin-benchmark"), search=search,
                       concurrency=concurrency, selection=tuple(t.name for t in theorems))
    with RunStore.open(run_dir, config, resume=False) as store:
        runner = Runner(prover, batching, search, store, RunnerOptions(concurrency=concurrency, show_progress=False))
        start = time.perf_counter()
        await runner.run(theorems)
        seconds = time.perf_counter() - start
        records = store.records()
    proofs = {r.name: tuple(r.proof) if r.proved and r.proof else None for r in records}
    steps = {r.name: r.steps for r in records}
    return Measured(f"engine, {concurrency} searches", len(theorems), seconds, sum(r.proved for r in records),
                    prover.stats.steps, proofs, steps, batching.stats.mean_batch_size,
                    prover_busy_s=prover.stats.busy_s, started_at=start, prover_spans=list(prover.stats.spans))


async def perfect_batching_s(proposer: Proposer, recorder: RecordingProposer, batch: int) -> float:
    """Model time for every recorded request sent again in full batches, back to back."""
    start = time.perf_counter()
    for i in range(0, len(recorder.requests), batch):
        await proposer.propose(recorder.requests[i : i + batch], recorder.params)
    return time.perf_counter() - start


async def main_async(args: argparse.Namespace) -> None:
    import torch

    from llemma_prove.proposers.hf import TransformersModel

    torch.set_num_threads(max(1, args.threads))
    bench = benchmark_theorems(args.theorems)
    search = search_config(args.expansions, args.candidates, args.max_new_tokens)
    behaviour = StandInBehaviour()
    with tempfile.TemporaryDirectory() as tmp:
        spec = TinyModelSpec()
        model_dir = build_tiny_llama(Path(tmp) / "tiny", spec)
        model = TransformersModel(str(model_dir), device="cpu", dtype="float32",
                                  max_batch_size=max(args.concurrency) * args.candidates)
        proposer = TacticProposer(model, default_lean4_template())
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
              f"({torch.get_num_threads()} threads), device cpu")
        print(f"model: tiny random Llama (hidden {spec.hidden_size}, {spec.num_layers} layers), beam search")
        print(f"budget: {args.theorems} theorems, {args.expansions} expansions x {args.candidates} candidates, "
              f"{args.max_new_tokens} new tokens")
        print(f"stand-in prover: {WORKERS} workers (the product would start {default_workers()} here), lognormal latency (median {behaviour.median_s * 1000:.0f} ms, "
              f"sigma {behaviour.sigma:g}), {behaviour.hang_rate:.0%} hangs to the {behaviour.timeout_s:g} s limit")
        await proposer.propose([], search.sampling)
        model.generate_blocking([default_lean4_template().render("⊢ warm up")], search.sampling)  # warm-up

        runs = [await baseline(bench.theorems, bench.roots, proposer, search, behaviour)]
        print(_row(runs[0]))
        print(f"{'':>24}  (generation {runs[0].model_s:.1f} s, prover steps {runs[0].prover_s:.1f} s)")
        recorder = RecordingProposer(proposer)
        for c in args.concurrency:
            measured = await engine(bench.theorems, bench.roots, proposer, search, behaviour, c, args.batch_wait_ms,
                                    Path(tmp) / f"run-{c}", recorder if c == max(args.concurrency) else None)
            print(_row(measured))
            runs.append(measured)
        top = max(args.concurrency)
        last = runs[-1]
        model_floor = await perfect_batching_s(proposer, recorder, top)
        prover_floor = last.prover_busy_s / WORKERS
        floor = max(model_floor, prover_floor)
        print(f"floor at {top} searches: {floor:.2f} s = max(model with perfect batching {model_floor:.2f} s "
              f"[{len(recorder.requests)} requests in batches of {top}], prover {last.prover_busy_s:.1f} "
              f"worker-s / {WORKERS} workers = {prover_floor:.2f} s); best possible speedup_{top}: "
              f"{runs[0].seconds / floor:.2f}")
        chain = max(runs[0].prover_by_theorem.values(), default=0.0)
        print(f"  in that run the model was busy {recorder.busy_s:.2f} s ({recorder.busy_s / last.seconds:.0%} of the "
              f"wall time) and the prover slots {last.prover_busy_s / (WORKERS * last.seconds):.0%}; the longest "
              f"single search's own chain of prover steps (one after another in paper mode) is {chain:.2f} s")
        print(phases(last, recorder.spans))
        same = all(m.proofs == runs[0].proofs for m in runs[1:])
        print(f"same proofs in every mode: {same}")
        differ = sorted({n for m in runs[1:] for n in m.steps_by_theorem
                         if m.steps_by_theorem[n] != runs[0].steps_by_theorem.get(n)})
        print(f"theorems whose searches took a different number of prover steps in some mode: {len(differ)}"
              + (f" ({', '.join(differ)}: the model's candidates are the only input that varies, and batched float32 generation is not bit-identical to one prompt at a time)" if differ else ""))
        base = runs[0].per_minute
        for measured, c in zip(runs[1:], args.concurrency):
            print(f"speedup_{c}: {measured.per_minute / base:.2f}")
        print(f"limit_ratio: {last.seconds / floor:.2f}")


def phases(run: Measured, model_spans: Sequence[tuple[float, float]]) -> str:
    """Where the distance to the floor comes from: the start (every search waits for its first candidates,
    no prover slot busy), the middle (model and prover both at work), the end (the last generation is
    done and the last searches check their candidates one after another, paper mode)."""
    if not model_spans or not run.prover_spans:
        return "  (no timeline)"
    t0, t1 = run.started_at, run.started_at + run.seconds
    first_check = min(s for s, _ in run.prover_spans)
    last_generation = max(e for _, e in model_spans)

    def busy(spans: Sequence[tuple[float, float]], lo: float, hi: float) -> float:
        return sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in spans)

    middle = max(1e-9, last_generation - first_check)
    end = max(1e-9, t1 - last_generation)
    return (f"  timeline at {len(model_spans)} model calls: start {first_check - t0:.2f} s until the first check; "
            f"middle {middle:.2f} s with the prover slots {busy(run.prover_spans, first_check, last_generation) / (WORKERS * middle):.0%} "
            f"and the model {busy(model_spans, first_check, last_generation) / middle:.0%} busy; end {end:.2f} s after the "
            f"last generation with the prover slots {busy(run.prover_spans, last_generation, t1) / (WORKERS * end):.0%} busy")


def _row(m: Measured) -> str:
    return (f"{m.label:>24}: {m.seconds:7.2f} s  {m.per_minute:7.1f} theorems/min  proved {m.proved:3d}/{m.theorems}"
            f"  steps {m.steps:5d}  mean batch {m.mean_batch:5.1f}")


def main() -> None:
    global WORKERS, BATCH_SIZE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller run, under a minute on 2 cores")
    parser.add_argument("--theorems", type=int, default=64)
    parser.add_argument("--expansions", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-wait-ms", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="most requests per model call (default: as many as there are searches)")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help=f"stand-in Lean workers (default {WORKERS}: what the product would start on this machine)")
    args = parser.parse_args()
    if args.quick:
        args.theorems, args.expansions, args.candidates, args.max_new_tokens = 32, 1, 4, 32
    args.concurrency = (1, 8, 32)
    WORKERS = args.workers
    BATCH_SIZE = args.batch_size
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
