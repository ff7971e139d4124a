"""`llemma-prove prove FILE`: prove the `sorry`s of a `.lean` or `.thy` file in the file's own context.

The provers and the model are plug-ins (`--model-backend`; `--backends NAME` for an editor-backends
plug-in that supplies both, see `llemma_prove.editor.backends`).
"""

from __future__ import annotations

import asyncio
import json
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
        partial: bool = typer.Option(False, "--partial", help="With --write, also write the pieces found for a "
                                     "declaration whose other sorrys were not all found (they elaborate with "
                                     "the rest left as sorry; the declaration is not proved)."),
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
        diff or write the checked proofs. Each proof is printed the moment it is found (with --json,
        also on stderr), so an interrupt or a refused write loses none; --json prints one JSON object
        on every exit, an error included."""
        from ..editor.backends import EditorConfig
        from ..editor.prove_file import FileReport, format_failures, format_proof, prove_file, report_json

        holder: list[FileReport] = []

        def got_report(report: FileReport) -> None:
            holder.append(report)
            if report.project is not None and report.project.advice and not json_out:
                typer.echo(f"note: {report.project.advice}", err=True)

        printed: list[bool] = []

        def started(target) -> None:  # type: ignore[no-untyped-def]
            if not json_out:
                typer.echo(f"searching {target.label} ...", err=True)

        def found(outcome) -> None:  # type: ignore[no-untyped-def]
            report = holder[0]
            if json_out or diff:  # stdout is kept for the one JSON object / the diff; never lose the proof
                typer.echo(f"proved {format_proof(report.language, outcome, labelled=True)}", err=True)
                return
            if printed:
                sys.stdout.write("\n")
            sys.stdout.write(format_proof(report.language, outcome, labelled=report.selected > 1) + "\n")
            sys.stdout.flush()
            printed.append(True)

        def finish(report: FileReport | None, error: str = "") -> None:
            if json_out:
                data = json.loads(report_json(report, with_diff=diff)) if report is not None else {}
                if error:
                    data["error"] = error
                sys.stdout.write(json.dumps(data or {"error": error}, ensure_ascii=False, indent=2) + "\n")
                sys.stdout.flush()
                return
            if report is None:
                return
            if diff:
                sys.stdout.write(report.diff())
            for message in format_failures(report):
                typer.echo(message, err=True)
            if report.written:
                pieces = len(report.proved) + (len(report.partial) if partial else 0)
                typer.echo(f"wrote {pieces} proof(s) to {file}", err=True)
            elif report.write_error:
                typer.echo(f"not written: {report.write_error}; the proofs are printed above", err=True)
            elif write and report.partial and not partial:
                typer.echo(f"nothing written to {file}: only partial proofs (--partial writes them)", err=True)
            elif write and not report.proved:
                typer.echo(f"nothing written to {file}: no proof found", err=True)

        try:
            if line is not None and line < 1:
                raise UserError(f"--line must be at least 1, got {line}")
            if prompt is not None and not prompt.is_file():
                raise UserError(f"prompt file {prompt} not found")
            config = EditorConfig(
                model=model, model_backend=model_backend, endpoint=endpoint, device=device, dtype=dtype,
                prompt=prompt, lean_project=lean_project, workers=workers, expansions=expansions,
                candidates=candidates, time_limit_s=time_limit, backends=backends,
            )
            report = asyncio.run(prove_file(file, config, theorem=theorem, line=line, write=write, partial=partial,
                                            on_start=started, on_found=found, on_report=got_report))
        except KeyboardInterrupt:
            report = holder[0] if holder else None
            if report is not None:
                report.interrupted = True
            finish(report, "interrupted")
            proved = len(report.proved) if report is not None else 0
            typer.echo(f"interrupted: nothing was written ({proved} proof(s) found, printed above)", err=True)
            raise typer.Exit(130)
        except UserError as exc:
            if json_out:
                finish(holder[0] if holder else None, str(exc))
            raise
        finish(report)
        ok = report.all_proved and not report.write_error
        raise typer.Exit(0 if ok else 1)
