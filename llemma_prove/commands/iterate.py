"""`llemma-prove iterate --rounds K`: expert iteration (search, learn from the proofs, search again).

Each round's search is the `minif2f` command's own pipeline (statements, prover, proposer, store,
runner, report) with the round's model; the loop itself is `llemma_prove.learning.iterate`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import typer

from ..config import DEFAULT_MODEL
from ..console import stderr_console
from ..errors import UserError
from . import options
from .minif2f import Decoding, Minif2fArgs, build_search_config, run_minif2f, validate_args
from .train import train_options_help


def search_identity(args: Minif2fArgs) -> dict[str, Any]:
    """The search settings a round's results depend on (not where or how fast it runs)."""
    return {"search": build_search_config(args).to_json(), "prover": args.prover, "model_backend": args.model_backend,
            "dtype": args.dtype, "theorems": list(args.theorems), "limit": args.limit,
            "statement_set": args.statement_set, "data": str(args.data.resolve()) if args.data else None}


async def run_iterate(args: Minif2fArgs, run_dir: Path, rounds: int, train_config: Any, *, negatives: bool = False,
                      holdout: str = "test", force: bool = False, err_console: Any = None) -> dict[str, Any]:
    from ..learning.iterate import IterateConfig, run_loop
    from ..learning.leakage import refuse_holdout_split

    refuse_holdout_split(args.split, holdout)  # before anything is loaded
    validate_args(args)
    if args.model_backend == "openai":
        raise UserError("iterate trains local weights: use --model-backend hf or vllm")
    config = IterateConfig(
        base_model=args.model, split=args.split,
        statements=str(args.data.resolve()) if args.data else (args.statement_set or "default"),
        search=search_identity(args), train=train_config, rounds=rounds, negatives=negatives, holdout=holdout,
        prompt=str(args.prompt.resolve()) if args.prompt and args.prompt.is_file() else None,
    )

    async def search(k: int, model: str, round_run_dir: Path) -> int:
        round_args = replace(args, model=model, run_dir=round_run_dir, training_search=True, output_dir=Path("runs"))
        return await run_minif2f(round_args, None, err_console)

    def echo(line: str) -> None:
        if err_console is not None:
            err_console.print(f"[bold]iterate[/bold] {line}")

    return await run_loop(run_dir, config, search, device=args.device or "auto", progress=args.progress,
                          force=force, echo=echo)


def register(app: typer.Typer) -> None:
    helps = train_options_help()

    @app.command("iterate")
    def iterate_command(
        run_dir: Path = typer.Option(..., "--run-dir", help="The loop's directory (re-run the same command to resume)."),
        rounds: int = typer.Option(2, "--rounds", help="Rounds of learn-then-search after the base model's search."),
        split: str = typer.Option("valid", "--split", help="Split of the training statements (test is refused)."),
        statement_set: Optional[str] = typer.Option(None, "--statement-set", help="Lean 4 statement set (see minif2f --help)."),
        data: Optional[Path] = typer.Option(None, "--data", help="Local JSONL of training statements (e.g. a Lean Workbook file)."),
        theorem: list[str] = options.theorems(),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N theorems."),
        model: str = typer.Option(DEFAULT_MODEL, "--model", help="Base model (Hugging Face id or local directory)."),
        model_backend: str = options.model_backend(),
        device: Optional[str] = typer.Option(None, "--device", help="Device for search and training (auto, cuda, cpu)."),
        dtype: Optional[str] = typer.Option(None, "--dtype", help="Weights dtype for search."),
        prompt: Optional[Path] = typer.Option(None, "--prompt", help="Prompt file for search (and so for the training text)."),
        max_new_tokens: int = options.max_new_tokens(),
        prover: str = options.prover(),
        lean_project: Optional[Path] = options.lean_project(),
        workers: Optional[int] = options.workers(),
        expansions: int = options.expansions(),
        candidates: int = options.candidates(),
        time_limit: float = options.time_limit(),
        decoding: Decoding = typer.Option(Decoding.beam, "--decoding", help="beam or sample."),
        temperature: Optional[float] = typer.Option(None, "--temperature", help="Sampling temperature (--decoding sample)."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for sampling."),
        concurrency: int = typer.Option(1, "--concurrency", help="Theorems searched at once."),
        method: str = typer.Option("lora", "--method", help=helps["method"]),
        epochs: float = typer.Option(1.0, "--epochs", help=helps["epochs"]),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help=helps["max_steps"]),
        learning_rate: Optional[float] = typer.Option(None, "--learning-rate", help=helps["learning_rate"]),
        batch_size: int = typer.Option(4, "--train-batch-size", help=helps["batch_size"]),
        grad_accum: int = typer.Option(8, "--grad-accum", help=helps["grad_accum"]),
        max_length: int = typer.Option(2048, "--max-length", help="Longest training example in tokens."),
        lora_r: int = typer.Option(16, "--lora-r", help="LoRA rank."),
        save_steps: int = typer.Option(200, "--save-steps", help="Training checkpoint every N steps."),
        negatives: bool = typer.Option(False, "--negatives", help="Keep rejected tactics in the datasets (label=negative; not trained on by SFT)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
        force: bool = typer.Option(False, "--force", help="Start over in a --run-dir holding a loop with other settings."),
    ) -> None:
        """Expert iteration: search, build data from the proofs, fine-tune, search again; K rounds."""
        from ..learning.train import TrainConfig

        args = Minif2fArgs(
            split=split, statement_set=statement_set, data=data, theorems=tuple(theorem), limit=limit, model=model,
            model_backend=model_backend, device=device, dtype=dtype, prompt=prompt,
            max_new_tokens=max_new_tokens, prover=prover, lean_project=lean_project, workers=workers,
            expansions=expansions, candidates=candidates, time_limit=time_limit, decoding=decoding.value,
            temperature=temperature, seed=seed, concurrency=concurrency, progress=progress,
        )
        train_config = TrainConfig(method=method, epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
                                   batch_size=batch_size, grad_accum=grad_accum, max_length=max_length,
                                   lora_r=lora_r, lora_alpha=2 * lora_r, save_steps=save_steps)
        err = stderr_console()
        try:
            summary = asyncio.run(run_iterate(args, run_dir, rounds, train_config, negatives=negatives,
                                              force=force, err_console=err))
        except KeyboardInterrupt:
            typer.echo("interrupted: finished phases are saved; run the same command again to resume", err=True)
            raise typer.Exit(130)
        for row in summary["rounds"]:
            typer.echo(f"round {row['round']}: {row['proved']}/{row['total']} proved "
                       f"({100 * row['success_rate']:.1f}%), {row['train_examples']} training examples, "
                       f"model {row['checkpoint'] or row['model']}")
        typer.echo(f"results: {run_dir}")
