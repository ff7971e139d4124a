"""Interrupt a real `llemma-prove minif2f` process (Ctrl-C, then kill -9) and resume it.

The command runs as a subprocess with the scripted test doubles plugged in through the CLI's testing
plug-ins (`--prover test-doubles --model-backend test-doubles`, tests/plugin_dist); statements, store, runner and report are the real ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import DOUBLES_ARGS, ROOT, cli_env, require_shared
from tests.runner.cli_doubles import DEAD_END, PROVED, REJECTED, outcome_for

COUNT = 16


def _env(delay: float) -> dict[str, str]:
    env = cli_env()
    env["LLEMMA_PROVE_TEST_STEP_DELAY"] = str(delay)
    env["LLEMMA_PROVE_CACHE"] = "/nonexistent-cache-must-not-be-used"
    return env


def _command(data: Path, run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "llemma_prove.cli", "minif2f", "--data", str(data), "--split", "test",
            "--run-dir", str(run_dir), "--concurrency", "2", "--no-progress",
            "--prompt", "builtin", *DOUBLES_ARGS]  # this test's cache must not be used, so not the (cached) harness prompt


def _result_lines(run_dir: Path) -> list[bytes]:
    path = run_dir / "results.jsonl"
    return path.read_bytes().split(b"\n") if path.exists() else []


def _start_and_stop(command: list[str], run_dir: Path, after: int, sig: int, delay: float) -> subprocess.Popen:
    proc = subprocess.Popen(command, cwd=ROOT, env=_env(delay), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while len([l for l in _result_lines(run_dir) if l.strip()]) < after:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run wrote no results"
        time.sleep(0.02)
    os.kill(proc.pid, sig)
    proc.communicate(timeout=30)
    return proc


def test_interrupted_and_killed_runs_resume_without_loss_or_duplicates(tmp_path):
    rows = require_shared("minif2f/lean4/test.jsonl").read_text(encoding="utf-8").splitlines()[:COUNT]
    data = tmp_path / "subset.jsonl"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    names = [json.loads(r)["name"] for r in rows]
    assert {outcome_for(n) for n in names} == {PROVED, REJECTED, DEAD_END}  # every kind of ending occurs
    run_dir = tmp_path / "run"
    command = _command(data, run_dir)

    # Ctrl-C: the process stops cleanly, with exit status 130 and a summary matching its results.
    first = _start_and_stop(command, run_dir, after=3, sig=signal.SIGINT, delay=0.05)
    assert first.returncode == 130
    after_int = [json.loads(l) for l in _result_lines(run_dir) if l.strip()]
    assert 3 <= len(after_int) < COUNT
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["overall"]["finished"] == len(after_int)

    # kill -9 a resumed run: no chance to clean up at all.
    second = _start_and_stop(command, run_dir, after=len(after_int) + 3, sig=signal.SIGKILL, delay=0.05)
    assert second.returncode == -signal.SIGKILL
    after_kill = [l for l in _result_lines(run_dir) if l.strip()]
    assert len(after_int) + 3 <= len(after_kill) + 1  # the last line may be torn
    assert len(after_kill) < COUNT

    # Re-run the same command to the end.
    done = subprocess.run(command, cwd=ROOT, env=_env(0.0), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    records = [json.loads(l) for l in _result_lines(run_dir) if l.strip()]
    assert sorted(r["name"] for r in records) == sorted(names)  # complete, each exactly once
    for record in records:
        expected = outcome_for(record["name"])
        assert record["status"] == {PROVED: "proved", REJECTED: "rejected", DEAD_END: "exhausted"}[expected]
        assert record["proved"] is (expected == PROVED)
    proved = sorted(r["name"] for r in records if r["proved"])

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["overall"] == {"proved": len(proved), "finished": COUNT, "total": COUNT,
                                  "rate": round(len(proved) / COUNT, 6)}
    assert sum(v["finished"] for v in summary["by_family"].values()) == COUNT
    assert sum(v["proved"] for v in summary["by_family"].values()) == len(proved)
    assert sum(summary["statuses"].values()) == COUNT
    proofs = (run_dir / "proofs.lean").read_text(encoding="utf-8")
    assert sorted(n for n in names if f"theorem {n} " in proofs or f"theorem {n}\n" in proofs) == proved
    assert proofs.count("import Mathlib") == 1
    assert "proved / total" in done.stdout and f"{len(proved)}/{COUNT}" in done.stdout
    config = json.loads((run_dir / "config.json").read_text())
    assert config["statements"]["statement_set"] == "local" and len(config["statements"]["sha256"]) == 64
    assert len(list((run_dir / "graphs").glob("*.json.gz"))) == COUNT
    assert config["prover"]["name"] == "test-doubles" and summary["paper"] is None  # never mistaken for Lean
