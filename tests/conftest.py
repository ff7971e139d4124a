"""Shared fixtures: where the shared real data lives, and a check that no child process is left."""

from __future__ import annotations

import os
import sys
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


def require_built_lean() -> None:
    """Skip the test unless Lean is installed and the bundled Lake project is built."""
    from llemma_prove.provers.lean import lean_health
    from llemma_prove.provers.lean.project import default_project_dir, find_tool

    if find_tool("lake") is None:
        pytest.skip("Lean is not installed (`lake` not on PATH or in ~/.elan/bin)")
    missing = [f"{c.name}: {c.detail}" for c in lean_health(default_project_dir()) if not c.ok]
    if missing:
        pytest.skip("the Lake project is not built (run `llemma-prove setup lean`): " + "; ".join(missing))


HARNESS_PROMPT_COPY = "prompts/llemma_formal2formal_lean4_fewshot.json"


def seed_harness_prompt(cache_root: Path) -> bool:
    """Pre-seed a cache with the shared copy of the harness's prompt, where `harness_prompt` keeps the
    prompt it extracted (so no download is needed). False when the shared copy is absent."""
    from llemma_prove.proposers.prompts import HARNESS_PROMPT_FILE, HARNESS_PROMPT_FUNCTION, _extracted_path

    copy = shared_data_dir() / HARNESS_PROMPT_COPY
    if not copy.is_file():
        return False
    target = _extracted_path(HARNESS_PROMPT_FILE, HARNESS_PROMPT_FUNCTION, cache_root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(copy.read_bytes())
    return True


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test (and every CLI it starts) uses a cache of its own, holding the harness's prompt from
    the shared copy, never the user's cache and never the network for that prompt."""
    if os.environ.get("LLEMMA_PROVE_CACHE"):
        yield Path(os.environ["LLEMMA_PROVE_CACHE"])
        return
    root = tmp_path_factory.mktemp("llemma-prove-cache")
    seed_harness_prompt(root)
    os.environ["LLEMMA_PROVE_CACHE"] = str(root)
    try:
        yield root
    finally:
        os.environ.pop("LLEMMA_PROVE_CACHE", None)


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


# The test stand-ins as a plug-in distribution (tests/plugin_dist): on PYTHONPATH of a spawned CLI, its
# .dist-info makes `--prover test-doubles --model-backend test-doubles` resolve through entry points.
PLUGIN_DIST = ROOT / "tests" / "plugin_dist"
DOUBLES_ARGS = ("--prover", "test-doubles", "--model-backend", "test-doubles")
if str(PLUGIN_DIST) not in sys.path:  # in this process too, as if the distribution were installed
    sys.path.append(str(PLUGIN_DIST))


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a spawned `python -m llemma_prove.cli`: this checkout and the test plug-ins first."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(PLUGIN_DIST), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture
def test_doubles():
    """The scripted prover and proposer of tests/runner/cli_doubles.py registered in this process."""
    from llemma_prove import plugins
    from tests.runner.cli_doubles import PROPOSER, PROVER

    with plugins.registered(plugins.PROVERS, PROVER), plugins.registered(plugins.PROPOSERS, PROPOSER):
        yield {"prover": "test-doubles", "model_backend": "test-doubles"}
