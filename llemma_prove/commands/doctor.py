"""`llemma-prove doctor`: report what is installed and what to do about each missing piece."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..config import DEFAULT_MODEL


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor_command(
        lean_project: Optional[Path] = typer.Option(None, "--lean-project", help="Lake project to check (default: the bundled one)."),
        model: str = typer.Option(DEFAULT_MODEL, "--model", help="Model whose local cache to look for."),
        as_json: bool = typer.Option(False, "--json", help="Print the checks as one JSON object."),
    ) -> None:
        """Check Python packages, GPU, Lean (elan/lean/lake, the Lake project and REPL), Isabelle and the model cache.

        Exits 0 unless a core Python package is missing. Lean is needed by `minif2f` (the main job),
        `prove` and `check`; Isabelle, a GPU and model weights only by some uses: each missing piece is
        reported with what to do.
        """
        from rich.console import Console

        from ..doctor import checks_table, collect_checks
        from ..assembly import LEAN_PROJECT_ENV

        import os

        project = lean_project
        if project is None and os.environ.get(LEAN_PROJECT_ENV):
            project = Path(os.environ[LEAN_PROJECT_ENV])
        checks = collect_checks(project, model)
        broken = [c for c in checks if c.required and not c.ok]
        missing = [c for c in checks if not c.required and not c.ok]
        lean_missing = [c for c in missing if c.name.startswith("lean: ")]
        if as_json:
            import json
            from dataclasses import asdict

            typer.echo(json.dumps({"checks": [asdict(c) for c in checks], "core_ok": not broken,
                                   "lean_ready": not lean_missing}, ensure_ascii=False))
            if broken:
                raise typer.Exit(1)
            return
        console = Console()
        console.print(checks_table(checks))
        if lean_missing:
            console.print("Lean is not ready: `llemma-prove minif2f`, `prove` and `check` need it "
                          "(run `llemma-prove setup lean`)")
        if broken:
            console.print(f"{len(broken)} core piece(s) missing: {', '.join(c.name for c in broken)}")
            raise typer.Exit(1)
        console.print(
            "core installation ok" + (f"; {len(missing)} piece(s) missing that some uses need (see 'what to do')"
                                      if missing else "")
        )
