"""The checks behind the options several entry points share (`minif2f`, `prove`, `autoformalize`,
`check`, the language server's initialization options): one message per option, named by its
command-line spelling, wherever the value came from."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .errors import UserError


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


def check_statements(data: Path | None, statement_set: str | None, known_sets: Iterable[str]) -> None:
    """--data and --statement-set: one or the other, a known set, an existing file."""
    known = sorted(known_sets)
    if data is not None and statement_set is not None:
        raise UserError("use either --data FILE or --statement-set NAME, not both")
    if statement_set is not None and statement_set not in known:
        raise UserError(f"unknown statement set '{statement_set}' (choose one of {', '.join(known)})")
    if data is not None and not data.is_file():
        raise UserError(f"data file {data} not found")
