"""`llemma-prove minif2f --ray` as a process: interrupted mid-run (Ctrl-C) it keeps every finished
theorem, shuts its local Ray cluster down (no Ray process left), and the same command resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

pytest.importorskip("ray")

from tests.conftest import DOUBLES_ARGS, ROOT, cli_env  # noqa: E402
from tests.throughput.cli_data import NAMES, write_statements  # noqa: E402


def _ray_processes(since: float) -> list[psutil.Process]:
    """Ray's own processes (GCS, raylet, agents, workers) started after `since`."""
    found = []
    for proc in psutil.process_iter(["cmdline", "create_time", "name"]):
        try:
            name, argv = proc.info["name"] or "", proc.info["cmdline"] or []
            is_ray = (name.startswith("ray::") or name in ("raylet", "gcs_server")
                      or any("site-packages/ray/" in part or part.startswith("ray::") for part in argv))
            if is_ray and proc.info["create_time"] >= since and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _command(tmp_path) -> tuple[list[str], dict[str, str]]:
    data = write_statements(tmp_path / "statements.jsonl")
    env = {**cli_env({k: v for k, v in os.environ.items() if k != "PYTHONPATH"}),
           "LLEMMA_PROVE_TEST_STEP_DELAY": "0.4", "COLUMNS": "160"}
    cmd = [sys.executable, "-m", "llemma_prove.cli", "minif2f", "--data", str(data), "--run-dir",
           str(tmp_path / "run"), "--no-progress", "--concurrency", "2", "--ray", *DOUBLES_ARGS]
    return cmd, env


def _results(tmp_path) -> list[str]:
    path = tmp_path / "run" / "results.jsonl"
    return [json.loads(l)["name"] for l in path.read_text().splitlines()] if path.exists() else []


def test_interrupted_run_keeps_results_leaves_nothing_running_and_resumes(tmp_path):
    since = time.time() - 1
    cmd, env = _command(tmp_path)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not _results(tmp_path) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert _ray_processes(since)  # the local cluster is up (so "none left" below means something)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == 130, err.decode()[-2000:]
    assert "run the same command again to resume" in err.decode()
    kept = _results(tmp_path)
    assert 1 <= len(kept) < len(NAMES)

    deadline = time.monotonic() + 10
    while _ray_processes(since) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _ray_processes(since), [p.info["cmdline"][:3] for p in _ray_processes(since)]

    env["LLEMMA_PROVE_TEST_STEP_DELAY"] = "0"
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    names = _results(tmp_path)
    assert sorted(names) == sorted(NAMES) and names[: len(kept)] == kept  # nothing lost, nothing twice
    assert not _ray_processes(since)  # a normal exit shuts its local cluster down too
