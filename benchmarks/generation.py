"""Generation benchmark: 32 candidates for 32 goal states in ONE batched call vs one call per state.

Uses the tiny random Llama that the tests build (tests/doubles/tiny_model.py), on CPU by default, with
the project's default Lean 4 prompt and real miniF2F goal states when the shared data is present.
Both modes decode the same beams (up to floating-point rounding, which differs with the batch shape
and can swap near-tied beams); the script reports how many states got identical candidate lists.
It prints `batched_speedup: <float>` (per-state time / batched time, measured in this run).

The prefix case (`--case prefix`) measures the few-shot prefix computed once (proposers/prefix_cache.py)
with a model large enough for prefill to matter on a CPU: a random Llama of about 85M parameters
(hidden 768 x 12 layers), the paper's prompt (../shared/data/prompts/llemma_formal2formal_lean4_fewshot.json
when present, else the project's default prompt), 2 requests x 4 beams x 8 new tokens, first with one
state per request (the editor's single theorem), then with 8 (what the batching proposer sends while 8
or more searches run, as in a miniF2F run). Both modes use the same segmented KV cache
(proposers/kv_cache.py) and decode the same tokens (checked). The prefix is encoded once per model,
before the timed requests (a run makes thousands of requests, so that one encoding is negligible
there); its time is printed apart. It prints `prefix_speedup_1_state: <float>` and
`prefix_speedup: <float>` (time of the requests without / with the prefix reused, 8 states per
request) and the prefill tokens saved.

    python benchmarks/generation.py            # both cases: batched (32 states x 32 beams) and prefix
    python benchmarks/generation.py --quick    # batched case 16 x 16 x 16 tokens; prefix case as above
    python benchmarks/generation.py --case prefix --prefix-hidden 2048 --prefix-layers 16 --dtype bfloat16 --device cuda
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llemma_prove.proposers.hf import TransformersModel  # noqa: E402
from llemma_prove.proposers.prompts import PromptTemplate, default_lean4_template  # noqa: E402
from llemma_prove.types import DecodingMethod, SamplingParams  # noqa: E402
from tests.doubles.tiny_model import TinyModelSpec, build_tiny_llama  # noqa: E402

SYNTHETIC_STATES = [
    f"x y : ℝ\nh₀ : x + {k} * y = {2 * k + 1}\nh₁ : x - y = {k}\n⊢ x = {k + 1}" for k in range(1, 65)
]


def goal_states(count: int) -> tuple[list[str], str]:
    """Real miniF2F goal states from the shared search traces if present, else synthetic ones."""
    shared = Path(os.environ.get("LLEMMA_PROVE_SHARED_DATA", ROOT.parent / "shared" / "data"))
    traces = shared / "tactics" / "minif2f_test_search_traces.jsonl"
    if traces.is_file():
        states: list[str] = []
        for line in traces.read_text(encoding="utf-8").splitlines():
            state = json.loads(line)["state_before"]
            if state not in states:
                states.append(state)
            if len(states) == count:
                return states, f"miniF2F test search traces ({traces.name})"
    return SYNTHETIC_STATES[:count], "synthetic states"


def random_llama_spec(hidden: int, layers: int) -> TinyModelSpec:
    heads = max(4, hidden // 64)
    return TinyModelSpec(hidden_size=hidden, intermediate_size=int(hidden * 8 / 3) // 64 * 64, num_layers=layers,
                         num_heads=heads, num_kv_heads=heads, initializer_range=0.02)


def paper_template() -> tuple[PromptTemplate, str]:
    shared = Path(os.environ.get("LLEMMA_PROVE_SHARED_DATA", ROOT.parent / "shared" / "data"))
    path = shared / "prompts" / "llemma_formal2formal_lean4_fewshot.json"
    if path.is_file():
        return PromptTemplate.load(path), f"the paper's prompt ({path.name})"
    return default_lean4_template(), "the project's default prompt (shared data absent)"


def prefix_case(args: argparse.Namespace) -> None:
    """Requests with and without the few-shot prefix's KV cache reused: one state per request (the
    editor's single theorem) and `--prefix-states` per request (what the batching proposer sends when
    that many searches run at once, as in a miniF2F run)."""
    import torch

    if args.device == "cpu":
        torch.set_num_threads(args.prefix_threads)
    template, template_source = paper_template()
    params = SamplingParams(n=args.prefix_beams, method=DecodingMethod.BEAM, max_new_tokens=args.prefix_new_tokens,
                            stop=("---",))
    with tempfile.TemporaryDirectory() as tmp:
        spec = random_llama_spec(args.prefix_hidden, args.prefix_layers)
        model_dir = build_tiny_llama(Path(tmp) / "prefix-model", spec)
        models = {name: TransformersModel(str(model_dir), device=args.device, dtype=args.dtype, prefix_cache=on)
                  for name, on in (("recomputed", False), ("reused", True))}
        models["reused"].declare_prefix(template.prefix)
        tok = models["reused"].tokenizer
        prefix_tokens = len(tok(template.prefix)["input_ids"])
        params_m = sum(p.numel() for p in models["reused"]._model.parameters()) / 1e6
        print(f"prefix case: random Llama (hidden {spec.hidden_size}, {spec.num_layers} layers, {params_m:.0f}M "
              f"parameters, {args.dtype}, {args.device}, {torch.get_num_threads()} threads)")
        warm = [template.render("⊢ True")]
        models["recomputed"].generate_blocking(warm, params)  # warm-up
        start = time.perf_counter()
        models["reused"].generate_blocking(warm, params)  # warm-up, and the one-time encoding of the prefix
        print(f"  warm-up request that encoded the prefix once: {time.perf_counter() - start:.2f} s")
        for per_request in sorted({1, args.prefix_states}):
            states, source = goal_states(args.prefix_requests * per_request)
            requests = [[template.render(s) for s in states[i : i + per_request]]
                        for i in range(0, len(states), per_request)]
            prompt_tokens = sum(len(tok(p)["input_ids"]) for r in requests for p in r) / len(states)
            print(f"  prompt: {template_source}, prefix {prefix_tokens} tokens, mean prompt {prompt_tokens:.0f} "
                  f"tokens; {len(requests)} requests x {per_request} states ({source}) x {args.prefix_beams} beams, "
                  f"{args.prefix_new_tokens} new tokens")
            saved_before = models["reused"].prefixes.stats.tokens_saved
            timings, outputs = {"recomputed": float("inf"), "reused": float("inf")}, {}
            for _ in range(args.repeats):  # alternate the modes, keep each one's best (the machine may be shared)
                for name in ("recomputed", "reused"):
                    start = time.perf_counter()
                    outputs[name] = [models[name].generate_sequences(r, params) for r in requests]
                    timings[name] = min(timings[name], time.perf_counter() - start)
            for name in ("recomputed", "reused"):
                print(f"    {name:>10}: {timings[name]:8.2f} s (best of {args.repeats})")
            same = all([s.token_ids for s in g] == [s.token_ids for s in h]
                       for a, b in zip(outputs["recomputed"], outputs["reused"]) for g, h in zip(a, b))
            total = int(prompt_tokens * len(states))
            saved = (models["reused"].prefixes.stats.tokens_saved - saved_before) // args.repeats
            print(f"    same tokens decoded in both modes: {same}; prefill tokens saved per run: {saved} of {total} "
                  f"prompt tokens ({saved / total:.0%}); prefix encoded "
                  f"{models['reused'].prefixes.stats.prefix_encodings} time(s) in all")
            label = "prefix_speedup" if per_request == args.prefix_states else "prefix_speedup_1_state"
            print(f"{label}: {timings['recomputed'] / timings['reused']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="16 states x 16 beams x 16 tokens")
    parser.add_argument("--states", type=int, default=32)
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--method", choices=["beam", "sample"], default="beam")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-batch-size", type=int, default=0,
                        help="sequences decoded at once in the batched call (default: all of them in one pass)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each mode (best is reported)")
    parser.add_argument("--dtype", default="float32", help="weights dtype (bfloat16 on GPUs)")
    parser.add_argument("--hidden-size", type=int, default=TinyModelSpec.hidden_size,
                        help="random Llama width; with --layers, sizes the model like a real one (e.g. 2048 x 16)")
    parser.add_argument("--layers", type=int, default=TinyModelSpec.num_layers)
    parser.add_argument("--case", choices=["all", "batched", "prefix"], default="all")
    parser.add_argument("--prefix-threads", type=int, default=1,
                        help="prefix case: torch threads (1: on a shared 2-core machine, 2 threads mostly wait on each other)")
    parser.add_argument("--prefix-hidden", type=int, default=768, help="prefix case: random Llama width")
    parser.add_argument("--prefix-layers", type=int, default=12, help="prefix case: layers (768 x 12: ~85M)")
    parser.add_argument("--prefix-requests", type=int, default=2)
    parser.add_argument("--prefix-states", type=int, default=8,
                        help="prefix case: states per request (a request of 1 state is measured too)")
    parser.add_argument("--prefix-beams", type=int, default=4)
    parser.add_argument("--prefix-new-tokens", type=int, default=8)
    args = parser.parse_args()
    if args.quick:
        args.states, args.candidates, args.max_new_tokens = 16, 16, 16
    logging.basicConfig(level=logging.WARNING)
    if args.case in ("all", "batched"):
        batched_case(args)
    if args.case in ("all", "prefix"):
        prefix_case(args)


def batched_case(args: argparse.Namespace) -> None:
    import torch

    states, source = goal_states(args.states)
    template = default_lean4_template()
    prompts = [template.render(s) for s in states]
    params = SamplingParams(
        n=args.candidates,
        method=DecodingMethod(args.method),
        max_new_tokens=args.max_new_tokens,
        stop=("---",),
        seed=0 if args.method == "sample" else None,
    )
    with tempfile.TemporaryDirectory() as tmp:
        spec = TinyModelSpec()
        if (args.hidden_size, args.layers) != (spec.hidden_size, spec.num_layers):
            heads = max(4, args.hidden_size // 128)
            spec = TinyModelSpec(hidden_size=args.hidden_size, intermediate_size=int(args.hidden_size * 8 / 3) // 64 * 64,
                                 num_layers=args.layers, num_heads=heads, num_kv_heads=heads, initializer_range=0.02)
        model_dir = build_tiny_llama(Path(tmp) / "tiny", spec)
        model = TransformersModel(
            str(model_dir), device=args.device, dtype=args.dtype,
            max_batch_size=args.max_batch_size or len(prompts) * args.candidates,
        )
        prompt_tokens = sum(len(model.tokenizer(p)["input_ids"]) for p in prompts) / len(prompts)
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads, device {args.device}")
        params_m = sum(p.numel() for p in model._model.parameters()) / 1e6
        print(f"model: random Llama (hidden {spec.hidden_size}, {spec.num_layers} layers, vocab {spec.vocab_size}, "
              f"{params_m:.2f}M parameters, {args.dtype})")
        print(f"workload: {len(prompts)} states ({source}), {args.candidates} candidates each by {args.method}, "
              f"up to {args.max_new_tokens} new tokens, mean prompt {prompt_tokens:.0f} tokens, "
              f"at most {model.max_batch_size} sequences per pass")

        model.generate_blocking(prompts[:2], params)  # warm-up: allocator, kernels, tokenizer caches

        def batched():
            return model.generate_blocking(prompts, params)

        def per_state():
            return [group for p in prompts for group in model.generate_blocking([p], params)]

        timings: dict[str, float] = {}
        outputs = {}
        for name, run in (("per_state", per_state), ("batched", batched)):
            best = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                outputs[name] = run()
                best = min(best, time.perf_counter() - start)
            timings[name] = best
            sequences = len(prompts) * len(outputs[name][0])
            print(f"{name:>9}: {best:8.3f} s  ({sequences / best:8.1f} candidates/s, {len(prompts)} states)")

        if args.method == "beam":
            # Beam search is deterministic, but batch shape changes floating-point rounding, which can
            # reorder near-tied beams; count how many states got exactly the same candidate list.
            same = sum(
                [c.text for c in a] == [c.text for c in b] for a, b in zip(outputs["batched"], outputs["per_state"])
            )
            print(f"states with identical candidates in both modes: {same}/{len(prompts)}")
        print(f"batched_speedup: {timings['per_state'] / timings['batched']:.2f}")


if __name__ == "__main__":
    main()
