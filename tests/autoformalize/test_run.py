"""Whole runs against the doubles: both modes, both targets, results file, resume, report, CLI."""

from __future__ import annotations

import json
import os

import pytest

from llemma_prove.autoformalize.config import AutoformalizeConfig, Mode, Parts
from llemma_prove.autoformalize.problems import InformalProblem, load_problems
from llemma_prove.autoformalize.prompts import default_prompts
from llemma_prove.autoformalize.run import run_autoformalize
from llemma_prove.autoformalize.store import read_records
from llemma_prove.autoformalize.target import target_for
from llemma_prove.errors import DataError
from llemma_prove.store import StoreError
from llemma_prove.types import Language
from tests.autoformalize.doubles import DOUBLES_ARGS
from tests.autoformalize.doubles import ScriptedLanguageModel, ScriptedSketchProver, proves

LEAN_PROBLEMS = [
    InformalProblem("mathd_algebra_900", "Show that two plus two is four.",
                    formal_statement="theorem mathd_algebra_900 : (2 : ℕ) + 2 = 4 := by sorry", split="valid"),
    InformalProblem("amc12_2000_p900", "Show that three times three is nine.",
                    formal_statement="theorem amc12_2000_p900 : (3 : ℕ) * 3 = 9 := by sorry", split="valid"),
    InformalProblem("imo_1900_p1", "Show that one is less than two.",
                    formal_statement="theorem imo_1900_p1 : (1 : ℕ) < 2 := by sorry", split="valid"),
]
ISA_PROBLEMS = [
    InformalProblem(p.name, p.informal_statement, "Compute.", f'theorem {p.name}:\n  "{claim}"', split="valid")
    for p, claim in zip(LEAN_PROBLEMS, ["(2::nat) + 2 = 4", "(3::nat) * 3 = 9", "(1::nat) < 2"])
]


def statement_setup(language: Language):
    """The model restates each problem; two come out right, the third (imo) does not elaborate."""
    problems = LEAN_PROBLEMS if language is Language.LEAN4 else ISA_PROBLEMS
    target = target_for(language)
    table, good = [], []
    for p in problems:
        stub = target.statement_stub(p.name)
        tail = p.formal_statement[len(stub):]
        if p.name.startswith("imo"):
            tail = tail.replace("<", "<<")
        else:
            good.append(target.clean_statement(stub + tail))
        table.append((p.informal_statement, [tail]))
    return problems, ScriptedLanguageModel(table), ScriptedSketchProver(language, well_formed=good)


LEAN_DSP_SKETCH = "\n  have h : True := by\n    sorry\n  norm_num"
ISA_DSP_SKETCH = "\nproof -\n  show ?thesis\n    using assms sledgehammer\nqed"


def dsp_setup(language: Language):
    """Each problem gets a one-hole sketch; the hole closes for the first two problems only."""
    problems = LEAN_PROBLEMS if language is Language.LEAN4 else ISA_PROBLEMS
    sketch = LEAN_DSP_SKETCH if language is Language.LEAN4 else ISA_DSP_SKETCH
    close = {"have h : True := by": {"simp": proves()}} if language is Language.LEAN4 else {"using assms": {"by simp": proves()}}
    model = ScriptedLanguageModel([("Formal:\ntheorem imo", [sketch.replace("True", "False").replace("assms", "nothing")]),
                                   ("Formal:\ntheorem", [sketch]),
                                   ("### Solution", ["A short computation."])])
    return problems, model, ScriptedSketchProver(language, hole_script=close)


def parts_for(language, model, prover) -> Parts:
    return Parts(model=model, prover=prover, target=target_for(language), prompts=default_prompts(language),
                 sketcher=prover)


