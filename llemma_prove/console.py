"""The one rich Console on stderr that log lines and progress bars share.

rich keeps a live progress bar below everything printed through the same Console, so logging through
it puts each log line above the bar instead of tearing it. Commands draw their progress on
`stderr_console()`; `cli.configure_logging` points the log handler at it.
"""

from __future__ import annotations

from typing import Any

_CONSOLES: list[Any] = []


def stderr_console() -> Any:
    """The process's shared stderr Console (made on first use)."""
    if not _CONSOLES:
        from rich.console import Console

        _CONSOLES.append(Console(stderr=True))
    return _CONSOLES[0]
