"""Latency benchmark: time to a proof for ONE theorem at a time (the editor's case), 8 workers vs 1.

Improved mode (`SearchConfig.improved`, the editor's default) checks the candidates of an expansion
concurrently over the prover's workers (search/concurrent.py) and stops at the first proof. This runs
the same theorems one after another, each alone, with the benchmarks' stand-in prover (a test double
for Lean, benchmarks/standin.py: lognormal step latency, median 50 ms, 2% of steps hanging to the 1 s
limit) at 1 worker and at 8 workers, candidates from the tiny random Llama (beam search) on the CPU.
Outcomes are fixed per (state, tactic), so both modes search the same tree. Time to a proof includes
generation, the search and the final check. Only theorems proved in both modes are timed.
Prints `latency_speedup_8: <float>` (summed time to a proof with 1 worker / with 8, measured here).

    python benchmarks/latency.py            # the first 12 stand-in theorems, 4 expansions x 32 beams
    python benchmarks/latency.py --quick    # 6 theorems, 16 beams
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.standin import StandInBehaviour, StandInProver, benchmark_theorems  # noqa: E402
from llemma_prove.proposers.prompts import default_lean4_template  # noqa: E402
from llemma_prove.proposers.tactic import TacticProposer  # noqa: E402
from llemma_prove.search import SearchConfig, prove_theorem  # noqa: E402
from llemma_prove.types import DecodingMethod, SamplingParams  # noqa: E402
from tests.doubles.tiny_model import TinyModelSpec, build_tiny_llama  # noqa: E402


async def time_to_proofs(theorems, roots, proposer, config, workers: int) -> dict[str, float | None]:
    prover = StandInProver(workers, StandInBehaviour(), roots)
    await prover.start()
    out: dict[str, float | None] = {}
    for theorem in theorems:
        start = time.perf_counter()
        result = await prove_theorem(theorem, prover, proposer, config)
        elapsed = time.perf_counter() - start
        out[theorem.name] = elapsed if result.proved else None
        if result.proved:
            splits.setdefault(workers, []).append((result.model_wait_s, result.prover_s, result.expansions, result.steps,
                                                   elapsed - result.elapsed_s))
    return out


splits: dict[int, list] = {}


async def main_async(args: argparse.Namespace) -> None:
    import torch

    from llemma_prove.proposers.hf import TransformersModel

    torch.set_num_threads(max(1, args.threads))
    bench = benchmark_theorems(args.theorems)
    sampling = SamplingParams(n=args.candidates, method=DecodingMethod.BEAM, max_new_tokens=args.max_new_tokens,
                              stop=("---",))
    config = SearchConfig.improved(max_expansions=args.expansions, sampling=sampling)
    with tempfile.TemporaryDirectory() as tmp:
        model = TransformersModel(str(build_tiny_llama(Path(tmp) / "tiny")), device="cpu", dtype="float32",
                                  max_batch_size=args.candidates)
        proposer = TacticProposer(model, default_lean4_template())
        model.generate_blocking([default_lean4_template().render("⊢ warm up")], sampling)
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
              f"({torch.get_num_threads()} threads), device cpu")
        print(f"model: tiny random Llama (hidden {TinyModelSpec.hidden_size}, {TinyModelSpec.num_layers} layers), "
              f"{args.candidates} beams, {args.max_new_tokens} new tokens; improved mode, {args.expansions} expansions")
        times = {}
        for workers in (1, args.workers):
            times[workers] = await time_to_proofs(bench.theorems, bench.roots, proposer, config, workers)
        both = [n for n in times[1] if times[1][n] is not None and times[args.workers][n] is not None]
        one = sum(times[1][n] for n in both)
        many = sum(times[args.workers][n] for n in both)
        print(f"theorems proved with 1 worker: {sum(v is not None for v in times[1].values())}/{len(bench.theorems)}, "
              f"with {args.workers}: {sum(v is not None for v in times[args.workers].values())}/{len(bench.theorems)}")
        for n in both:
            print(f"  {n}: {times[1][n]:6.2f} s -> {times[args.workers][n]:6.2f} s")
        for w in (1, args.workers):
            gen, checks, exp, steps, final = (sum(x[i] for x in splits.get(w, [])) for i in range(5))
            print(f"  {w} worker(s), proved theorems: the search waiting for generation {gen:.2f} s, for checks "
                  f"{checks:.2f} s ({exp} expansions, {steps} steps); the final check and closing {final:.2f} s")
        if not both:
            print("no theorem was proved in both modes; raise --theorems or --expansions")
            return
        print(f"time to a proof, summed over {len(both)} theorems: 1 worker {one:.2f} s, {args.workers} workers {many:.2f} s")
        print(f"latency_speedup_{args.workers}: {one / many:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 theorems, 16 beams")
    parser.add_argument("--theorems", type=int, default=12)
    parser.add_argument("--expansions", type=int, default=4)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    if args.quick:
        args.theorems, args.candidates = 6, 16
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
