"""Tactic-outcome cache benchmark: run the same configuration twice over one cache file; count prover calls.

Same set-up as benchmarks/throughput.py (runner with concurrent searches and a batching proposer, the
tiny random Llama on CPU with beam search, the benchmarks' stand-in prover, a test double for Lean),
with the prover wrapped in `CachingProver`. The first run fills the cache; the second run (a new run
directory, the same configuration and cache file) asks the prover only what the cache cannot answer:
timeouts (never cached, they depend on the machine) and the replays needed to rebuild a state before
such a step. The final from-scratch check of each proof is never served from the cache and is counted
apart. A third run with another strategy (`SearchConfig.improved()` and twice the expansions) shows the
hit rate when the states overlap only in part. All ratios are measured in this run.

    python benchmarks/cache.py            # 32 theorems, 3 expansions x 8 beams, 16 new tokens
    python benchmarks/cache.py --quick    # 16 theorems, 2 expansions x 8 beams
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
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.standin import StandInBehaviour, StandInProver, benchmark_theorems  # noqa: E402
from benchmarks.throughput import search_config  # noqa: E402
from llemma_prove.config import RunConfig  # noqa: E402
from llemma_prove.data.minif2f import StatementSource  # noqa: E402
from llemma_prove.proposers.batching import BatchingProposer  # noqa: E402
from llemma_prove.proposers.prompts import default_lean4_template  # noqa: E402
from llemma_prove.proposers.tactic import TacticProposer  # noqa: E402
from llemma_prove.provers.cache import CachingProver, TacticCache  # noqa: E402
from llemma_prove.runner import Runner, RunnerOptions  # noqa: E402
from llemma_prove.search import SearchConfig  # noqa: E402
from llemma_prove.store import RunStore  # noqa: E402
from tests.doubles.tiny_model import TinyModelSpec, build_tiny_llama  # noqa: E402


@dataclass(frozen=True)
class CacheRun:
    label: str
    seconds: float
    steps: int  # step calls that reached the prover
    checks: int  # final from-scratch checks (never cached)
    hits: int
    misses: int
    replays: int
    proofs: dict[str, tuple[str, ...] | None]

    @property
    def hit_rate(self) -> float:
        return self.hits / (self.hits + self.misses) if self.hits + self.misses else 0.0


async def one_run(label: str, bench, proposer, search: SearchConfig, cache_file: Path, run_dir: Path,
                  concurrency: int) -> CacheRun:
    inner = StandInProver(8, StandInBehaviour(), bench.roots)
    prover = CachingProver(inner, TacticCache(cache_file))
    await prover.start()
    batching = BatchingProposer(proposer, max_batch_size=concurrency, max_wait_ms=10)
    config = RunConfig(split="bench", statements=StatementSource("standin-benchmark"), search=search,
                       concurrency=concurrency, selection=tuple(t.name for t in bench.theorems))
    with RunStore.open(run_dir, config, resume=False) as store:
        start = time.perf_counter()
        await Runner(prover, batching, search, store, RunnerOptions(concurrency=concurrency, show_progress=False)
                     ).run(bench.theorems)
        seconds = time.perf_counter() - start
        proofs = {r.name: tuple(r.proof) if r.proved and r.proof else None for r in store.records()}
    stats = prover.cache.stats
    prover.cache.close()
    return CacheRun(label, seconds, inner.stats.steps, inner.stats.verifications, stats.hits, stats.misses,
                    stats.replays, proofs)


async def main_async(args: argparse.Namespace) -> None:
    import torch

    from llemma_prove.proposers.hf import TransformersModel

    bench = benchmark_theorems(args.theorems)
    search = search_config(args.expansions, args.candidates, args.max_new_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_llama(Path(tmp) / "tiny", TinyModelSpec())
        model = TransformersModel(str(model_dir), device="cpu", dtype="float32",
                                  max_batch_size=args.concurrency * args.candidates)
        proposer = TacticProposer(model, default_lean4_template())
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, device cpu")
        print(f"budget: {args.theorems} theorems, {args.expansions} expansions x {args.candidates} beams, "
              f"{args.max_new_tokens} new tokens, {args.concurrency} concurrent searches, stand-in prover")
        cache_file = Path(tmp) / "tactic-cache.sqlite"
        first = await one_run("first run (empty cache)", bench, proposer, search, cache_file, Path(tmp) / "r1",
                              args.concurrency)
        second = await one_run("second run, same config", bench, proposer, search, cache_file, Path(tmp) / "r2",
                               args.concurrency)
        improved = replace(SearchConfig.improved(max_expansions=2 * search.max_expansions, sampling=search.sampling),
                           time_limit_s=search.time_limit_s)
        other = await one_run("improved, 2x expansions", bench, proposer, improved, cache_file,
                              Path(tmp) / "r3", args.concurrency)
        for run in (first, second, other):
            print(f"{run.label:>28}: {run.seconds:6.2f} s  prover steps {run.steps:5d} (of which replays "
                  f"{run.replays:3d})  final checks {run.checks:3d}  cache hits {run.hits:5d}  misses {run.misses:5d}"
                  f"  hit rate {run.hit_rate:.3f}")
        print(f"same proofs in the first two runs: {first.proofs == second.proofs}")
        print(f"hit_rate_improved_strategy: {other.hit_rate:.3f}")
        print(f"wall_clock_speedup_second_run: {first.seconds / second.seconds:.2f}")
        print(f"hit_rate_second_run: {second.hit_rate:.3f}")
        calls_first, calls_second = first.steps + first.checks, second.steps + second.checks
        print(f"lean_calls_avoided_second_run (steps and final checks): {1 - calls_second / max(calls_first, 1):.3f}")
        print(f"steps_avoided_second_run: {1 - second.steps / max(first.steps, 1):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--theorems", type=int, default=32)
    parser.add_argument("--expansions", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if args.quick:
        args.theorems, args.expansions = 16, 2
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
