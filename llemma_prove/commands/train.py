"""`llemma-prove train DATASET --model ID --out DIR`: fine-tune a model on a dataset (LoRA by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..config import DEFAULT_MODEL


def train_options_help() -> dict[str, str]:
    return {
        "method": "lora (PEFT LoRA on every linear layer, merged into the saved weights) or full fine-tuning.",
        "epochs": "Passes over the data.",
        "max_steps": "Optimizer steps (overrides --epochs).",
        "learning_rate": "Peak learning rate (default 2e-4 for LoRA, 1e-5 for full).",
        "batch_size": "Examples per device step.",
        "grad_accum": "Steps accumulated per optimizer step.",
    }


def register(app: typer.Typer) -> None:
    helps = train_options_help()

    @app.command("train")
    def train_command(
        dataset: Path = typer.Argument(..., help="A dataset directory written by `llemma-prove dataset`."),
        model: str = typer.Option(DEFAULT_MODEL, "--model", help="Base model: Hugging Face id or local directory."),
        out: Path = typer.Option(..., "--out", help="Model directory to write (usable as --model DIR)."),
        method: str = typer.Option("lora", "--method", help=helps["method"]),
        epochs: float = typer.Option(1.0, "--epochs", help=helps["epochs"]),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help=helps["max_steps"]),
        learning_rate: Optional[float] = typer.Option(None, "--learning-rate", help=helps["learning_rate"]),
        batch_size: int = typer.Option(4, "--batch-size", help=helps["batch_size"]),
        grad_accum: int = typer.Option(8, "--grad-accum", help=helps["grad_accum"]),
        max_length: int = typer.Option(2048, "--max-length", help="Longest example in tokens (longer ones are skipped)."),
        lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank."),
        save_steps: int = typer.Option(200, "--save-steps", help="Checkpoint every N optimizer steps (resume point)."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        device: str = typer.Option("auto", "--device", help="auto, cuda, cuda:N or cpu."),
        dtype: str = typer.Option("auto", "--dtype", help="auto (bf16 on a GPU that has it, else float32), bfloat16, float16, float32."),
        gradient_checkpointing: Optional[bool] = typer.Option(None, "--gradient-checkpointing/--no-gradient-checkpointing", help="Default: on for a GPU."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
        force: bool = typer.Option(False, "--force", help="Start over in an --out directory that holds another training."),
    ) -> None:
        """Fine-tune on training examples; re-running the same command resumes from the last checkpoint."""
        from ..learning.train import TrainConfig, train

        config = TrainConfig(method=method, epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
                             batch_size=batch_size, grad_accum=grad_accum, max_length=max_length, lora_r=lora_r,
                             lora_alpha=2 * lora_r, save_steps=save_steps, seed=seed, dtype=dtype,
                             gradient_checkpointing=gradient_checkpointing)
        outcome = train(dataset, model, out, config, device=device, progress=progress, force=force)
        typer.echo(f"{outcome.model_dir}: {outcome.steps} steps on {outcome.examples} examples"
                   + (f", final loss {outcome.train_loss:.4f}" if outcome.train_loss is not None else "")
                   + f"; use it with --model {outcome.model_dir}")
