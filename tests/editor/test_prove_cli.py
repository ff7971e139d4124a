"""`llemma-prove prove FILE` end to end through the real command line, with the scripted doubles
plugged in as editor-backends plug-ins (`--backends test-cli`, tests/plugin_dist)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from llemma_prove.cli import main
from tests.conftest import ROOT, cli_env
from tests.editor.doubles import SAMPLE_LEAN

@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    return path


def run(capsys, *args: str, backends: str | None = "test-cli") -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["prove", *args, *(["--backends", backends] if backends else [])])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_one_theorem_prints_its_proof(sample, capsys):
    code, out, err = run(capsys, str(sample), "--theorem", "helper")
    assert code == 0
    assert out == "simp\n"
    assert "searching helper (line 5)" in err
    assert sample.read_text(encoding="utf-8") == SAMPLE_LEAN


def test_line_of_a_last_tactic_sorry(sample, capsys):
    code, out, _ = run(capsys, str(sample), "--line", "9")
    assert (code, out) == (0, "exact helper a\n")


def test_json_for_every_sorry(sample, capsys):
    code, out, err = run(capsys, str(sample), "--json", "--expansions", "5")
    assert code == 1  # one sorry cannot be searched
    data = json.loads(out)
    assert data["file"] == str(sample) and data["proved"] == 3 and data["targets"] == 4 and not data["written"]
    first, second, third, fourth = data["results"]
    assert first == {"target": "helper", "line": 5, "column": 48, "kind": "whole-proof", "status": "proved",
                     "proof": "simp", "steps": ["simp"], "time_s": first["time_s"], "expansions": 1, "reason": None}
    assert second["kind"] == "last-step" and second["proof"] == "exact helper a"
    assert third["target"] == "example at line 11" and third["proof"] == "by norm_num"
    assert fourth["status"] == "unsupported" and fourth["proof"] is None
    assert "nested inside the tactic `·` at line 15" in fourth["reason"]
    assert "searching" not in err  # --json keeps stderr free of progress lines


def test_diff_previews_and_write_applies(sample, capsys):
    code, out, _ = run(capsys, str(sample), "--theorem", "uses_helper", "--diff")
    assert code == 0
    assert out.splitlines()[:2] == [f"--- a/{sample}", f"+++ b/{sample}"]
    assert "\n-  sorry\n+  exact helper a\n" in out
    assert sample.read_text(encoding="utf-8") == SAMPLE_LEAN
    code, out, err = run(capsys, str(sample), "--write")
    assert code == 1
    assert f"wrote 3 proof(s) to {sample}" in err
    assert "«nested one» (line 15): cannot be searched: this sorry is nested" in err
    text = sample.read_text(encoding="utf-8")
    assert text == SAMPLE_LEAN.replace("x + 0 = x := by sorry", "x + 0 = x := by simp").replace(
        "  rw [helper]\n  sorry", "  rw [helper]\n  exact helper a").replace(
        "(2 : ℕ) + 2 = 4 := sorry", "(2 : ℕ) + 2 = 4 := by norm_num")


def test_refused_proof_is_not_written(sample, capsys):
    code, out, err = run(capsys, str(sample), "--theorem", "helper", "--write", backends="test-cli-rejecting")
    assert code == 1 and out == ""
    assert "helper (line 5): not proved (rejected): a proof was found but the final check refused it" in err
    assert f"nothing written to {sample}: no proof found" in err
    assert sample.read_text(encoding="utf-8") == SAMPLE_LEAN


@pytest.mark.parametrize("args, message", [
    (["{missing}"], "no such file"),
    (["{file}", "--line", "3"], "no sorry and no theorem at line 3 of"),
    (["{file}", "--theorem", "nope"], "no theorem named 'nope' in"),
    (["{file}", "--line", "15"], "sorry at line 15, column 11: this sorry is nested inside the tactic `·`"),
    (["{nosorry}"], "no sorry in"),
    (["{file}", "--line", "0"], "--line must be at least 1"),
    (["{file}", "--expansions", "0"], "expansions must be at least 1"),
    (["{text}"], "unsupported file type '.txt'"),
])
def test_user_mistakes_are_one_line_errors(sample, capsys, args, message):
    nosorry = sample.with_name("Done.lean")
    nosorry.write_text("theorem done : 1 = 1 := rfl\n", encoding="utf-8")
    text = sample.with_name("notes.txt")
    text.write_text("sorry\n", encoding="utf-8")
    paths = {"file": sample, "missing": sample.with_name("Missing.lean"), "nosorry": nosorry, "text": text}
    code, out, err = run(capsys, *[a.format(**paths) for a in args])
    assert code == 2 and out == ""
    assert err.startswith("llemma-prove: error: ") and message in err
    assert err.count("\n") == 1


def test_isabelle_file(tmp_path, capsys):
    path = tmp_path / "Demo.thy"
    path.write_text('theory Demo imports Main\nbegin\n\nlemma two: "(2::nat) + 2 = 4"\n  sorry\n\nend\n', encoding="utf-8")
    code, out, err = run(capsys, str(path), "--json")
    (result,) = json.loads(out)["results"]
    # The scripted prover knows no Isabelle theorem: the search cannot start, and the reason says so.
    assert code == 1 and result["status"] == "error" and "not in the script" in result["reason"]
    assert result["kind"] == "whole-proof" and result["target"] == "two"


def test_prove_in_a_real_process(sample):
    env = cli_env()
    done = subprocess.run([sys.executable, "-m", "llemma_prove.cli", "prove", str(sample), "--theorem", "helper",
                           "--write", "--backends", "test-cli"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "simp\n"
    assert "lemma helper (x : ℕ) : x + 0 = x := by simp\n" in sample.read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("lake") is not None, reason="Lean is installed here: the real search would run")
def test_without_lean_the_real_backend_stops_with_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LLEMMA_PROVE_LEAN_PROJECT", raising=False)
    path = tmp_path / "T.lean"
    path.write_text("import Mathlib\n\ntheorem t : 1 = 1 := by sorry\n", encoding="utf-8")
    code, out, err = run(capsys, str(path), "--json", backends=None)
    # The prover is started before any model is loaded, so a missing Lean costs no model download.
    assert code == 2
    error = [line for line in err.splitlines() if line.startswith("llemma-prove: error: ")]
    assert len(error) == 1 and "Lean" in error[0]
    # --json: still one JSON object on stdout, with the error and the (empty) results.
    data = json.loads(out)
    assert "Lean" in data["error"] and data["results"] == [] and data["written"] is False
