"""Reading a source file exactly, and writing proofs back into it without touching anything else.

The file is read as bytes and decoded as strict UTF-8, which round-trips exactly: every byte outside
the edited spans (other Unicode, CRLF line endings, a byte-order mark, the presence or absence of a
final newline) is written back unchanged. Writing goes to a temporary file in the same directory,
which then atomically replaces the original (`os.replace`) with the original's permission bits and
owner, and only if the file's bytes are still the ones that were read: an editor or a person who
changed it in the meantime wins, and nothing is written. A file with several hard links, or whose
owner this process cannot give to a new file, is rewritten in place instead (same inode, so the
links, owner and mode stay; the bytes are checked right before). A read-only file is refused before
any search starts (`check_writable`).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import FileChanged, ReadOnlySource, SourceNotFound, UnsupportedSource


@dataclass(frozen=True)
class SourceSnapshot:
    """A file as it was read: its bytes, its text, and their hash."""

    path: Path
    data: bytes
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def read_source(path: str | Path) -> SourceSnapshot:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceNotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceNotFound(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise SourceNotFound(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedSource(f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded)") from None
    return SourceSnapshot(path, data, text)


def check_writable(path: str | Path) -> None:
    """Raise `ReadOnlySource` when `path` cannot be written: checked before a `--write` search starts,
    so that minutes of search do not end in a refused write."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except OSError as exc:
        raise SourceNotFound(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not os.access(target, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise ReadOnlySource(f"{path} is read-only; nothing will be written (make it writable, or drop --write to "
                             "print the proofs)")


def unified_diff(old: str, new: str, path: str | Path) -> str:
    """A unified diff of two versions of a file, lines kept with their own endings."""
    name = str(path)
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{name}", tofile=f"b/{name}"
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _fsync_dir(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _write_in_place(snapshot: SourceSnapshot, target: Path, data: bytes) -> Path:
    """Rewrite the file's own inode (hard links, owner, mode and ACLs stay), if its bytes are unchanged."""
    try:
        handle = open(target, "r+b")
    except PermissionError:
        raise ReadOnlySource(f"{snapshot.path} is read-only; nothing was written") from None
    with handle:
        if hashlib.sha256(handle.read()).hexdigest() != snapshot.sha256:
            raise FileChanged(f"{snapshot.path} changed on disk since it was read; nothing was written (run again)")
        handle.seek(0)
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
    return target


def write_atomically(snapshot: SourceSnapshot, new_text: str) -> Path:
    """Replace the file with `new_text` if its bytes are still `snapshot`'s; returns the path written.

    Raises `FileChanged` (and writes nothing) when the file changed or vanished since it was read, and
    `ReadOnlySource` when it is read-only. A symbolic link is followed, so the link stays a link and
    its target gets the new text; a file with other hard links is rewritten in place so they all see it.
    """
    target = Path(os.path.realpath(snapshot.path))
    if _digest(target) != snapshot.sha256:
        raise FileChanged(f"{snapshot.path} changed on disk since it was read; nothing was written (run again)")
    info = target.stat()
    mode = stat.S_IMODE(info.st_mode)
    if not os.access(target, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise ReadOnlySource(f"{snapshot.path} is read-only; nothing was written")
    data = new_text.encode("utf-8")
    if info.st_nlink > 1 or not os.access(target.parent, os.W_OK | os.X_OK):
        return _write_in_place(snapshot, target, data)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".llemma-tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        mine = tmp.stat()
        if (mine.st_uid, mine.st_gid) != (info.st_uid, info.st_gid):
            try:
                os.chown(tmp, info.st_uid, info.st_gid)
            except OSError:  # not allowed to give the file away: keep the owner by writing in place
                tmp.unlink(missing_ok=True)
                return _write_in_place(snapshot, target, data)
        # Checked again right before the swap, to keep the window for a lost update as small as possible.
        if _digest(target) != snapshot.sha256:
            raise FileChanged(f"{snapshot.path} changed on disk while the proof was being written; nothing was written")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target