@pytest.mark.parametrize("language", [Language.LEAN4, Language.ISABELLE])
async def test_statement_run_writes_results_and_a_report(tmp_path, language):
    problems, model, prover = statement_setup(language)
    config = AutoformalizeConfig(target=language, mode=Mode.STATEMENT)
    result = await run_autoformalize(problems, config, parts_for(language, model, prover), tmp_path / "run", "valid")

    records = {r.name: r for r in read_records(tmp_path / "run" / "results.jsonl")}
    assert set(records) == {p.name for p in problems}
    assert records["mathd_algebra_900"].verdict == "equivalent"
    assert records["mathd_algebra_900"].statement["candidates"][0]["exact_match"] is True
    assert records["imo_1900_p1"].verdict == "ill-formed"
    assert records["imo_1900_p1"].family == "imo"
    overall = result.summary["overall"]
    assert overall["well_formed_any"] == {"count": 2, "of": 3}
    assert overall["exact_any"] == {"count": 2, "of": 3}
    assert result.summary["by_family"]["imo"]["well_formed_first"] == {"count": 0, "of": 1}
    summary_md = (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")
    assert "| all | 3 | 66.7% (2/3) |" in summary_md and "## By family" in summary_md
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["settings"]["target"] == language.value


@pytest.mark.parametrize("language", [Language.LEAN4, Language.ISABELLE])
async def test_dsp_run_writes_results_proofs_and_a_report(tmp_path, language):
    problems, model, prover = dsp_setup(language)
    problems = [InformalProblem(p.name, p.informal_statement, None, p.formal_statement, split="valid") for p in problems]
    config = AutoformalizeConfig(target=language, mode=Mode.DSP, hole_search=False)
    result = await run_autoformalize(problems, config, parts_for(language, model, prover), tmp_path / "run", "valid")

    records = {r.name: r for r in read_records(tmp_path / "run" / "results.jsonl")}
    assert records["mathd_algebra_900"].verdict == "proved"
    assert records["imo_1900_p1"].verdict == "not-proved"
    dsp = records["mathd_algebra_900"].dsp
    assert dsp["drafted"] and dsp["sketches"][0]["draft"] == "A short computation."
    assert dsp["sketches"][0]["holes"][0]["method"] == "tactic"
    assert dsp["sketches"][0]["holes_closed"] == dsp["sketches"][0]["holes_total"] == 1
    assert dsp["sketches"][0]["verification"]["verdict"] == "accepted"
    assert "stayed open" in records["imo_1900_p1"].reason and records["imo_1900_p1"].error == ""
    suffix = ".lean" if language is Language.LEAN4 else ".thy"
    assert sorted(p.name for p in (tmp_path / "run" / "proofs").iterdir()) == [
        f"amc12_2000_p900{suffix}", f"mathd_algebra_900{suffix}"]
    assert result.summary["overall"]["proved"] == {"count": 2, "of": 3}
    assert result.summary["by_family"]["amc"]["proved"] == {"count": 1, "of": 1}
    assert result.summary["hole_methods"]["open"] == 1
    assert "## How holes were closed" in result.markdown
    assert ("Published numbers" in result.markdown) == (language is Language.ISABELLE)


async def test_resume_skips_finished_problems_and_survives_a_torn_line(tmp_path):
    problems, model, prover = statement_setup(Language.LEAN4)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT)
    run_dir = tmp_path / "run"
    first = await run_autoformalize(problems[:2], config, parts_for(Language.LEAN4, model, prover), run_dir)
    assert first.ran == ("mathd_algebra_900", "amc12_2000_p900")
    with (run_dir / "results.jsonl").open("ab") as handle:  # a kill in the middle of writing a line
        handle.write(b'{"name": "imo_1900_p1", "verd')
    calls_before = len(model.prompts)
    second = await run_autoformalize(problems, config, parts_for(Language.LEAN4, model, prover), run_dir)
    assert second.skipped == ("mathd_algebra_900", "amc12_2000_p900")
    assert second.ran == ("imo_1900_p1",)
    assert len(model.prompts) == calls_before + 1  # only the unfinished problem reached the model
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["mathd_algebra_900", "amc12_2000_p900", "imo_1900_p1"]
    assert second.summary["finished"] == 3
    # other settings in the same directory are refused rather than mixed in
    with pytest.raises(StoreError, match="different settings"):
        await run_autoformalize(problems, AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT, candidates=2),
                                parts_for(Language.LEAN4, model, prover), run_dir)


def test_input_file_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"name": "a", "informal_statement": "x"}\n\n{"name": "b"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"in\.jsonl:3: field 'informal_statement' is missing"):
        load_problems(path)
    path.write_text('{"name": "a", "informal_statement": "x"}\n{"name": "a", "informal_statement": "y"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"in\.jsonl:2: duplicate problem 'a' \(first on line 1\)"):
        load_problems(path)
    path.write_text('{"name": "a", "informal_statement": "x", "informal_proof": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"in\.jsonl:1: field 'informal_proof' must be a string"):
        load_problems(path)
    path.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"in\.jsonl:1: expected a JSON object"):
        load_problems(path)
    path.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"in\.jsonl:1: invalid JSON"):
        load_problems(path)
    with pytest.raises(DataError, match="does not exist"):
        load_problems(tmp_path / "nope.jsonl")


# -- the command line, with the doubles behind the test seam ---------------------------------------


def use_doubles(monkeypatch, target: str = "lean4", mode: str = "statement") -> dict:
    """The scripted model and prover of `statement_setup` / `dsp_setup` as the command's plug-ins."""
    from tests.autoformalize.doubles import use_cli_doubles

    language = Language(target)
    setup = statement_setup if mode == "statement" else dsp_setup
    return use_cli_doubles(monkeypatch, language, lambda: setup(language)[1:])


def _write_input(path, problems):
    path.write_text("".join(json.dumps({"name": p.name, "informal_statement": p.informal_statement,
                                        "formal_statement": p.formal_statement}) + "\n" for p in problems),
                    encoding="utf-8")


