"""`llemma-prove report RUN_DIR [RUN_DIR ...]`: print a run's summary again and draw its plots, or
compare several runs side by side (one table, one figure). Reads the runs; writes only the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        run_dirs: List[Path] = typer.Argument(..., help="Run directories written by `llemma-prove minif2f`; "
                                                        "two or more are compared side by side."),
        markdown: bool = typer.Option(False, "--markdown", help="Print the Markdown table instead of a rich table."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary (or, for several runs, each run's "
                                     "summary) as one JSON object on stdout; plots only with --plots."),
        plots: Optional[bool] = typer.Option(None, "--plots/--no-plots", show_default=False,
                                             help="Draw the plots (default: when matplotlib is installed). One run: "
                                                  "PNGs next to summary.md; several: one comparison figure."),
        plots_dir: Optional[Path] = typer.Option(None, "--plots-dir", help="Write the plots here instead (default: "
                                                 "the run directory; for several runs the current directory)."),
    ) -> None:
        """Print the summary table of a run (proved / total and rate per split and problem family) and draw
        its plots; with several runs, compare them in one table and one figure."""
        from rich.console import Console

        if as_json and markdown:
            from ..errors import UserError

            raise UserError("use either --json or --markdown, not both")
        if as_json and plots is None:
            plots = False  # stdout is the JSON object; plots are drawn only when asked for
        if len(run_dirs) > 1:
            _compare(run_dirs, markdown, plots, plots_dir, as_json)
            return
        from ..report import rich_table, summarise, to_markdown
        from ..store import load_run

        config, records = load_run(run_dirs[0])
        summary = summarise(config, records)
        if as_json:
            import json

            typer.echo(json.dumps({"run_dir": str(run_dirs[0]), "summary": summary.to_json()}, ensure_ascii=False))
        elif markdown:
            typer.echo(to_markdown(summary), nl=False)
        else:
            Console().print(rich_table(summary))
        if _want_plots(plots):
            from ..report import write_plots

            _write(lambda: write_plots(run_dirs[0], config, records, summary, plots_dir), required=plots is True)


def _compare(run_dirs: List[Path], markdown: bool, plots: Optional[bool], plots_dir: Optional[Path],
             as_json: bool = False) -> None:
    from rich.console import Console

    from ..compare import comparison_legend, comparison_markdown, comparison_rich_table, load_runs

    runs = load_runs(run_dirs)
    if as_json:
        import json

        typer.echo(json.dumps({"runs": [{"key": r.key, "run_dir": str(r.run_dir), "summary": r.summary.to_json()}
                                        for r in runs]}, ensure_ascii=False))
    elif markdown:
        typer.echo(comparison_markdown(runs), nl=False)
    else:
        console = Console()
        console.print(comparison_rich_table(runs))
        for line in comparison_legend(runs):
            console.print(line, markup=False, highlight=False)
    if _want_plots(plots):
        from ..plots import COMPARISON_PNG, RunData, write_comparison_plot

        data = [RunData(r.legend, r.summary, r.records, r.stand_in) for r in runs]
        _write(lambda: [write_comparison_plot((plots_dir or Path(".")) / COMPARISON_PNG, data)], required=plots is True)


def _write(draw: Callable[[], List[Path]], required: bool) -> None:
    """Draw and name what was written; when the plots were not asked for, a failure is only a note."""
    from ..errors import UserError

    try:
        written = draw()
    except UserError as exc:
        if required:
            raise
        typer.echo(f"no plots: {exc}", err=True)
        return
    typer.echo("plots: " + ", ".join(str(p) for p in written), err=True)


def _want_plots(plots: Optional[bool]) -> bool:
    """--plots: required (an error without matplotlib); --no-plots: never; default: when installed."""
    if plots is not None:
        return plots
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        typer.echo("no plots: matplotlib is not installed (pip install 'llemma-prove[plot]')", err=True)
        return False
    return True
