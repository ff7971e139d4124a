"""`llemma-prove lsp`: the language server (stdio) with the "Prove with LLEMMA" code action."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("lsp")
    def lsp_command() -> None:
        """Run the language server on stdin/stdout (for editors; see docs/editor.md). Model, prover and
        budget come from the client's initializationOptions."""
        try:
            from ..editor.lsp_server import serve
        except ImportError as exc:  # pygls and lsprotocol are the `lsp` extra
            from ..errors import UserError

            raise UserError(f"the language server needs pygls and lsprotocol (pip install 'llemma-prove[lsp]'): {exc}")
        serve()
