"""Scale benchmark: memory of a full-size run, and the Ray runner across 2 local workers against 1.

Memory: 244 theorems (miniF2F's size) x 100 expansions x 32 candidates through the real `Runner` and
`RunStore` at 32 concurrent searches. The prover is the benchmarks' stand-in (benchmarks/standin.py, a
test double for Lean) with no latency and no proofs, so every search runs its whole budget (the
largest graphs); candidates come from `HashProposer`, a test double that derives 32 tactic-like texts
from each state (no model: this measures the engine's own memory). Resident memory is sampled while
it runs; each theorem's graph is written to the run directory and dropped when the theorem ends, so
the resident size should stay flat after the first wave of searches. Prints `peak_rss_mb: <float>`.

Ray: the same kind of run (stand-in with its latency model, 4 step slots per worker, so each worker
is one machine's Lean pool) through `RayRunner` on a local Ray instance with 1 worker, then 2 workers,
in the same run. Prints `ray_speedup_2: <float>` (theorems per minute, 2 workers / 1).

    python benchmarks/scale.py            # memory: 244 x 100 x 32; Ray: 96 theorems x 3 expansions
    python benchmarks/scale.py --quick    # memory: 244 x 20 x 32; Ray: 48 theorems
    python benchmarks/scale.py --case memory|ray
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.standin import StandInBehaviour, StandInProver, benchmark_theorems  # noqa: E402
from llemma_prove.config import RunConfig  # noqa: E402
from llemma_prove.data.minif2f import StatementSource  # noqa: E402
from llemma_prove.proposers.batching import BatchingProposer  # noqa: E402
from llemma_prove.runner import Runner, RunnerOptions  # noqa: E402
from llemma_prove.search import SearchConfig  # noqa: E402
from llemma_prove.store import RunStore  # noqa: E402
from llemma_prove.types import Candidate, DecodingMethod, ProposalRequest, SamplingParams  # noqa: E402

TACTICS = ["nlinarith [sq_nonneg (x - {k}), sq_nonneg (y + {k})]", "rw [h₀] at h₁", "simp only [Nat.add_comm] at *",
           "norm_num [h₁, pow_succ]", "linarith [h₀, h₁]", "field_simp [hx{k}]", "ring_nf", "omega", "decide",
           "have h{k} : x ≤ {k} := by linarith", "apply le_antisymm <;> linarith", "exact h{k}"]


class HashProposer:
    """A TEST DOUBLE proposer: `n` distinct tactic-like texts per state, fixed by the state's text."""

    async def propose(self, requests: Sequence[ProposalRequest], params: SamplingParams) -> list[list[Candidate]]:
        out = []
        for request in requests:
            digest = hashlib.sha256(request.state.text.encode("utf-8")).digest()
            cands = []
            for i in range(params.n):
                k = digest[i % 32] + 256 * i
                text = TACTICS[(digest[i % 32] + i) % len(TACTICS)].format(k=k) + f"  -- {i}"
                cands.append(Candidate(text, -0.05 * (i + 1) - digest[(i + 7) % 32] / 2550, -1.0, 8))
            out.append(cands)
        return out

    async def close(self) -> None:
        return None


