"""`llemma-prove report RUN_DIR`: print a run directory's summary again (read-only)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        run_dir: Path = typer.Argument(..., help="A run directory written by `llemma-prove minif2f`."),
        markdown: bool = typer.Option(False, "--markdown", help="Print the Markdown table instead of a rich table."),
    ) -> None:
        """Print the summary table of a run (proved / total and rate per split and problem family)."""
        from rich.console import Console

        from ..report import rich_table, summarise, to_markdown
        from ..store import load_run

        config, records = load_run(run_dir)
        summary = summarise(config, records)
        if markdown:
            typer.echo(to_markdown(summary), nl=False)
        else:
            Console().print(rich_table(summary))
