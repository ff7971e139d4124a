"""Helpers for the Lean backend tests: the recorded REPL transcripts and the stand-in REPL (test double)."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llemma_prove.provers.lean import LeanOptions
from llemma_prove.provers.lean.repl import LeanRepl, ReplLaunch
from tests.conftest import shared_data_dir

FAKE_REPL = Path(__file__).resolve().parent.parent / "doubles" / "fake_repl.py"
FAKE_LEAN = Path(__file__).resolve().parent.parent / "doubles" / "fake_lean.py"
FAKE_LEAN4CHECKER = Path(__file__).resolve().parent.parent / "doubles" / "fake_lean4checker.py"
TRANSCRIPTS_ENV = "LLEMMA_PROVE_REPL_TRANSCRIPTS"


# The REPL version `lean_project/` pins first, then the newer recording of the same fixtures.
TRANSCRIPT_FOLDERS = ("lean-repl-transcripts-v4.24.0", "lean-repl-transcripts")


def transcripts_dirs() -> list[Path]:
    """The recorded REPL sessions: $LLEMMA_PROVE_REPL_TRANSCRIPTS alone, else both shared folders."""
    env = os.environ.get(TRANSCRIPTS_ENV)
    if env:
        return [Path(env)]
    return [shared_data_dir() / name for name in TRANSCRIPT_FOLDERS]


def transcripts_version(root: Path) -> str:
    """The folder's REPL version for test ids: its `lean-toolchain` (`v4.24.0`), else the folder name."""
    try:
        return (root / "lean-toolchain").read_text(encoding="utf-8").strip().split(":")[-1] or root.name
    except OSError:
        return root.name


@dataclass(frozen=True)
class Transcript:
    name: str
    input: Path
    expected_output: Path | None
    version: str = ""

    @property
    def id(self) -> str:
        return f"{self.version}/{self.name}"

    @property
    def pair_args(self) -> list[str]:
        assert self.expected_output is not None
        return ["--pairs", str(self.input), str(self.expected_output)]


def load_index(root: Path) -> list[Transcript]:
    index = root / "index.jsonl"
    if not index.is_file():
        return []
    version = transcripts_version(root)
    rows = []
    for line in index.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out = row.get("expected_output")
            rows.append(Transcript(row["name"], root / row["input"], root / out if out else None, version))
    return rows


def transcript_roots() -> list[tuple[str, Path]]:
    """(version, folder) of every transcript folder that exists, for parametrising."""
    return [(transcripts_version(root), root) for root in transcripts_dirs() if (root / "index.jsonl").is_file()]


def transcript(name: str, root: Path) -> Transcript:
    for row in load_index(root):
        if row.name == name:
            if row.expected_output is None:
                pytest.skip(f"transcript {name} has no recorded output in {root}")
            return row
    pytest.skip(f"transcript {name} not in {root} (set {TRANSCRIPTS_ENV})")


def fake_command(*args: str) -> list[str]:
    return [sys.executable, "-S", str(FAKE_REPL), *args]


def lean_library() -> Path:
    """A LEAN_PATH directory holding a stand-in `Mathlib.olean`, so the stand-in `lean` resolves `import Mathlib`."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = Path(tempfile.mkdtemp(prefix="llemma-test-leanlib-"))
        (_LIBRARY / "Mathlib.olean").write_bytes(b"stand-in olean (test double)")
        atexit.register(shutil.rmtree, _LIBRARY, True)
    return _LIBRARY


_LIBRARY: Path | None = None


def fake_lean_command(*worlds: Path) -> list[str]:
    return [sys.executable, "-S", str(FAKE_LEAN), *[a for w in worlds for a in ("--world", str(w))]]


def fake_lean4checker_command() -> list[str]:
    return [sys.executable, "-S", str(FAKE_LEAN4CHECKER)]


def fake_tool_env() -> dict[str, str]:
    return {**os.environ, "LEAN_PATH": str(lean_library())}


def fake_options(*args: str, worlds: tuple[Path, ...] = (), **overrides: Any) -> LeanOptions:
    """LeanOptions that run the stand-ins (REPL, `lean`, lean4checker: test doubles) instead of Lean."""
    values: dict[str, Any] = dict(repl_command=fake_command(*args), header="", workers=1, memory_limit_mb=0,
                                  step_timeout_s=10.0, check_timeout_s=10.0, import_timeout_s=10.0,
                                  lean_command=fake_lean_command(*worlds), lean4checker_command=fake_lean4checker_command(),
                                  repl_env=fake_tool_env())
    values.update(overrides)
    return LeanOptions(**values)


def fake_repl(*args: str, **kwargs: Any) -> LeanRepl:
    return LeanRepl(ReplLaunch(tuple(fake_command(*args))), **kwargs)


def write_script(path: Path, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> Path:
    """A recording for the stand-in: (request, response) pairs as real Lean would answer them."""
    path.write_text(json.dumps([{"request": q, "response": r} for q, r in pairs], ensure_ascii=False), "utf-8")
    return path
