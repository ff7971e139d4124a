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
    ) -> None:
        """Check Python packages, GPU, Lean (elan/lean/lake, the Lake project and REPL), Isabelle and the model cache.

        Exits 0 unless a core Python package is missing: Lean, Isabelle, a GPU and model weights are
        reported with what to do, since not every use needs them.
        """
        from rich.console import Console

        from ..doctor import checks_table, collect_checks
        from ..assembly import LEAN_PROJECT_ENV

        import os

        project = lean_project
        if project is None and os.environ.get(LEAN_PROJECT_ENV):
            project = Path(os.environ[LEAN_PROJECT_ENV])
        checks = collect_checks(project, model)
        console = Console()
        console.print(checks_table(checks))
        broken = [c for c in checks if c.required and not c.ok]
        missing = [c for c in checks if not c.required and not c.ok]
        if broken:
            console.print(f"{len(broken)} core piece(s) missing: {', '.join(c.name for c in broken)}")
            raise typer.Exit(1)
        console.print(
            "core installation ok" + (f"; {len(missing)} optional piece(s) missing (see 'what to do')" if missing else "")
        )
