"""Scanning helpers shared by the Lean and Isabelle text tools (comments and cartouches nest)."""

from __future__ import annotations


def skip_nested(text: str, i: int, open_: str, close: str) -> int:
    """Index just past the nested `open_ ... close` block that starts at `i`; -1 if it never closes."""
    depth = 0
    n = len(text)
    while i < n:
        if text.startswith(open_, i):
            depth += 1
            i += len(open_)
        elif text.startswith(close, i):
            depth -= 1
            i += len(close)
            if depth == 0:
                return i
        else:
            i += 1
    return -1


def skip_nested_or_end(text: str, i: int, open_: str, close: str) -> int:
    """Like `skip_nested`, but an unclosed block runs to the end of the text."""
    end = skip_nested(text, i, open_, close)
    return len(text) if end < 0 else end
