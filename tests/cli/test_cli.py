"""The `llemma-prove` command line as a user meets it: help, doctor, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llemma_prove.commands import minif2f as minif2f_command
from llemma_prove.errors import ProverUnavailable
from tests.conftest import DOUBLES_ARGS, ROOT, cli_env, require_shared


def run_cli(*args: str, doubles: bool = False, cwd: Path = ROOT, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = cli_env({**os.environ, **(env or {})})
    env["COLUMNS"] = "160"
    if doubles:
        args = (*args, *DOUBLES_ARGS)
    return subprocess.run([sys.executable, "-m", "llemma_prove.cli", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def test_jsonl() -> Path:
    return require_shared("minif2f/lean4/test.jsonl")


def test_help_lists_every_command():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("minif2f", "doctor", "setup", "report"):
        assert command in proc.stdout
    for sub in (["minif2f", "--help"], ["doctor", "--help"], ["setup", "--help"], ["setup", "lean", "--help"],
                ["report", "--help"]):
        assert run_cli(*sub).returncode == 0, sub
    assert "--statement-set" in run_cli("minif2f", "--help").stdout


def test_doctor_runs_and_reports_what_to_do():
    proc = run_cli("doctor")
    assert proc.returncode == 0, proc.stderr
    assert "python: torch" in proc.stdout and "lean: Lean toolchain (elan, lake)" in proc.stdout
    if shutil.which("lake") is None:
        assert "setup lean" in proc.stdout  # advice for the missing piece


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--split", "train"], ["'--split'", "'train' is not one of 'valid', 'test'"]),
        (["--expansions", "0"], ["--expansions must be at least 1, got 0"]),
        (["--candidates", "-4"], ["--candidates must be at least 1, got -4"]),
        (["--time-limit", "0"], ["--time-limit must be a positive number of seconds"]),
        (["--temperature", "0.7"], ["--temperature applies to --decoding sample only"]),
        (["--decoding", "sample", "--top-p", "1.5"], ["--top-p must be in (0, 1], got 1.5"]),
        (["--decoding", "sample", "--temperature", "0"], ["--temperature must be positive for sampling"]),
        (["--concurrency", "0"], ["--concurrency must be at least 1, got 0"]),
        (["--limit", "0"], ["--limit must be at least 1"]),
        (["--model-backend", "openai"], ["needs --endpoint URL"]),
        (["--statement-set", "lean3"], ["unknown statement set 'lean3'"]),
        (["--data", "/nonexistent/statements.jsonl"], ["data file /nonexistent/statements.jsonl not found"]),
        (["--prompt", "/nonexistent/prompt.json"], ["prompt file /nonexistent/prompt.json not found"]),
        (["--bogus-flag"], ["No such option: --bogus-flag"]),
    ],
)
def test_bad_arguments_give_one_line_errors(args, fragments):
    assert_one_line_error(run_cli("minif2f", *args), *fragments)


def test_malformed_data_file_names_the_line(tmp_path, test_jsonl):
    good = test_jsonl.read_text(encoding="utf-8").splitlines()[:3]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([good[0], good[1], '{"name": "x", "header": ""', good[2]]) + "\n", encoding="utf-8")
    assert_one_line_error(run_cli("minif2f", "--data", str(bad)), f"{bad}:3: invalid JSON")
    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join([good[0], good[1], good[0]]) + "\n", encoding="utf-8")
    name = json.loads(good[0])["name"]
    assert_one_line_error(run_cli("minif2f", "--data", str(dup)), f"{dup}:3: duplicate theorem name '{name}'")


def test_unknown_theorem_lists_close_matches(test_jsonl):
    proc = run_cli("minif2f", "--data", str(test_jsonl), "--theorem", "mathd_algebra_47")
    assert_one_line_error(proc, "unknown theorem 'mathd_algebra_47'", "close matches:", "mathd_algebra_478")


def test_missing_lean_stops_before_any_model_or_run_directory(tmp_path, test_jsonl):
    if shutil.which("lake") is not None:
        pytest.skip("Lean is installed here; this checks the message on machines without it")
    run_dir = tmp_path / "run"
    proc = run_cli("minif2f", "--data", str(test_jsonl), "--limit", "1", "--run-dir", str(run_dir))
    assert_one_line_error(proc)
    assert not run_dir.exists()


async def test_order_prover_start_fails_before_the_model_is_built(tmp_path, test_jsonl, monkeypatch):
    events: list[str] = []

    class MissingLean:
        async def start(self):
            events.append("prover.start")
            raise ProverUnavailable("lake not found: install elan, then run `llemma-prove setup lean`")

        async def close(self):
            events.append("prover.close")

    async def installed(args):  # the installation check passes; the start itself fails
        events.append("preflight")

    monkeypatch.setattr(minif2f_command, "preflight_prover", installed)
    monkeypatch.setattr(minif2f_command, "build_prover", lambda *a: events.append("build_prover") or MissingLean())
    monkeypatch.setattr(minif2f_command, "build_proposer", lambda *a: events.append("build_proposer"))
    args = minif2f_command.Minif2fArgs(data=test_jsonl, limit=2, run_dir=tmp_path / "run", progress=False)
    with pytest.raises(ProverUnavailable, match="lake not found"):
        await minif2f_command.run_minif2f(args)
    assert events == ["preflight", "build_prover", "prover.start", "prover.close"]
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(shutil.which("lake") is not None, reason="Lean is installed here")
def test_missing_lean_stops_before_any_download(tmp_path):
    cache = tmp_path / "cache"
    proc = run_cli("minif2f", "--split", "test", "--run-dir", str(tmp_path / "run"), env={"LLEMMA_PROVE_CACHE": str(cache)})
    assert_one_line_error(proc, "Lean is not ready", "llemma-prove setup lean")
    assert not cache.exists() and not (tmp_path / "run").exists()


def test_run_report_and_configuration_change(tmp_path, test_jsonl):
    run_dir = tmp_path / "run"
    base = ["minif2f", "--data", str(test_jsonl), "--limit", "4", "--run-dir", str(run_dir), "--no-progress"]
    first = run_cli(*base, "--expansions", "5", doubles=True)
    assert first.returncode == 0, first.stderr
    assert "proved / total" in first.stdout

    report = run_cli("report", str(run_dir), "--markdown")
    assert report.returncode == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert f"| all | {summary['overall']['proved']}/4 | 4/4 |" in report.stdout

    changed = run_cli(*base, "--expansions", "6", doubles=True)
    assert_one_line_error(changed, "different configuration", "search.max_expansions: 5 -> 6", "--force")
    forced = run_cli(*base, "--expansions", "6", "--force", doubles=True)
    assert forced.returncode == 0, forced.stderr
    assert len(list(run_dir.glob("superseded-*"))) == 1

    again = run_cli(*base, "--expansions", "6", doubles=True)  # same command: everything already finished
    assert again.returncode == 0
    assert len((run_dir / "results.jsonl").read_text().splitlines()) == 4


def test_default_run_dir_is_stable_for_the_same_command(tmp_path, test_jsonl):
    base = ["minif2f", "--data", str(test_jsonl), "--limit", "2", "--output-dir", str(tmp_path), "--no-progress"]
    assert run_cli(*base, doubles=True).returncode == 0
    assert run_cli(*base, "--limit", "3", doubles=True).returncode == 0  # widening the selection resumes
    (run_dir,) = list(tmp_path.iterdir())
    assert run_dir.name.startswith("minif2f-test-local-llemma_7b-test-doubles-")
    assert len((run_dir / "results.jsonl").read_text().splitlines()) == 3
    assert run_cli(*base, "--improved", doubles=True).returncode == 0  # another configuration, another directory
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.skipif(shutil.which("lake") is not None, reason="Lean is installed here")
def test_autoformalize_without_lean_stops_before_any_download(tmp_path):
    cache = tmp_path / "cache"
    proc = run_cli("autoformalize", "--minif2f", "--split", "test", "--target", "lean4", "--mode", "dsp",
                   "--run-dir", str(tmp_path / "run"), env={"LLEMMA_PROVE_CACHE": str(cache)})
    assert_one_line_error(proc, "Lean is not ready", "llemma-prove setup lean")
    assert not cache.exists() and not (tmp_path / "run").exists()
