"""`llemma-prove setup lean|isabelle`: prepare a proof assistant backend (delegates to the backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import ProverUnavailable


def register(app: typer.Typer) -> None:
    setup_app = typer.Typer(help="Prepare a proof assistant backend (Lean 4 project, Isabelle/PISA).",
                            no_args_is_help=True)

    @setup_app.command("lean")
    def setup_lean_command(
        lean_project: Optional[Path] = typer.Option(None, "--lean-project", help="Lake project to set up (default: the bundled lean_project/)."),
    ) -> None:
        """Build the Lake project (Mathlib and the REPL) the Lean backend runs in."""
        from rich.console import Console

        try:
            from ..provers.lean import setup_lean
        except ImportError as exc:
            raise ProverUnavailable(f"the Lean backend cannot be imported ({exc})") from None
        _finish(setup_lean(lean_project, Console()))

    @setup_app.command("isabelle")
    def setup_isabelle_command(
        isabelle_home: Optional[Path] = typer.Option(None, "--isabelle-home", help="Isabelle installation (default: $ISABELLE_HOME)."),
        pisa_jar: Optional[Path] = typer.Option(None, "--pisa-jar", help="PISA assembly jar (default: $LLEMMA_PROVE_PISA_JAR)."),
        build: bool = typer.Option(True, "--build/--no-build", help="Build the context session image (isabelle/ROOT) once."),
    ) -> None:
        """Check Isabelle and PISA, write the context theory and session ROOT, build the session image."""
        from rich.console import Console

        try:
            from ..provers.isabelle.health import setup_isabelle
            from ..provers.isabelle.options import IsabelleOptions
        except ImportError as exc:
            raise ProverUnavailable(f"the Isabelle backend cannot be imported ({exc})") from None
        overrides: dict[str, Any] = {}
        if isabelle_home is not None:
            overrides["isabelle_home"] = isabelle_home
        if pisa_jar is not None:
            overrides["pisa_jar"] = pisa_jar
        _finish(setup_isabelle(IsabelleOptions.from_env(**overrides), Console(), build=build))

    app.add_typer(setup_app, name="setup")


def _finish(result: Any) -> None:
    """Setup functions return False (or raise a UserError) when something required is still missing."""
    if result is False:
        raise typer.Exit(1)
