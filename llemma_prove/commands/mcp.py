"""`llemma-prove mcp`: the Model Context Protocol server (stdio) for agents; see editor/mcp_server.py."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError
from . import options


def register(app: typer.Typer) -> None:
    @app.command("mcp")
    def mcp_command(
        model: str = options.model(),
        model_backend: str = options.model_backend(),
        endpoint: Optional[str] = options.endpoint(),
        device: Optional[str] = options.device(),
        lean_project: Optional[Path] = typer.Option(None, "--lean-project",
                                                    help="Lake project (default: the one enclosing each file)."),
        expansions: int = options.expansions("search"),
        candidates: int = options.candidates(),
        time_limit: float = options.time_limit("search"),
        backends: Optional[str] = typer.Option(None, "--backends", help="Editor-backends plug-in supplying provers "
                                               "and model together (see `llemma-prove doctor`)."),
    ) -> None:
        """Run an MCP server on stdin/stdout with tools to prove a theorem or the sorrys of a file,
        suggest next steps, check a proof and run a proof step (for agents; see docs/editor.md)."""
        from ..editor.backends import EditorConfig

        config = EditorConfig(model=model, model_backend=model_backend, endpoint=endpoint, device=device,
                              lean_project=lean_project, expansions=expansions, candidates=candidates,
                              time_limit_s=time_limit, backends=backends)
        try:
            importlib.import_module("mcp")  # the SDK is imported where it is used; here only its presence
            from ..editor.mcp_server import serve
        except ImportError as exc:  # the `mcp` extra
            raise UserError(f"the MCP server needs the mcp package (pip install 'llemma-prove[mcp]'): {exc}")
        serve(config)
