"""Training throughput: a few LoRA steps of a randomly initialised Llama through `llemma-prove train`'s code.

For a lent GPU: `--preset 7b` has Llemma-7B's shapes (Code Llama 7B: hidden 4096, 32 layers, MLP 11008,
32 heads, vocabulary 32016), weights in bfloat16, gradient checkpointing on, LoRA r=16 on every linear
layer, batch 4; the examples are one prompt in the project's format repeated, so every step holds exactly
`batch x accumulation x length` tokens. Steps after the first are timed (the first pays for warm-up).
The random model is written to disk first (the product loads models from a directory), and the merged
result is written at the end, as `train` does; those writes are timed apart.

    python benchmarks/train_lora.py --preset 7b --device cuda        # the GPU check (sized for well under 10 min; not yet run)
    python benchmarks/train_lora.py --preset tiny --device cpu       # the same path on a CPU, seconds

The last line is `tokens_per_second: <float>` (measured in this run).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRESETS = {
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=32, vocab_size=32016, rope_theta=1_000_000.0),
    "1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
               num_key_value_heads=4, vocab_size=32016, rope_theta=10_000.0),
    "tiny": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=320, rope_theta=10_000.0),
}


def build_random_model(folder: Path, preset: str, device: str, dtype: str) -> float:
    """A random Llama of the preset's shapes with the test tokenizer (tests/doubles/tiny_model.py),
    saved to `folder`; returns the seconds it took."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.doubles.tiny_model import build_tokenizer

    started = time.perf_counter()
    tokenizer = build_tokenizer()
    shapes = dict(PRESETS[preset])
    shapes["vocab_size"] = max(shapes["vocab_size"], len(tokenizer))
    config = LlamaConfig(**shapes, max_position_embeddings=4096, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    torch_dtype = getattr(torch, dtype)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)  # built in the target dtype: no float32 copy of 7B weights
    try:
        with torch.device(device):
            model = LlamaForCausalLM(config)
    finally:
        torch.set_default_dtype(default)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return time.perf_counter() - started


def write_examples(folder: Path, count: int, repeat: int) -> None:
    """`count` copies of one example: the project's Lean 4 prompt for a miniF2F-like state, one tactic."""
    from llemma_prove.learning.dataset import Example, completion_format, write_dataset_dir
    from llemma_prove.proposers.prompts import default_lean4_template

    template = default_lean4_template()
    state = "\n".join(f"x{i} y{i} : ℝ\nh{i} : x{i} + 2 * y{i} = {i}" for i in range(repeat)) + "\n⊢ x0 = 1"
    fmt = completion_format(template)
    example = Example(prompt=template.render(state), completion=fmt.render("nlinarith [sq_nonneg (x0 - y0)]"),
                      state=state, tactic="nlinarith [sq_nonneg (x0 - y0)]", label="positive", theorem="bench",
                      split="valid", statement_set="synthetic", run="benchmark", step=0)
    metadata = {"format": "llemma-prove-dataset/1", "sources": [], "prompt": {"name": template.name},
                "holdout_split": "test"}
    write_dataset_dir(folder, [example] * count, metadata)


class StepTimer:
    """A Trainer callback: wall time of each optimizer step (CUDA synchronised)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def __getattr__(self, name):
        return lambda *args, **kwargs: None

    def _sync(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_step_begin(self, args, state, control, **kwargs):
        self._sync()
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self._sync()
        self.times.append(time.perf_counter() - self._start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="7b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--state-lines", type=int, default=24, help="Size of the goal state (sets the length).")
    parser.add_argument("--method", choices=["lora", "full"], default="lora")
    parser.add_argument("--out", type=Path, default=None, help="Working folder (default: a temporary one).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch
    from transformers import AutoTokenizer

    from llemma_prove.learning.train import TrainConfig, train

    dtype = "bfloat16" if args.device.startswith("cuda") else "float32"
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        work = Path(tmp)
        build_s = build_random_model(work / "base", args.preset, args.device, dtype)
        examples = args.steps * args.batch_size * args.grad_accum
        write_examples(work / "data", examples, args.state_lines)
        tokenizer = AutoTokenizer.from_pretrained(work / "base")
        row = json.loads((work / "data" / "examples.jsonl").read_text().splitlines()[0])
        length = len(tokenizer(row["prompt"])["input_ids"]) + len(tokenizer(row["completion"], add_special_tokens=False)["input_ids"])
        timer = StepTimer()
        config = TrainConfig(method=args.method, max_steps=args.steps, batch_size=args.batch_size,
                             grad_accum=args.grad_accum, save_steps=10 * args.steps, max_length=8192, dtype=dtype)
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        outcome = train(work / "data", str(work / "base"), work / "model", config, device=args.device, progress=False,
                        extra_callbacks=(timer,))
        total_s = time.perf_counter() - started
        steps_s = sum(timer.times[1:])
        tokens = (len(timer.times) - 1) * args.batch_size * args.grad_accum * length
        report = {
            "preset": args.preset, "method": args.method, "device": args.device,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "dtype": dtype, "example_tokens": length, "batch_size": args.batch_size, "grad_accum": args.grad_accum,
            "steps": outcome.steps, "timed_steps": len(timer.times) - 1, "first_step_s": round(timer.times[0], 3),
            "mean_step_s": round(steps_s / max(1, len(timer.times) - 1), 3),
            "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available() else None,
            "build_random_model_s": round(build_s, 1), "train_call_s": round(total_s, 1),
            "versions": {"torch": torch.__version__},
        }
        print(json.dumps(report, indent=2))
        print(f"tokens_per_second: {tokens / steps_s:.1f}")


if __name__ == "__main__":
    main()
