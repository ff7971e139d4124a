"""A CLI that reads well: help at 80 columns, -v/-q anywhere, shell completion, `--json` that is JSON on
error too, and a progress bar with an ETA that log lines do not tear."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pytest

from llemma_prove import cli
from tests.cli.test_cli import assert_one_line_error, run_cli
from tests.conftest import require_shared

COMMANDS = ["autoformalize", "check", "dataset", "doctor", "iterate", "lsp", "mcp", "minif2f", "prove",
            "report", "setup", "setup lean", "setup isabelle", "show", "train"]


@pytest.fixture(scope="module")
def test_jsonl() -> Path:
    return require_shared("minif2f/lean4/test.jsonl")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, test_jsonl) -> Path:
    run_dir = tmp_path_factory.mktemp("run") / "run"
    proc = run_cli("minif2f", "--data", str(test_jsonl), "--limit", "3", "--run-dir", str(run_dir), "--no-progress",
                   "--expansions", "4", doubles=True)
    assert proc.returncode == 0, proc.stderr
    return run_dir


def test_every_help_fits_80_columns_with_full_option_names():
    from llemma_prove.commands import minif2f

    for command in COMMANDS:
        proc = run_cli(*command.split(), "--help", env={"COLUMNS": "80"})
        assert proc.returncode == 0, (command, proc.stderr)
        wide = [line for line in proc.stdout.splitlines() if len(line) > 80]
        assert not wide, (command, wide)
        assert "…" not in proc.stdout and "<bool>" not in proc.stdout, command
    text = run_cli("minif2f", "--help").stdout
    for flag in ("--clean-candidates", "--exclude-model-wait", "--replay-after-crash", "--resume / --no-resume"):
        assert flag in text
    assert "--merge-states  " in text or "--merge-states\n" in text  # a flag has no value placeholder
    assert minif2f  # imported only to fail loudly if the command module is gone


def test_minif2f_options_are_grouped_by_panel():
    text = run_cli("minif2f", "--help", env={"COLUMNS": "80"}).stdout
    headings = ["Selection:", "Model:", "Decoding:", "Prover:", "Budget:",
                "Search improvements (off: the paper's harness):", "Throughput:", "Run directory:"]
    lines = text.splitlines()
    found = [line for line in lines if line in headings]
    assert found == headings
    def panel(heading: str) -> str:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" ")), len(lines))
        return "\n".join(lines[start:end])
    assert "--theorem" in panel("Selection:") and "--expansions" in panel("Budget:")
    assert "--improved" in panel("Search improvements (off: the paper's harness):")
    assert "--run-dir" in panel("Run directory:") and "--concurrency" in panel("Throughput:")


def test_hoisting_verbosity_keeps_everything_else_in_order():
    assert cli.hoist_verbosity(["minif2f", "--limit", "2", "-v"]) == ["-v", "minif2f", "--limit", "2"]
    assert cli.hoist_verbosity(["-q", "report", "x", "-vv"]) == ["-q", "-vv", "report", "x"]
    assert cli.hoist_verbosity(["prove", "f.lean", "--", "-v"]) == ["prove", "f.lean", "--", "-v"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbosity_flags_anywhere_on_the_line(where, test_jsonl):
    args = ["minif2f", "--data", str(test_jsonl), "--limit", "0"]
    args = ["-v", *args] if where == "before" else [*args, "-v"]
    assert_one_line_error(run_cli(*args), "--limit must be at least 1")  # parsed, then the real error
    args = ["doctor", "--json", "-q"]
    proc = run_cli(*args)
    assert proc.returncode == 0 and json.loads(proc.stdout)["checks"]


def test_verbosity_levels():
    for verbose, level in ((-1, logging.ERROR), (0, logging.WARNING), (1, logging.INFO), (2, logging.DEBUG)):
        cli.configure_logging(verbose)
        assert logging.getLogger().level == level
    cli.configure_logging(0)


def test_shell_completion_is_offered_and_answers():
    assert "--install-completion" in run_cli("--help").stdout
    # the shell is named, so typer must not guess it from the process tree (which differs under pytest)
    script = run_cli("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert script.returncode == 0 and "_LLEMMA_PROVE_COMPLETE" in script.stdout
    words = run_cli(env={"_LLEMMA_PROVE_COMPLETE": "complete_bash", "COMP_WORDS": "llemma-prove minif2f --clean",
                         "COMP_CWORD": "2"})
    assert words.stdout.split() == ["--clean-candidates"]


@pytest.mark.parametrize("args, fragment", [
    (["report", "--json", "/nonexistent/run"], "is not a run directory"),
    (["report", "--json", "--bogus"], "No such option: --bogus"),
    (["check", "--json", "/nonexistent/proofs.lean"], "not found"),
    (["doctor", "--json", "--bogus"], "No such option: --bogus"),
    (["prove", "--json", "--bogus", "x.lean"], "No such option: --bogus"),
])
def test_json_output_is_json_on_error_too(args, fragment):
    proc = run_cli(*args)
    assert proc.returncode != 0
    assert fragment in json.loads(proc.stdout)["error"]
    assert "Traceback" not in proc.stderr


def test_doctor_json_and_the_lean_verdict():
    data = json.loads(run_cli("doctor", "--json").stdout)
    names = {c["name"]: c for c in data["checks"]}
    assert names["python: torch"]["ok"] and data["core_ok"] is True
    lean = [c for c in data["checks"] if c["name"].startswith("lean: ")]
    assert lean and data["lean_ready"] == all(c["ok"] for c in lean if not c["required"])
    if not data["lean_ready"]:
        text = run_cli("doctor").stdout
        assert "Lean is not ready" in " ".join(text.split())
        assert not [line for line in text.splitlines() if "lean:" in line and "optional" in line]


def test_report_json_single_and_compared(finished_run: Path):
    one = run_cli("report", "--json", str(finished_run))
    assert one.returncode == 0, one.stderr
    data = json.loads(one.stdout)
    saved = json.loads((finished_run / "summary.json").read_text())
    assert data["summary"]["overall"] == saved["overall"] and data["run_dir"] == str(finished_run)
    assert not list(finished_run.glob("*.png")) or "plots:" not in one.stderr  # no plots unless asked
    other = finished_run.parent / "copy"
    import shutil

    shutil.copytree(finished_run, other)
    both = json.loads(run_cli("report", "--json", str(finished_run), str(other)).stdout)
    assert [r["key"] for r in both["runs"]] == ["A", "B"]
    assert both["runs"][0]["summary"]["overall"] == both["runs"][1]["summary"]["overall"]
    assert_one_line_error(run_cli("report", "--json", "--markdown", str(finished_run)), "either --json or --markdown")


def test_progress_bar_has_an_eta_and_log_lines_go_above_it():
    from rich.console import Console

    from llemma_prove import console as console_mod
    from llemma_prove.runner import RunProgress

    buffer = io.StringIO()
    shared = Console(file=buffer, force_terminal=True, width=120)
    console_mod._CONSOLES[:] = [shared]
    try:
        cli.configure_logging(0)
        with RunProgress(console_mod.stderr_console(), 4, True) as progress:
            progress.advance(1, 1)
            logging.getLogger("llemma_prove.test").warning("a log line while the bar is live")
            progress.advance(1, 2)
        out = buffer.getvalue()
    finally:
        console_mod._CONSOLES.clear()
        cli.configure_logging(0)
    assert "eta" in out and "a log line while the bar is live" in out
    # The log line is printed on its own line through the live display, not into the bar's line.
    line = next(l for l in out.splitlines() if "a log line" in l)
    assert "miniF2F" not in line
