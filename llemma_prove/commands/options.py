"""One vocabulary of options: the options several commands share are defined here once, so each has the
same name, type, default, help, validation and message in `minif2f`, `prove`, `autoformalize`, `check`
and the language server's initialization options (`editor.backends.EditorConfig` checks with the same
`llemma_prove.vocabulary` functions, so a value is refused with the same message everywhere)."""

from __future__ import annotations

import enum
from typing import Any, Optional

import typer

from .. import vocabulary
from ..config import DEFAULT_MODEL

# The commands validate with these (`options.check_budget(...)`), one message each, the same functions
# as the language server's initialization options.
check_at_least_one = vocabulary.check_at_least_one
check_budget = vocabulary.check_budget
check_endpoint = vocabulary.check_endpoint
check_positive_seconds = vocabulary.check_positive_seconds
check_statements = vocabulary.check_statements


# Help panels: options are listed under these headings (cli.py prints them at 80 columns).
SELECTION_PANEL = "Selection"
MODEL_PANEL = "Model"
DECODING_PANEL = "Decoding"
PROVER_PANEL = "Prover"
BUDGET_PANEL = "Budget"
SEARCH_PANEL = "Search improvements (off: the paper's harness)"
RUN_PANEL = "Run directory"
THROUGHPUT_PANEL = "Throughput"


class Split(str, enum.Enum):
    valid = "valid"
    test = "test"


def model() -> Any:
    return typer.Option(DEFAULT_MODEL, "--model", help="Model id (Hugging Face) or server model name.", rich_help_panel=MODEL_PANEL)


def model_backend() -> Any:
    return typer.Option("hf", "--model-backend", help="Model backend plug-in: hf (transformers), vllm, openai "
                                                       "(HTTP server), or an installed one (see `llemma-prove doctor`).", rich_help_panel=MODEL_PANEL)


def prover(default: Optional[str] = "lean", extra: str = "") -> Any:
    return typer.Option(default, "--prover", help="Proof assistant plug-in: lean, dojo, isabelle, or an installed "
                                                  "one (see `llemma-prove doctor`)." + extra, rich_help_panel=PROVER_PANEL)


def endpoint() -> Any:
    return typer.Option(None, "--endpoint", help="Base URL of an OpenAI-compatible server.", rich_help_panel=MODEL_PANEL)


def device() -> Any:
    return typer.Option(None, "--device", help="Device for local models (auto, cuda, cuda:1, cpu).", rich_help_panel=MODEL_PANEL)


def dtype() -> Any:
    return typer.Option(None, "--dtype", help="Weights dtype for local models (auto, bfloat16, float16, float32).", rich_help_panel=MODEL_PANEL)


def lean_project() -> Any:
    return typer.Option(None, "--lean-project", help="Lake project with Mathlib and the REPL.", rich_help_panel=PROVER_PANEL)


def workers() -> Any:
    return typer.Option(None, "--workers", help="Prover processes (default: sized from the machine).", rich_help_panel=PROVER_PANEL)


def expansions(what: str = "theorem") -> Any:
    return typer.Option(100, "--expansions", help=f"Most node expansions per {what} (paper: 100).", rich_help_panel=BUDGET_PANEL)


def candidates(what: str = "Candidates per expansion (paper: 32).", default: int = 32) -> Any:
    return typer.Option(default, "--candidates", help=what, rich_help_panel=BUDGET_PANEL)


def time_limit(what: str = "theorem") -> Any:
    return typer.Option(600.0, "--time-limit", help=f"Seconds per {what} (paper: 600).", rich_help_panel=BUDGET_PANEL)


def max_new_tokens() -> Any:
    return typer.Option(256, "--max-new-tokens", help="Most tokens generated per candidate.", rich_help_panel=DECODING_PANEL)


def statement_set() -> Any:
    return typer.Option(
        None, "--statement-set",
        help="Lean 4 statement set: lean4-v4.24.0 (default, yangky11/miniF2F-lean4) or lean4-v4.9.0 "
             "(DeepSeek-Prover-V1.5). Downloaded from its pinned git commit on first use.", rich_help_panel=SELECTION_PANEL)


def data() -> Any:
    return typer.Option(None, "--data", help="Local JSONL of statements instead of a set.", rich_help_panel=SELECTION_PANEL)


def theorems(what: str = "theorem") -> Any:
    return typer.Option([], "--theorem", "--name", help=f"Only this {what} (repeatable).", rich_help_panel=SELECTION_PANEL)
