"""Settings shared by the learning tests: a small search budget and a training that memorises."""

from __future__ import annotations

from pathlib import Path

from llemma_prove.commands.minif2f import Minif2fArgs
from llemma_prove.learning.train import TrainConfig

DOUBLES = {"prover": "learning-world", "model_backend": "learning-world"}  # plug-ins of tests/learning/world.py
DOUBLES_FLAGS = ["--prover", "learning-world", "--model-backend", "learning-world"]
TRAIN = TrainConfig(method="lora", max_steps=60, learning_rate=3e-2, batch_size=4, grad_accum=1, save_steps=20,
                    warmup_ratio=0.0, max_length=1024)
TRAIN_FLAGS = ["--max-steps", "60", "--learning-rate", "3e-2", "--train-batch-size", "4", "--grad-accum", "1",
               "--save-steps", "20", "--max-length", "1024"]
SEARCH_FLAGS = ["--expansions", "3", "--candidates", "4", "--max-new-tokens", "12", "--time-limit", "120",
                "--device", "cpu", "--no-progress", *DOUBLES_FLAGS]


def search_args(model: Path, data: Path, prompt: Path) -> Minif2fArgs:
    return Minif2fArgs(split="valid", data=data, model=str(model), prompt=prompt, device="cpu", expansions=3,
                       candidates=4, max_new_tokens=12, time_limit=120.0, progress=False, **DOUBLES)
