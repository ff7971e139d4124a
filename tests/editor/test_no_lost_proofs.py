"""No found proof is lost: an interrupt, a file changed on disk, a read-only file or an error still
leave every checked proof on stdout (and `--json` valid); writes keep owner, mode and hard links;
reported lines are the lines of the file as read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from llemma_prove.cli import main
from llemma_prove.editor.backends import EditorConfig
from llemma_prove.editor.errors import ReadOnlySource
from llemma_prove.editor.prove_file import prove_file
from tests.conftest import ROOT, cli_env
from tests.editor.doubles import SAMPLE_LEAN, sample_backends, use_backends

CONFIG = EditorConfig(expansions=10, candidates=4, time_limit_s=30)
SLOW = "import Mathlib\n\nlemma helper (x : ℕ) : x + 0 = x := by sorry\n\ntheorem slow : True := by sorry\n"


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["prove", *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def _interrupted_run(tmp_path, marker: str, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "Slow.lean"
    path.write_text(SLOW, encoding="utf-8")
    env = cli_env()
    proc = subprocess.Popen([sys.executable, "-m", "llemma_prove.cli", "prove", str(path), "--write", *extra,
                             "--backends", "test-cli-slow"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=env, cwd=ROOT)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        seen = ""
        while marker not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline().decode("utf-8")  # unbuffered: communicate() gets the rest
        assert marker in seen, seen
        time.sleep(0.5)  # a few chain steps into the endless search
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert path.read_text(encoding="utf-8") == SLOW  # nothing written on an interrupt
    return proc.returncode, out.decode("utf-8"), seen + err.decode("utf-8")


def test_ctrl_c_after_one_of_two_sorrys_keeps_the_found_proof(tmp_path):
    code, out, err = _interrupted_run(tmp_path, "searching slow")
    assert code == 130
    assert out == "-- helper (line 3)\nsimp\n"
    assert "interrupted: nothing was written (1 proof(s) found" in err


def test_ctrl_c_with_json_still_prints_one_json_object_with_the_proof(tmp_path):
    code, out, err = _interrupted_run(tmp_path, "proved -- helper", "--json")
    assert code == 130
    data = json.loads(out)
    assert data["interrupted"] is True and data["error"] == "interrupted" and data["written"] is False
    assert [(r["target"], r["status"], r["proof"]) for r in data["results"]] == [("helper", "proved", "simp")]
    assert "proved -- helper (line 3)\nsimp" in err  # also on stderr the moment it was found


async def test_file_changed_elsewhere_proofs_are_moved_and_written(tmp_path):
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    appended = SAMPLE_LEAN + "\n-- a note the editor autosaved\ntheorem later : True := trivial\n"

    def autosave(outcome) -> None:
        if outcome.target.name == "helper":
            path.write_text(appended, encoding="utf-8")

    report = await prove_file(path, CONFIG, write=True, backends=sample_backends(CONFIG), on_found=autosave)
    assert report.written and not report.write_error
    text = path.read_text(encoding="utf-8")
    assert text.endswith("theorem later : True := trivial\n") and "x + 0 = x := by simp" in text
    assert "exact helper a" in text and text.count("sorry") == 1


async def test_file_changed_before_a_proof_nothing_written_proofs_kept(tmp_path, capsys, monkeypatch):
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    changed = SAMPLE_LEAN.replace("open Real\n", "open Real\nopen Nat\n")

    def autosave(outcome) -> None:
        path.write_text(changed, encoding="utf-8")

    report = await prove_file(path, CONFIG, write=True, backends=sample_backends(CONFIG), on_found=autosave)
    assert not report.written and "changed on disk" in report.write_error
    assert "was checked in a different context" in report.write_error
    assert len(report.proved) == 3 and path.read_text(encoding="utf-8") == changed
    assert report.to_json()["write_error"] == report.write_error


def test_read_only_file_is_refused_before_searching(tmp_path, capsys, monkeypatch):
    use_backends(monkeypatch, "tests.editor.doubles:cli_backends")
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    path.chmod(0o444)
    code, out, err = run(capsys, str(path), "--write", "--json")
    assert code == 2 and "read-only" in json.loads(out)["error"]
    assert "searching" not in err and "read-only" in err
    # Without --write the proofs are printed as usual.
    code, out, _ = run(capsys, str(path), "--theorem", "helper")
    assert (code, out) == (0, "simp\n")
    with pytest.raises(ReadOnlySource):
        from llemma_prove.editor.writeback import check_writable

        check_writable(path)


def test_write_keeps_hard_links_mode_and_owner(tmp_path, capsys, monkeypatch):
    use_backends(monkeypatch, "tests.editor.doubles:cli_backends")
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    path.chmod(0o640)
    link = tmp_path / "Link.lean"
    os.link(path, link)
    before = path.stat()
    code, _, _ = run(capsys, str(path), "--theorem", "helper", "--write")
    assert code == 0
    after = path.stat()
    assert link.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    assert "x + 0 = x := by simp" in link.read_text(encoding="utf-8")
    assert (after.st_ino, after.st_nlink, after.st_mode, after.st_uid, after.st_gid) == (
        before.st_ino, 2, before.st_mode, before.st_uid, before.st_gid)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another owner needs root")
def test_atomic_write_keeps_another_owner(tmp_path, capsys, monkeypatch):
    use_backends(monkeypatch, "tests.editor.doubles:cli_backends")
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    os.chown(path, 12345, 23456)
    code, _, _ = run(capsys, str(path), "--theorem", "helper", "--write")
    assert code == 0 and (path.stat().st_uid, path.stat().st_gid) == (12345, 23456)
    assert "by simp" in path.read_text(encoding="utf-8")


async def test_reported_lines_are_the_lines_of_the_file_as_read(tmp_path):
    text = SAMPLE_LEAN.replace("lemma helper (x : ℕ) : x + 0 = x := by sorry",
                               "lemma helper (x : ℕ) : x + 0 = x := by\n  sorry")
    path = tmp_path / "Sample.lean"
    path.write_text(text, encoding="utf-8")
    from llemma_prove.editor.backends import EditorConfig as Config
    from tests.doubles.scripted import goes_to, proves
    from tests.editor import doubles

    backends = sample_backends(Config())
    # helper's proof takes two lines here, so every later target moves down by one line meanwhile.
    backends.prover_double.script = {**doubles.LEAN_SCRIPT, "x : ℕ ⊢ x + 0 = x": {"skip": goes_to("x : ℕ ⊢ x = x"),
                                                                                  "simp": proves()}}
    report = await prove_file(path, CONFIG, backends=backends)
    lines = [(o.target.name, o.line) for o in report.outcomes]
    assert lines == [("helper", 6), ("uses_helper", 10), ("example at line 12", 12), ("«nested one»", 16)]
    assert [r["line"] for r in report.to_json()["results"]] == [6, 10, 12, 16]


def test_json_on_a_usage_error(tmp_path, capsys, monkeypatch):
    use_backends(monkeypatch, "tests.editor.doubles:cli_backends")
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    code, out, _ = run(capsys, str(path), "--line", "0", "--json")
    assert code == 2 and "--line must be at least 1" in json.loads(out)["error"]
    code, out, _ = run(capsys, str(tmp_path / "Missing.lean"), "--json")
    assert code == 2 and "no such file" in json.loads(out)["error"]


def test_a_failed_search_reports_its_best_partial_path(tmp_path, capsys, monkeypatch):
    use_backends(monkeypatch, "tests.editor.doubles:cli_slow_backends")
    path = tmp_path / "Slow.lean"
    path.write_text(SLOW, encoding="utf-8")
    code, out, err = run(capsys, str(path), "--theorem", "slow", "--expansions", "2")
    assert code == 1 and out == ""
    assert "slow (line 5): not proved (budget)" in err
    assert "  best partial path: step ; step (leaves: s2)" in err
    code, out, _ = run(capsys, str(path), "--theorem", "slow", "--expansions", "2", "--json")
    (result,) = json.loads(out)["results"]
    assert result["best_path"] == {"steps": ["step", "step"], "goals": "s2", "closes_goal": False,
                                   "score": result["best_path"]["score"]}


def test_json_on_an_option_parser_error(tmp_path, capsys):
    code, out, err = run(capsys, str(tmp_path / "A.lean"), "--expansions", "many", "--json")
    assert code == 2 and "Invalid value for '--expansions'" in json.loads(out)["error"]
    assert "error" in err
