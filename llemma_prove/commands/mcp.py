"""`llemma-prove mcp`: the Model Context Protocol server (stdio) for agents; see editor/mcp_server.py."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Optional

import typer

from ..errors import UserError


class ModelBackend(str, enum.Enum):
    hf = "hf"
    vllm = "vllm"
    openai = "openai"


def register(app: typer.Typer) -> None:
    @app.command("mcp")
    def mcp_command(
        model: str = typer.Option("EleutherAI/llemma_7b", "--model", help="Model id (Hugging Face) or server model name."),
        model_backend: ModelBackend = typer.Option(ModelBackend.hf, "--model-backend",
                                                   help="hf (transformers), vllm, or openai (HTTP server)."),
        endpoint: Optional[str] = typer.Option(None, "--endpoint", help="Base URL of an OpenAI-compatible server."),
        device: Optional[str] = typer.Option(None, "--device", help="Device for a local model (auto, cuda, cpu)."),
        lean_project: Optional[Path] = typer.Option(None, "--lean-project",
                                                    help="Lake project (default: the one enclosing each file)."),
        expansions: int = typer.Option(100, "--expansions", help="Most node expansions per search."),
        candidates: int = typer.Option(32, "--candidates", help="Candidates per expansion."),
        time_limit: float = typer.Option(600.0, "--time-limit", help="Seconds per search."),
    ) -> None:
        """Run an MCP server on stdin/stdout with tools to prove a theorem or the sorrys of a file,
        suggest next steps, check a proof and run a proof step (for agents; see docs/editor.md)."""
        from ..editor.backends import EditorConfig

        config = EditorConfig(model=model, model_backend=model_backend.value, endpoint=endpoint, device=device,
                              lean_project=lean_project, expansions=expansions, candidates=candidates,
                              time_limit_s=time_limit)
        try:
            import mcp  # noqa: F401

            from ..editor.mcp_server import serve
        except ImportError as exc:  # the `mcp` extra
            raise UserError(f"the MCP server needs the mcp package (pip install 'llemma-prove[mcp]'): {exc}")
        serve(config)
