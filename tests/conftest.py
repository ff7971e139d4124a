"""Shared fixtures: where the shared real data lives, and a check that no child process is left."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    return Path(os.environ.get("LLEMMA_PROVE_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set LLEMMA_PROVE_SHARED_DATA)")
    return path


def require_shared(relative: str) -> Path:
    """Path of a shared data file, skipping the test cleanly when it is absent."""
    path = shared_data_dir() / relative
    if not path.exists():
        pytest.skip(f"shared data file {path} not found (set LLEMMA_PROVE_SHARED_DATA)")
    return path


def child_pids() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture
def no_leftover_children():
    """Fails the test if it leaves any child process (or grandchild) running."""
    before = child_pids()
    yield
    import time

    deadline = time.monotonic() + 5.0
    leftover = child_pids() - before
    while leftover and time.monotonic() < deadline:
        time.sleep(0.05)
        leftover = {p for p in child_pids() - before if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
    assert not leftover, f"child processes left running: {sorted(leftover)}"
