"""How many theorems to search at once on this machine, and what a run will cost, stated before it starts.

The default `--concurrency` rule (documented in docs/performance.md):

    concurrency = max(1, min(prover_workers, model_slots))

- prover_workers: the Lean pool's default size, one REPL per core as far as memory holds one
  (`min(cores, RAM // 8 GB)`, `provers.lean.options.default_workers`). A search beyond the workers
  only waits for a REPL.
- model_slots, a local model (`--model-backend hf|vllm`) on a CUDA GPU: the GPU memory left after the
  weights (90% of the card, minus 2 bytes per parameter of a 7 B model in bfloat16 = 14 GB), divided by
  the key/value cache one expansion needs: candidates x (prompt allowance + --max-new-tokens) tokens x
  0.5 MiB per token (2 (key, value) x 32 layers x 4096 hidden x 2 bytes: the Llama-2 7 B architecture
  LLEMMA 7B has). The prompt allowance is 1024 tokens (the few-shot prompt and a goal state; an
  assumption, not a measurement). A model without a CUDA GPU generates one request at a time: 1 slot.
  A server backend (`--model-backend openai`, or any plug-in marked remote) sizes its own batches: no limit from here.

Nothing here loads a model; `torch.cuda` is asked only for a local model on a GPU.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import psutil

GIB = 1024**3
WORKER_MEMORY_GB = 8  # one Lean REPL with Mathlib imported (provers/lean/options.py _WORKER_RESIDENT_MB)
LLEMMA_7B_PARAMETERS = 7e9  # nominal: "7B"
BF16_BYTES = 2
KV_BYTES_PER_TOKEN = 2 * 32 * 4096 * BF16_BYTES  # key and value, 32 layers, hidden size 4096, bfloat16
PROMPT_ALLOWANCE_TOKENS = 1024
GPU_USABLE_FRACTION = 0.9


def weights_gb(parameters: float = LLEMMA_7B_PARAMETERS, bytes_per_parameter: int = BF16_BYTES) -> float:
    """Weights in GB (10^9 bytes): 7e9 parameters x 2 bytes = 14 GB for LLEMMA 7B in bfloat16."""
    return parameters * bytes_per_parameter / 1e9


@dataclass(frozen=True)
class Machine:
    cores: int
    memory_gb: float
    gpu_memory_gb: float | None  # the first visible CUDA device; None without one (or not asked)

    def describe(self) -> str:
        gpu = f", {self.gpu_memory_gb:.0f} GB GPU" if self.gpu_memory_gb else ", no GPU"
        return f"{self.cores} cores, {self.memory_gb:.0f} GB RAM{gpu}"


def detect_machine(probe_gpu: bool) -> Machine:
    """This machine's cores, memory and (when `probe_gpu`) the first CUDA device's memory."""
    gpu = None
    if probe_gpu:
        try:
            import torch

            if torch.cuda.is_available():
                gpu = torch.cuda.get_device_properties(0).total_memory / 1e9
        except Exception:  # no torch, or a broken CUDA setup: size as without a GPU
            gpu = None
    return Machine(os.cpu_count() or 1, psutil.virtual_memory().total / 1e9, gpu)


@dataclass(frozen=True)
class ConcurrencyChoice:
    concurrency: int
    reason: str


def default_concurrency(machine: Machine, remote_model: bool, device: str | None, candidates: int,
                        max_new_tokens: int) -> ConcurrencyChoice:
    """The default --concurrency (see the module docstring for the rule). `remote_model`: the model
    backend talks to a server (its plug-in says so), so only the Lean workers limit the concurrency."""
    workers = max(1, min(machine.cores, int(machine.memory_gb // WORKER_MEMORY_GB)))
    parts = [f"{workers} prover worker(s) for {machine.cores} cores and {machine.memory_gb:.0f} GB RAM"]
    slots: int | None = None
    if not remote_model:
        on_cpu = device is not None and device.startswith("cpu")
        if machine.gpu_memory_gb and not on_cpu:
            per_search = candidates * (PROMPT_ALLOWANCE_TOKENS + max_new_tokens) * KV_BYTES_PER_TOKEN / 1e9
            free = machine.gpu_memory_gb * GPU_USABLE_FRACTION - weights_gb()
            slots = max(1, math.floor(free / per_search))
            parts.append(f"{slots} search(es) of {candidates} candidates in {machine.gpu_memory_gb:.0f} GB of GPU "
                         f"memory ({per_search:.1f} GB of key/value cache each after {weights_gb():.0f} GB of weights)")
        else:
            slots = 1
            parts.append("a local model without a GPU generates one request at a time")
    chosen = max(1, min(workers, slots if slots is not None else workers))
    return ConcurrencyChoice(chosen, "; ".join(parts))


def budget_upper_bound_s(theorems: int, time_limit_s: float, concurrency: int) -> float:
    """Search time if every theorem used its whole --time-limit: theorems x limit / concurrency."""
    return math.ceil(theorems / max(1, concurrency)) * time_limit_s


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def budget_line(theorems: int, time_limit_s: float, concurrency: int) -> str:
    bound = budget_upper_bound_s(theorems, time_limit_s, concurrency)
    return (f"budget: {theorems} theorem(s) x {time_limit_s:g} s / concurrency {concurrency}: at most "
            f"{format_duration(bound)} of search (an upper bound: a theorem stops when proved or at --time-limit; "
            "loading the model and starting Lean come on top)")
