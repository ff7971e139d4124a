"""One vocabulary of options: the options several commands share are defined here once, so each has the
same name, type, default, help, validation and message in `minif2f`, `prove`, `autoformalize`, `check`
and the language server's initialization options (`editor.backends.EditorConfig` checks with the same
`llemma_prove.vocabulary` functions, so a value is refused with the same message everywhere)."""

from __future__ import annotations

import enum
from typing import Any, Optional

import typer

from ..config import DEFAULT_MODEL
from ..vocabulary import (  # noqa: F401  (re-exported: the commands validate with these, one message each)
    check_at_least_one,
    check_budget,
    check_endpoint,
    check_positive_seconds,
    check_statements,
)


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


def statement_set() -> Any:
    return typer.Option(
        None, "--statement-set",
        help="Lean 4 statement set: lean4-v4.24.0 (default, yangky11/miniF2F-lean4) or lean4-v4.9.0 "
             "(DeepSeek-Prover-V1.5). Downloaded from its pinned git commit on first use.")


def data() -> Any:
    return typer.Option(None, "--data", help="Local JSONL of statements instead of a set.")


def theorems(what: str = "theorem") -> Any:
    return typer.Option([], "--theorem", "--name", help=f"Only this {what} (repeatable).")