def search_config(expansions: int, candidates: int) -> SearchConfig:
    sampling = SamplingParams(n=candidates, method=DecodingMethod.BEAM, max_new_tokens=64, stop=("---",))
    return SearchConfig(max_expansions=expansions, sampling=sampling, time_limit_s=3600.0)


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def memory_case(args: argparse.Namespace) -> None:
    bench = benchmark_theorems(args.memory_theorems)
    behaviour = StandInBehaviour(median_s=0.0, hang_rate=0.0, proved_rate=0.0)
    prover = StandInProver(8, behaviour, bench.roots)
    await prover.start()
    search = search_config(args.memory_expansions, args.candidates)
    proposer = BatchingProposer(HashProposer(), max_batch_size=32, max_wait_ms=1)
    samples: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(split="bench", statements=StatementSource("standin-benchmark"), search=search,
                           concurrency=32, selection=tuple(t.name for t in bench.theorems))
        with RunStore.open(Path(tmp) / "run", config, resume=False) as store:
            runner = Runner(prover, proposer, search, store, RunnerOptions(concurrency=32, show_progress=False))
            start_rss = rss_mb()

            async def sample() -> None:
                while True:
                    samples.append((len(store.records()), rss_mb()))
                    await asyncio.sleep(0.25)

            sampler = asyncio.create_task(sample())
            start = time.perf_counter()
            await runner.run(bench.theorems)
            seconds = time.perf_counter() - start
            sampler.cancel()
            samples.append((len(store.records()), rss_mb()))
            graphs = sum(f.stat().st_size for f in (Path(tmp) / "run" / "graphs").glob("*.json.gz"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: {len(bench.theorems)} theorems x {args.memory_expansions} expansions x {args.candidates} "
          f"candidates, 32 concurrent searches: {seconds:.1f} s, {prover.stats.steps} prover steps, "
          f"graphs written {graphs / 2**20:.1f} MiB (gzip)")
    total = len(bench.theorems)
    marks = []
    for frac in (0.25, 0.5, 0.75, 1.0):
        at = [rss for done, rss in samples if done >= frac * total]
        if at:
            marks.append(f"{frac:.0%} done {at[0]:.0f} MiB")
    print(f"  resident memory: before the run {start_rss:.0f} MiB; " + ", ".join(marks))
    print(f"peak_rss_mb: {peak:.0f}")


def ray_worker(count: int, slots: int) -> tuple[StandInProver, BatchingProposer]:
    """The factory each Ray worker calls: a stand-in Lean pool and the hash proposer."""
    bench = benchmark_theorems(count)
    return StandInProver(slots, StandInBehaviour(), bench.roots), BatchingProposer(HashProposer(), max_wait_ms=1)


def ray_case(args: argparse.Namespace) -> None:
    from llemma_prove.distributed import ComponentFactory, RayCluster, RayOptions, RayRunner

    bench = benchmark_theorems(args.ray_theorems)
    search = search_config(args.ray_expansions, args.candidates)
    factory = ComponentFactory("benchmarks.scale:ray_worker", (args.ray_theorems, args.slots))
    rates = {}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    with RayCluster(RayOptions(num_cpus=2)):
        for workers in (1, 2):
            options = RayOptions(workers_per_node=workers, searches_per_worker=16, show_progress=False, poll_s=0.05)
            with tempfile.TemporaryDirectory() as tmp:
                config = RunConfig(split="bench", statements=StatementSource("standin-benchmark"), search=search,
                                   concurrency=16 * workers, selection=tuple(t.name for t in bench.theorems))
                with RunStore.open(Path(tmp) / "run", config, resume=False) as store:
                    outcome = asyncio.run(RayRunner(factory, search, store, options).run(bench.theorems))
                    proved = sum(r.proved for r in store.records())
            rates[workers] = 60 * outcome.attempted / outcome.elapsed_s
            print(f"ray, {workers} worker(s) x {args.slots} stand-in slots: {outcome.elapsed_s:.1f} s, "
                  f"{rates[workers]:.1f} theorems/min, proved {proved}/{len(bench.theorems)}")
    print(f"ray_speedup_2: {rates[2] / rates[1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--case", choices=["all", "memory", "ray"], default="all")
    parser.add_argument("--memory-theorems", type=int, default=244)
    parser.add_argument("--memory-expansions", type=int, default=100)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--ray-theorems", type=int, default=96, help="enough that starting the workers is small")
    parser.add_argument("--ray-expansions", type=int, default=3)
    parser.add_argument("--slots", type=int, default=4, help="stand-in Lean slots per Ray worker")
    args = parser.parse_args()
    if args.quick:
        args.memory_expansions, args.ray_theorems = 20, 48
    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if args.case in ("all", "memory"):
        asyncio.run(memory_case(args))
    if args.case in ("all", "ray"):
        ray_case(args)


if __name__ == "__main__":
    main()
