"""`llemma-prove check`: verdicts for proofs from files, a table or JSON, and a clear stop without Lean.

The Lean tools are the stand-ins (tests/doubles/fake_lean.py and fake_lean4checker.py, test doubles),
passed with `--lean-command` / `--lean4checker-command`, the options a user has for tools elsewhere.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from llemma_prove.provers.lean.options import MINIF2F_HEADER
from tests.cli.test_cli import assert_one_line_error, run_cli
from tests.lean.conftest import FAKE_LEAN, FAKE_LEAN4CHECKER, lean_library

NAME = "mathd_algebra_478"
STATEMENT = ("theorem mathd_algebra_478 (b h v : ℝ) (h₀ : 0 < b ∧ 0 < h ∧ 0 < v) (h₁ : v = 1 / 3 * (b * h))\n"
             "    (h₂ : b = 30) (h₃ : h = 13 / 2) : v = 65 := by sorry")
HEAD = STATEMENT[: -len(" by sorry")]
GOOD = " by\n  rw [h₂, h₃] at h₁\n  rw [h₁]\n  norm_num"
SKIP = " by\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃]"


def statements(tmp_path: Path) -> Path:
    path = tmp_path / "statements.jsonl"
    row = {"name": NAME, "split": "test", "formal_statement": STATEMENT, "header": MINIF2F_HEADER}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def tool_args(tmp_path: Path, rules: list[dict] | None = None) -> list[str]:
    world = tmp_path / "world.json"
    world.write_text(json.dumps(rules or []), encoding="utf-8")
    lean = shlex.join([sys.executable, "-S", str(FAKE_LEAN), "--world", str(world)])
    checker = shlex.join([sys.executable, "-S", str(FAKE_LEAN4CHECKER)])
    return ["--lean-command", lean, "--lean4checker-command", checker, "--memory-limit-mb", "0"]


def env() -> dict[str, str]:
    return {"LEAN_PATH": str(lean_library())}


def test_check_jsonl_gives_a_verdict_per_proof(tmp_path: Path) -> None:
    proofs = tmp_path / "proofs.jsonl"
    rows = [{"name": NAME, "proof": GOOD}, {"name": NAME, "proof": " by\n  sorry"},
            {"name": NAME, "tactics": ["rw [h₂, h₃] at h₁", "rw [h₁]", "norm_num"]},
            {"name": NAME, "formal_proof": HEAD + SKIP}, {"name": "not_in_the_set", "proof": GOOD}]
    proofs.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    proc = run_cli("check", str(proofs), "--data", str(statements(tmp_path)), "--json", *tool_args(tmp_path), env=env())
    assert proc.returncode == 1, proc.stderr  # not every proof is accepted
    out = json.loads(proc.stdout)
    verdicts = [r["verdict"] for r in out["results"]]
    assert verdicts == ["accepted", "rejected", "accepted", "rejected", "rejected"], out
    assert "sorry" in out["results"][1]["reason"] and out["results"][3]["layer"] == "text"
    assert out["results"][0]["axioms"] == ["propext", "Classical.choice", "Quot.sound"]
    assert out["summary"] == {"accepted": 2, "rejected": 3, "unchecked": 0}
    assert all(isinstance(r["time_s"], float) for r in out["results"])


def test_check_lean_file_prints_a_table(tmp_path: Path) -> None:
    source = tmp_path / "proof.lean"
    source.write_text(MINIF2F_HEADER + HEAD + GOOD + "\n", encoding="utf-8")
    proc = run_cli("check", str(source), "--data", str(statements(tmp_path)), *tool_args(tmp_path), env=env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert NAME in proc.stdout and "accepted" in proc.stdout and "1 accepted, 0 rejected, 0 unchecked" in proc.stdout


def test_check_rejects_what_the_kernel_replay_rejects(tmp_path: Path) -> None:
    """A proof the text filter cannot see through is still refused by lean4checker's answer."""
    proofs = tmp_path / "proofs.jsonl"
    body = " by\n  norm_num [h₁, h₂, h₃, show (1:ℝ) = 1 from rfl]"
    proofs.write_text(json.dumps({"name": NAME, "proof": body}, ensure_ascii=False) + "\n", encoding="utf-8")
    rules = [{"match": "show (1:ℝ) = 1", "constants": [{"name": NAME, "kernel_error": "declaration type mismatch"}]}]
    proc = run_cli("check", str(proofs), "--data", str(statements(tmp_path)), "--json", *tool_args(tmp_path, rules),
                   env=env())
    result = json.loads(proc.stdout)["results"][0]
    assert result["verdict"] == "rejected" and result["layer"] == "replay" and "lean4checker" in result["reason"]


def test_check_without_lean_stops_at_once_saying_what_to_install(tmp_path: Path) -> None:
    source = tmp_path / "proof.lean"
    source.write_text(MINIF2F_HEADER + HEAD + GOOD + "\n", encoding="utf-8")
    empty = tmp_path / "bin"
    empty.mkdir()
    started = time.monotonic()
    proc = run_cli("check", str(source), "--data", str(statements(tmp_path)), "--lean-project", str(tmp_path / "proj"),
                   env={"PATH": str(empty), "ELAN_HOME": str(tmp_path / "no-elan")})
    assert_one_line_error(proc, "Lean is not ready", "elan", "llemma-prove setup lean")
    assert time.monotonic() - started < 30


def test_check_bad_input_is_one_line(tmp_path: Path) -> None:
    odd = tmp_path / "proof.txt"
    odd.write_text("x", encoding="utf-8")
    assert_one_line_error(run_cli("check", str(odd)), "cannot check", ".lean, .thy or .jsonl")
    assert_one_line_error(run_cli("check", str(tmp_path / "missing.lean")), "not found")
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"name": "x", "proof": "by simp"}\n{"proof": "by simp"}\n', encoding="utf-8")
    assert_one_line_error(run_cli("check", str(rows)), "rows.jsonl:2", "name")
    assert_one_line_error(run_cli("check", str(rows), "--statement-set", "nope"), "unknown statement set")


def test_check_theory_without_isabelle_stops_at_once(tmp_path: Path) -> None:
    theory = tmp_path / "mathd_algebra_10.thy"
    theory.write_text('theory mathd_algebra_10 imports Complex_Main begin\n\n'
                      'theorem mathd_algebra_10: "abs ((120::real) / 100 * 30 - 130 / 100 * 20) = 10"\n'
                      '  by simp\n\nend\n', encoding="utf-8")
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = run_cli("check", str(theory), env={"PATH": str(empty), "ISABELLE_HOME": "", "PISA_HOME": ""})
    assert_one_line_error(proc, "Isabelle")


def test_check_lean_file_with_its_own_lemmas_names_the_benchmark_theorem(tmp_path: Path) -> None:
    """The file's own lemmas come first: the theorem checked is the one the statement set knows, and
    anything between the header and its statement is a rejection (only the header may precede it)."""
    source = tmp_path / "proof.lean"
    source.write_text(MINIF2F_HEADER + "lemma helper : True := trivial\n\n" + HEAD + GOOD + "\n", encoding="utf-8")
    proc = run_cli("check", str(source), "--data", str(statements(tmp_path)), "--json", *tool_args(tmp_path), env=env())
    result = json.loads(proc.stdout)["results"][0]
    assert result["name"] == NAME and result["verdict"] == "rejected" and "only the header" in result["reason"]
