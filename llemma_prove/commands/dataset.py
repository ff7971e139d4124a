"""`llemma-prove dataset RUN_DIR... --out DIR`: training examples from the accepted proofs of runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("dataset")
    def dataset_command(
        run_dirs: list[Path] = typer.Argument(..., help="Run directories written by `minif2f` (or `iterate`'s searches)."),
        out: Path = typer.Option(..., "--out", help="Dataset directory to write (examples.jsonl, hf/, dataset.json)."),
        prompt: Optional[Path] = typer.Option(None, "--prompt", help="The prompt file the runs used (default: the one each run recorded)."),
        negatives: bool = typer.Option(False, "--negatives", help="Also keep tactics the prover rejected, marked label=negative."),
        holdout: str = typer.Option("test", "--holdout", help="Split that is never training data (refused): test or valid."),
        force: bool = typer.Option(False, "--force", help="Replace an existing --out directory."),
    ) -> None:
        """Turn accepted proofs into (goal state, tactic) examples in the proposer's exact prompt format."""
        from ..errors import UserError
        from ..learning.dataset import build_dataset

        if holdout not in ("test", "valid"):
            raise UserError(f"--holdout must be test or valid, got {holdout!r}")
        info = asyncio.run(build_dataset(run_dirs, out, prompt=prompt, negatives=negatives, holdout=holdout, force=force))
        counts = info.metadata["counts"]
        typer.echo(f"{out}: {info.positive} positive and {info.negative} negative examples from "
                   f"{counts['proofs']} accepted proofs ({counts['duplicates']} duplicates dropped)")
