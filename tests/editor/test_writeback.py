"""Write-back: the exact bytes around an edit are kept, and nothing is written over a changed file."""

from __future__ import annotations

import os
import stat

import pytest

from llemma_prove.editor import writeback
from llemma_prove.editor.errors import FileChanged, SourceNotFound, UnsupportedSource
from llemma_prove.editor.targets import apply_edits, locate, proof_edit
from llemma_prove.editor.writeback import read_source, unified_diff, write_atomically
from llemma_prove.types import Language

# A byte-order mark, CRLF endings, non-ASCII text on both sides of the edit, a non-BMP character, a
# tab inside a comment, and no newline at the end of the file.
ORIGINAL = (
    "\ufeffimport Mathlib\r\n-- Größe: x ≤ 𝔽\t(notes)\r\n\r\n"
    "theorem größer (x : ℝ) (h₀ : 0 < x) : 0 ≤ x := by sorry\r\n\r\n"
    "/-- ∀ ε > 0, ∃ δ -/\r\ntheorem «après» : True := trivial"
).encode("utf-8")


def _edit(text: str, steps):
    (target,) = [t for t in locate(text, Language.LEAN4).targets if t.supported]
    return proof_edit(target, steps)


def test_bytes_outside_the_edit_are_unchanged(tmp_path):
    path = tmp_path / "Main.lean"
    path.write_bytes(ORIGINAL)
    snapshot = read_source(path)
    assert snapshot.text.encode("utf-8") == ORIGINAL
    edit = _edit(snapshot.text, ["positivity", "linarith [h₀]"])
    new_text = apply_edits(snapshot.text, [edit])
    write_atomically(snapshot, new_text)
    written = path.read_bytes()
    before = snapshot.text[: edit.start].encode("utf-8")
    after = snapshot.text[edit.end:].encode("utf-8")
    assert written.startswith(before) and written.endswith(after)
    assert written[len(before): len(written) - len(after)] == b"\r\n  positivity\r\n  linarith [h\xe2\x82\x80]"
    assert written[:3] == b"\xef\xbb\xbf" and not written.endswith(b"\n")
    assert written == ORIGINAL.replace(b" by sorry\r\n", b" by\r\n  positivity\r\n  linarith [h\xe2\x82\x80]\r\n")


def test_permissions_kept_and_no_temporary_file_left(tmp_path):
    path = tmp_path / "P.lean"
    path.write_bytes(b"theorem p : 1 = 1 := by sorry\n")
    os.chmod(path, 0o640)
    snapshot = read_source(path)
    write_atomically(snapshot, apply_edits(snapshot.text, [_edit(snapshot.text, ["rfl"])]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.read_bytes() == b"theorem p : 1 = 1 := by rfl\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["P.lean"]


def test_refuses_when_the_file_changed_since_it_was_read(tmp_path):
    path = tmp_path / "C.lean"
    path.write_bytes(b"theorem c : 1 = 1 := by sorry\n")
    snapshot = read_source(path)
    path.write_bytes(b"theorem c : 1 = 1 := by sorry\n-- edited by the user\n")
    with pytest.raises(FileChanged, match="changed on disk since it was read; nothing was written"):
        write_atomically(snapshot, "theorem c : 1 = 1 := by rfl\n")
    assert path.read_bytes() == b"theorem c : 1 = 1 := by sorry\n-- edited by the user\n"
    path.unlink()
    with pytest.raises(FileChanged):
        write_atomically(snapshot, "theorem c : 1 = 1 := by rfl\n")
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_change_that_lands_while_writing(tmp_path, monkeypatch):
    path = tmp_path / "R.lean"
    path.write_bytes(b"theorem r : 1 = 1 := by sorry\n")
    snapshot = read_source(path)
    real_chmod = os.chmod

    def chmod_then_user_saves(target, mode):  # the user saves between our temp file and the swap
        real_chmod(target, mode)
        path.write_bytes(b"theorem r : 1 = 1 := by decide\n")

    monkeypatch.setattr(writeback.os, "chmod", chmod_then_user_saves)
    with pytest.raises(FileChanged, match="while the proof was being written"):
        write_atomically(snapshot, "theorem r : 1 = 1 := by rfl\n")
    assert path.read_bytes() == b"theorem r : 1 = 1 := by decide\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R.lean"]


def test_symbolic_link_stays_a_link(tmp_path):
    real = tmp_path / "real.lean"
    real.write_bytes(b"theorem s : 2 = 2 := by sorry\n")
    link = tmp_path / "link.lean"
    link.symlink_to(real)
    snapshot = read_source(link)
    write_atomically(snapshot, "theorem s : 2 = 2 := by rfl\n")
    assert link.is_symlink()
    assert real.read_bytes() == b"theorem s : 2 = 2 := by rfl\n"


def test_read_errors_are_user_errors(tmp_path):
    with pytest.raises(SourceNotFound, match="no such file"):
        read_source(tmp_path / "missing.lean")
    with pytest.raises(SourceNotFound, match="is a directory"):
        read_source(tmp_path)
    latin1 = tmp_path / "latin1.lean"
    latin1.write_bytes("theorem gr\xf6\xdfe : True := sorry\n".encode("latin-1"))
    with pytest.raises(UnsupportedSource, match="not UTF-8 text"):
        read_source(latin1)


def test_unified_diff_keeps_line_endings():
    old = "a\r\ntheorem t := by sorry\r\nb"
    new = "a\r\ntheorem t := by rfl\r\nb"
    diff = unified_diff(old, new, "T.lean")
    assert diff.startswith("--- a/T.lean\n+++ b/T.lean\n")
    assert "-theorem t := by sorry\r\n+theorem t := by rfl\r\n" in diff
    assert diff.endswith(" b\n\\ No newline at end of file\n")
