"""`llemma-prove prove FILE`: prove the `sorry`s of a `.lean` or `.thy` file in the file's own context.

The provers and the model are plug-ins (`--model-backend`; `--backends NAME` for an editor-backends
plug-in that supplies both, see `llemma_prove.editor.backends`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from . import options


def register(app: typer.Typer) -> None:
    @app.command("prove")
    def prove_command(
        file: Path = typer.Argument(..., help="A .lean or .thy file.", show_default=False),
        theorem: Optional[str] = typer.Option(None, "--theorem", help="Prove the sorrys of this theorem."),
        line: Optional[int] = typer.Option(None, "--line", help="Prove the sorry (or the theorem) at this line."),
        write: bool = typer.Option(False, "--write", help="Replace each proved sorry in the file (atomic; only if "
                                                         "the file did not change meanwhile)."),
        diff: bool = typer.Option(False, "--diff", help="Print the change as a unified diff instead of the proofs."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object on stdout: target, status, proof, "
                                                            "time and reason for each sorry."),
        model: str = options.model(),
        model_backend: str = options.model_backend(),
        endpoint: Optional[str] = options.endpoint(),
        device: Optional[str] = options.device(),
        dtype: Optional[str] = options.dtype(),
        prompt: Optional[Path] = typer.Option(None, "--prompt", help="Prompt file (JSON) instead of the packaged one."),
        lean_project: Optional[Path] = options.lean_project(),
        workers: Optional[int] = options.workers(),
        expansions: int = options.expansions("sorry"),
        candidates: int = options.candidates(),
        time_limit: float = options.time_limit("sorry"),
        backends: Optional[str] = typer.Option(None, "--backends", help="Editor-backends plug-in supplying provers "
                                               "and model together (see `llemma-prove doctor`)."),
    ) -> None:
        """Prove the sorrys of a Lean 4 or Isabelle file (all of them, or --theorem / --line) and print,
        diff or write the checked proofs."""
        from ..editor.backends import EditorConfig
        from ..editor.prove_file import format_failures, format_proofs, prove_file, report_json

        if line is not None and line < 1:
            raise UserError(f"--line must be at least 1, got {line}")
        if prompt is not None and not prompt.is_file():
            raise UserError(f"prompt file {prompt} not found")
        config = EditorConfig(
            model=model, model_backend=model_backend, endpoint=endpoint, device=device, dtype=dtype,
            prompt=prompt, lean_project=lean_project, workers=workers, expansions=expansions,
            candidates=candidates, time_limit_s=time_limit, backends=backends,
        )

        def started(target) -> None:  # type: ignore[no-untyped-def]
            if not json_out:
                typer.echo(f"searching {target.label} ...", err=True)

        try:
            report = asyncio.run(prove_file(file, config, theorem=theorem, line=line, write=write, on_start=started))
        except KeyboardInterrupt:
            typer.echo("interrupted: nothing was written", err=True)
            raise typer.Exit(130)
        if json_out:
            sys.stdout.write(report_json(report, with_diff=diff) + "\n")
        else:
            sys.stdout.write(report.diff() if diff else format_proofs(report))
            for message in format_failures(report):
                typer.echo(message, err=True)
            if report.written:
                typer.echo(f"wrote {len(report.proved)} proof(s) to {file}", err=True)
            elif write and not report.proved:
                typer.echo(f"nothing written to {file}: no proof found", err=True)
        raise typer.Exit(0 if report.all_proved else 1)
