"""One vocabulary of options: the options several commands share are defined here once, so each has the
same name, type, default, help, validation and message in `minif2f`, `prove`, `autoformalize`, `check`
and the language server's initialization options (`editor.backends.EditorConfig`, which checks with the
same `check_*` functions below)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Optional

import typer

from ..config import DEFAULT_MODEL
from ..errors import UserError


class Split(str, enum.Enum):
    valid = "valid"
    test = "test"


def model() -> Any:
    return typer.Option(DEFAULT_MODEL, "--model", help="Model id (Hugging Face) or server model name.")


def model_backend() -> Any:
    return typer.Option("hf", "--model-backend", help="Model backend plug-in: hf (transformers), vllm, openai "
                                                       "(HTTP server), or an installed one (see `llemma-prove doctor`).")


def prover(default: Optional[str] = "lean", extra: str = "") -> Any:
    return typer.Option(default, "--prover", help="Proof assistant plug-in: lean, dojo, isabelle, or an installed "
                                                  "one (see `llemma-prove doctor`)." + extra)


def endpoint() -> Any:
    return typer.Option(None, "--endpoint", help="Base URL of an OpenAI-compatible server.")


def device() -> Any:
    return typer.Option(None, "--device", help="Device for local models (auto, cuda, cuda:1, cpu).")


def dtype() -> Any:
    return typer.Option(None, "--dtype", help="Weights dtype for local models (auto, bfloat16, float16, float32).")


def lean_project() -> Any:
    return typer.Option(None, "--lean-project", help="Lake project with Mathlib and the REPL.")


def workers() -> Any:
    return typer.Option(None, "--workers", help="Prover processes (default: sized from the machine).")


def expansions(what: str = "theorem") -> Any:
    return typer.Option(100, "--expansions", help=f"Most node expansions per {what} (paper: 100).")


def candidates(what: str = "Candidates per expansion (paper: 32).", default: int = 32) -> Any:
    return typer.Option(default, "--candidates", help=what)


def time_limit(what: str = "theorem") -> Any:
    return typer.Option(600.0, "--time-limit", help=f"Seconds per {what} (paper: 600).")


def max_new_tokens() -> Any:
    return typer.Option(256, "--max-new-tokens", help="Most tokens generated per candidate.")


def theorems(what: str = "theorem") -> Any:
    return typer.Option([], "--theorem", "--name", help=f"Only this {what} (repeatable).")


# -- validation: one message per option, wherever it is given -------------------------------------------


def check_at_least_one(option: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UserError(f"{option} must be at least 1, got {value}")


def check_positive_seconds(option: str, value: float | None) -> None:
    if value is not None and not value > 0:
        raise UserError(f"{option} must be a positive number of seconds, got {value:g}")


def check_budget(expansions: int, candidates: int, time_limit: float, max_new_tokens: int) -> None:
    """The search budget every command shares."""
    check_at_least_one("--expansions", expansions)
    check_at_least_one("--candidates", candidates)
    check_positive_seconds("--time-limit", time_limit)
    check_at_least_one("--max-new-tokens", max_new_tokens)


def check_endpoint(backend_name: str, remote: bool, endpoint: str | None, device: str | None = None,
                   dtype: str | None = None) -> None:
    """A server backend needs its URL and takes no device; a local one takes no URL."""
    if remote and not endpoint:
        raise UserError(f"--model-backend {backend_name} needs --endpoint URL (an OpenAI-compatible completions server)")
    if not remote and endpoint:
        raise UserError("--endpoint applies to --model-backend openai only")
    if remote and (device or dtype):
        raise UserError("--device and --dtype apply to local models (--model-backend hf or vllm), not to a server")


def prompt_path(path: Path | None) -> None:
    if path is not None and not path.exists():
        raise UserError(f"prompt file {path} not found")
