"""User mistakes in the editor commands: each is printed as one line and exits non-zero."""

from __future__ import annotations

from ..errors import UserError


class EditorError(UserError):
    """Base of the editor's user errors."""


class SourceNotFound(EditorError):
    """The file does not exist or cannot be read."""


class UnsupportedSource(EditorError):
    """Not a `.lean` / `.thy` file, not UTF-8, or text the scanner cannot cut (unterminated comment)."""


class NoTarget(EditorError):
    """Nothing to prove where the user pointed: no `sorry`, no theorem at that line, unknown name."""


class UnsupportedTarget(EditorError):
    """A `sorry` in a position the search cannot start from (the message says why and what works)."""


class FileChanged(EditorError):
    """The file changed on disk after it was read; nothing was written."""


class ReadOnlySource(EditorError):
    """The file cannot be written (`--write` on a read-only file)."""
