"""`llemma-prove show RUN_DIR THEOREM`: one theorem of a run: the proof to paste, the path that found
it, and the search tree as an interactive HTML page (written next to the graph; `--open` opens it)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("show")
    def show_command(
        run_dir: Path = typer.Argument(..., help="A run directory written by `llemma-prove minif2f`."),
        theorem: str = typer.Argument(..., help="A theorem name of that run (e.g. mathd_algebra_478)."),
        output: Optional[Path] = typer.Option(None, "--output", "-o",
                                              help="Where to write the HTML page (default: RUN_DIR/graphs/THEOREM.html)."),
        open_page: bool = typer.Option(False, "--open", help="Open the page in a web browser."),
        proof_only: bool = typer.Option(False, "--proof-only", help="Print only the accepted proof (for piping); "
                                                                   "no page is written."),
    ) -> None:
        """Show one theorem of a run: the accepted proof as you can paste it, the path that found it (each
        tactic with its score and prover time), and the whole search tree as an HTML page to click through."""
        from ..errors import UserError
        from ..viewer import default_html_path, load_view, open_in_browser, pasteable_proof, path_lines, write_html

        view = load_view(run_dir, theorem)
        record = view.record
        proof = pasteable_proof(record)
        if proof_only:
            if proof is None:
                raise UserError(f"{record.name} has no accepted proof in {run_dir} (status: {record.status})")
            typer.echo(proof, nl=False)
            return
        if view.stand_in:
            from ..plots import STAND_IN_NOTE

            typer.echo(f"-- {STAND_IN_NOTE}")
        if proof is not None:
            typer.echo(f"-- {record.name}: proved, accepted by the final check "
                       f"({record.expansions} expansions, {record.elapsed_s:.1f} s)")
            typer.echo(proof)
        else:
            typer.echo(f"-- {record.name}: not proved (status: {record.status})")
            verification = record.verification or {}
            if record.status == "rejected":
                typer.echo(f"-- the search closed every goal, but the final check did not accept the proof "
                           f"({verification.get('verdict', '?')}: {verification.get('reason', '')}); it is not a proof")
            if record.error:
                typer.echo(f"-- {record.error}")
            typer.echo("")
        lines = path_lines(view)
        if lines:
            typer.echo("Path that " + ("found it:" if proof is not None else "closed every goal in the search:"))
            for line in lines:
                typer.echo("  " + line)
            typer.echo("")
        if view.graph is None:
            typer.echo("No search graph was stored for this theorem (it ended before its search started).")
            return
        page = write_html(view, output or default_html_path(run_dir, record.name))
        typer.echo(f"Search tree ({view.graph.number_of_nodes()} nodes): {page}")
        if open_page and not open_in_browser(page):
            typer.echo(f"no web browser found; open {page.resolve().as_uri()} yourself", err=True)