@pytest.mark.parametrize("target", ["lean4", "isabelle"])
@pytest.mark.parametrize("mode", ["statement", "dsp"])
def test_cli_runs_both_modes_for_both_targets(tmp_path, monkeypatch, capsys, target, mode):
    from llemma_prove.cli import main

    use_doubles(monkeypatch, target, mode)
    problems = LEAN_PROBLEMS if target == "lean4" else ISA_PROBLEMS
    _write_input(tmp_path / "problems.jsonl", problems)
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["autoformalize", str(tmp_path / "problems.jsonl"), "--target", target, "--mode", mode,
              "--run-dir", str(run_dir), "--no-hole-search", *DOUBLES_ARGS])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"Autoformalization run: {target}, {mode} mode" in out
    assert len((run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    assert (run_dir / "summary.md").exists()


def test_cli_user_mistakes_are_one_line_errors(tmp_path, capsys):
    from llemma_prove.cli import main

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "x"}\n', encoding="utf-8")
    for argv, expected in (
        (["autoformalize", str(bad)], "bad.jsonl:1: field 'informal_statement' is missing"),
        (["autoformalize", "--minif2f"], "--minif2f needs --split"),
        (["autoformalize"], "either an INPUT file"),
        (["autoformalize", str(bad), "--sketches", "0"], "--sketches must be at least 1"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and len(err.splitlines()) == 1, err


def test_cli_minif2f_data_file_with_leak_rules(tmp_path, monkeypatch, capsys):
    from llemma_prove.cli import main
    from tests.conftest import require_shared

    data = require_shared("minif2f/lean4/valid.jsonl")
    use_doubles(monkeypatch, "lean4", "statement")
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["autoformalize", "--minif2f", "--split", "valid", "--data", str(data), "--target", "lean4",
              "--theorem", "mathd_algebra_37", "--name", "mathd_algebra_10", "--run-dir", str(run_dir), *DOUBLES_ARGS])
    assert exit_info.value.code == 0
    lines = (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    # mathd_algebra_37 is one of the project's few-shot examples, so the valid run leaves it out
    assert [json.loads(line)["name"] for line in lines] == ["mathd_algebra_10"]
    assert "Excluded because the few-shot prompt contains them: mathd_algebra_37" in capsys.readouterr().out
    assert os.path.exists(run_dir / "summary.json")


def test_cli_isabelle_minif2f_data_file_dsp(tmp_path, monkeypatch, capsys):
    from llemma_prove.cli import main
    from tests.conftest import require_shared

    data = require_shared("minif2f/isabelle/test.jsonl")
    use_doubles(monkeypatch, "isabelle", "dsp")
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["autoformalize", "--minif2f", "--split", "test", "--data", str(data), "--target", "isabelle",
              "--mode", "dsp", "--limit", "2", "--run-dir", str(run_dir), *DOUBLES_ARGS])
    assert exit_info.value.code == 0
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2 and all(r["split"] == "test" and r["target"] == "isabelle" for r in records)
    # the reference statement is the benchmark's, and the sketch prompt ends with it
    assert all(r["dsp"]["statement_source"] == "reference" for r in records)
    assert all(r["dsp"]["statement"].startswith(f"theorem {r['name']}") for r in records)
    assert "Published numbers" in capsys.readouterr().out


async def test_progress_bar_counts_the_problems(tmp_path):
    import io

    from rich.console import Console

    problems, model, prover = statement_setup(Language.LEAN4)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT)
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    await run_autoformalize(problems, config, parts_for(Language.LEAN4, model, prover), tmp_path / "run", "valid",
                            console=console, show_progress=True)
    text = out.getvalue()
    assert "autoformalize statement" in text
    assert "3/3" in text


def test_cli_equivalence_settings_and_identity_are_recorded(tmp_path, monkeypatch, capsys):
    from llemma_prove.cli import main

    use_doubles(monkeypatch)
    _write_input(tmp_path / "problems.jsonl", LEAN_PROBLEMS)
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["autoformalize", str(tmp_path / "problems.jsonl"), "--run-dir", str(run_dir),
              "--equivalence-tactic", "omega", "--equivalence-tactic", "simp", "--equivalence-timeout", "5",
              *DOUBLES_ARGS])
    assert exit_info.value.code == 0
    settings = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["autoformalize"]
    assert settings["equivalence_tactics"] == ["omega", "simp"] and settings["equivalence_timeout_s"] == 5.0
    assert len(settings["input_sha256"]) == 64 and len(settings["prompt_sha256"]) == 64 and settings["model"]
    # another input file in the same run directory is refused before anything runs
    _write_input(tmp_path / "problems.jsonl", LEAN_PROBLEMS[:2])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["autoformalize", str(tmp_path / "problems.jsonl"), "--run-dir", str(run_dir),
              "--equivalence-tactic", "omega", "--equivalence-tactic", "simp", "--equivalence-timeout", "5",
              *DOUBLES_ARGS])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "input_sha256" in err and len(err.splitlines()) == 1
