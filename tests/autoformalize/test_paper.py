"""`--paper llemma` and `--paper dsp`: prompts fetched at a pinned commit and cached with their sha256,
the fixed header, `sorry` as a hole, DSP's per-attempt example sampling and its length guard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from llemma_prove.autoformalize import paper
from llemma_prove.autoformalize.config import AutoformalizeConfig, Mode, Paper, Parts
from llemma_prove.autoformalize.dsp import draft_sketch_prove
from llemma_prove.autoformalize.isabelle import HOLE_TACTICS
from llemma_prove.autoformalize.problems import InformalProblem
from llemma_prove.autoformalize.prompts import load_prompts, sketch_prompt
from llemma_prove.autoformalize.target import target_for
from llemma_prove.errors import DataError, ProposerError
from llemma_prove.types import DecodingMethod, Language
from tests.autoformalize.doubles import DOUBLES_ARGS, use_cli_doubles
from tests.autoformalize.doubles import ScriptedLanguageModel, ScriptedSketchProver, proves
from tests.conftest import require_shared

ISA = Language.ISABELLE
LLEMMA_FILE = "prompts/llemma_isabelle_informal2formal.json"
DSP_FOLDER = "prompts/dsp"


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def harness_files(shared: dict) -> tuple[str, str]:
    """Two files laid out as lm-evaluation-harness@b62c9d0 has them: the task
    `lm_eval/tasks/minif2f_isabelle.py` (the module constant, `end_seq`, `_doc_to_text`,
    `fewshot_context`) and the checker `unsafe_score_minif2f_isabelle.py` (`_run_sledgehammer`,
    `wrap_theorem`, `get_parsed`), holding the prompt literals as written upstream
    (`prompts_as_written` of the shared copy), so parsing must give back what the model saw."""
    for text in shared["prompts_as_written"].values():
        assert '"""' not in text
    literals = ",\n".join(f"    {key!r}: \"\"\"{text}\"\"\"" for key, text in shared["prompts_as_written"].items())
    imports = " ".join(f'"{i}"' if "-" in i else i for i in paper.PAPER_IMPORTS)
    task = f'''INFORMAL2FORMAL_PROMPTS = {{
{literals}
}}


class MiniF2FIsabelle:
    @property
    def end_seq(self) -> str:
        return "\\n\\n\\n"

    def _doc_to_text(self, doc):
        return ('Informal:\\n(*### Problem\\n\\n' + doc['informal_statement'] + '\\n\\n' +
                '### Solution\\n\\n' + doc['informal_proof'] + ' *)' +
                '\\n\\nFormal:\\n' + doc['formal_statement'])

    def fewshot_context(self, doc, num_fewshot, provide_description=None, rnd=None, description=None):
        if 'numbertheory' in doc['formal_statement']:
            prompt = INFORMAL2FORMAL_PROMPTS['numbertheory']
        else:
            prompt = INFORMAL2FORMAL_PROMPTS['other']
        ctx = prompt + self._doc_to_text(doc)
        return ctx
'''
    checker = f'''class Checker(object):
    def _run_sledgehammer(self, step, i, tls_name, env):
        for heuristic in {list(HOLE_TACTICS)!r}:
            step_ = step.replace('normalhammer', heuristic)

    @staticmethod
    def wrap_theorem(theorem):
        return 'theory Interactive imports {imports} \\n begin\\n%s' % theorem

    @staticmethod
    def get_parsed(env, theory, tls_name='default'):
        theory = theory.replace('sledgehammer', 'sorry')
        theory = theory.replace('normalhammer', 'sorry')
        steps = env.post(theory)
        return [s.replace('sorry', 'normalhammer') for s in steps]
'''
    return task, checker


@pytest.fixture
def shared_llemma() -> dict:
    return json.loads(require_shared(LLEMMA_FILE).read_text(encoding="utf-8"))


def test_parsing_the_harness_gives_back_the_prompts_the_model_saw(shared_llemma):
    data = paper.parse_llemma_source(*harness_files(shared_llemma), "test")
    assert data["prompts"] == shared_llemma["prompts"]  # `\f` of `\frac` as a form feed, as upstream ran it
    assert data["doc_template"] == shared_llemma["doc_template"]
    assert data["stop"] == shared_llemma["stop"] == "\n\n\n"
    assert data["selection_keyword"] == "numbertheory"
    assert data["theorems_in_prompts"] == shared_llemma["theorems_in_prompts"]
    assert tuple(data["header_imports"]) == paper.PAPER_IMPORTS
    assert "HOL-Library.Sum_of_Squares" in data["header_imports"]
    assert data["hole_words"] == ["normalhammer", "sledgehammer", "sorry"]
    paper.check_llemma_checker_facts(data, HOLE_TACTICS)
    with pytest.raises(DataError, match="hammer calls"):
        paper.check_llemma_checker_facts(data, HOLE_TACTICS, ("sledgehammer",))
    with pytest.raises(DataError, match="heuristics"):
        paper.check_llemma_checker_facts(data, HOLE_TACTICS[:-1])
    with pytest.raises(DataError, match="not Python"):
        paper.parse_llemma_source("def (", "", "x")


async def test_fetched_at_the_pinned_commit_cached_with_its_sha256_and_clear_offline(tmp_path, shared_llemma):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "harness"
    (repo / "lm_eval" / "tasks").mkdir(parents=True)
    source = repo / "lm_eval" / "tasks" / "minif2f_isabelle.py"
    task, checker = harness_files(shared_llemma)
    source.write_text(task, encoding="utf-8")
    (repo / "unsafe_score_minif2f_isabelle.py").write_text(checker, encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "task")
    pinned = _git(repo, "rev-parse", "HEAD")
    source.write_text("INFORMAL2FORMAL_PROMPTS = {'other': 'changed later'}\n", encoding="utf-8")
    _git(repo, "commit", "-qam", "later")
    spec = replace(paper.LLEMMA_PROMPTS, url=repo.as_uri(), commit=pinned)
    cache = tmp_path / "cache"

    data = await paper.ensure_llemma_prompts(cache, spec)
    cached = json.loads(data.path.read_text(encoding="utf-8"))
    assert cached["prompts"] == shared_llemma["prompts"]  # the pinned commit, not the later one
    assert data.sha256 == paper.sha256_path(data.path) and len(data.sha256) == 64
    assert data.upstream == (f"wellecks/lm-evaluation-harness@{pinned[:12]}:lm_eval/tasks/minif2f_isabelle.py,"
                             "unsafe_score_minif2f_isabelle.py")
    # later runs need no network
    gone = replace(spec, url=(tmp_path / "nowhere").as_uri())
    assert (await paper.ensure_llemma_prompts(cache, gone)).sha256 == data.sha256
    with pytest.raises(DataError, match=r"could not fetch the paper's prompts .*--prompt PATH.*without --paper"):
        await paper.ensure_llemma_prompts(tmp_path / "empty-cache", gone)


def _seed_cache(cache: Path, spec: paper.UpstreamFile, shared: Path) -> Path:
    target = paper.cache_path(spec, cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    if shared.is_dir():
        target.mkdir()
        for file in shared.glob("*.json"):
            shutil.copy(file, target / file.name)
    else:
        shutil.copy(shared, target)
    return target


async def test_llemma_prompt_is_the_fixed_prefix_chosen_by_keyword_then_the_query(tmp_path):
    target = _seed_cache(tmp_path, paper.LLEMMA_PROMPTS, require_shared(LLEMMA_FILE))
    data = await paper.ensure_llemma_prompts(tmp_path)
    assert data.path == target
    prompts = load_prompts(data.path, ISA)
    shared = json.loads(target.read_text(encoding="utf-8"))
    statement = 'theorem mathd_numbertheory_5:\n  "(5^30) mod 7 = (1::nat)"'
    text = sketch_prompt(prompts, (), "What is 5^30 mod 7?", "Powers repeat.", statement)
    assert text == (shared["prompts"]["numbertheory"] + "Informal:\n(*### Problem\n\nWhat is 5^30 mod 7?\n\n### Solution"
                    "\n\nPowers repeat. *)\n\nFormal:\n" + statement)
    assert sketch_prompt(prompts, (), "s", "p", "theorem mathd_algebra_1:").startswith(shared["prompts"]["other"])
    assert prompts.format.sketch_stop == ("\n\n\n",)


NT5_STATEMENT = 'theorem mathd_numbertheory_5:\n  "(5^30) mod 7 = (1::nat)"'


def _cli_doubles():
    """The command's model and prover (as plug-ins); recorded so the test can read what it checked."""
    statement = NT5_STATEMENT
    sketch = "\nproof -\n  have c0: \"(5::nat)^6 mod 7 = 1\"\n    sorry\n  show ?thesis\n    using c0 sledgehammer\nqed"
    model = ScriptedLanguageModel([("Formal:\n" + statement, [sketch])])
    prover = ScriptedSketchProver(ISA, hole_script={'have c0: "(5::nat)^6 mod 7 = 1"': {"by eval": proves()},
                                                    "using c0": {"by simp": proves()}})
    _cli_doubles.last = (model, prover)
    return model, prover


def test_cli_paper_llemma_records_the_prompt_hash_header_and_counts_oracles_apart(tmp_path, monkeypatch, capsys):
    from llemma_prove.cli import main

    shared = require_shared(LLEMMA_FILE)
    _seed_cache(tmp_path / "cache", paper.LLEMMA_PROMPTS, shared)
    monkeypatch.setenv("LLEMMA_PROVE_CACHE", str(tmp_path / "cache"))
    use_cli_doubles(monkeypatch, ISA, _cli_doubles)
    problem = {"name": "mathd_numbertheory_5", "informal_statement": "What is 5^30 mod 7? Show that it is 1.",
               "informal_proof": "Powers of 5 repeat mod 7.", "formal_statement": NT5_STATEMENT}
    (tmp_path / "in.jsonl").write_text(json.dumps(problem) + "\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["autoformalize", str(tmp_path / "in.jsonl"), "--target", "isabelle", "--mode", "dsp",
              "--paper", "llemma", "--run-dir", str(run_dir), "--model", "EleutherAI/llemma_7b", *DOUBLES_ARGS])
    assert exit_info.value.code == 0, capsys.readouterr().err
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    settings = config["autoformalize"]
    assert settings["paper"] == "llemma" and settings["allow_oracles"] and settings["sketches"] == 1
    assert settings["model"] == "EleutherAI/llemma_7b" and len(settings["input_sha256"]) == 64
    assert config["prompt_data"]["sha256"] == paper.sha256_path(shared)
    model, prover = _cli_doubles.last
    assert model.params[0].method is DecodingMethod.GREEDY and model.params[0].stop == ("\n\n\n",)
    assert model.prompts[0].startswith(json.loads(shared.read_text())["prompts"]["numbertheory"])
    # the model's `sorry` became a hole (closed by `by eval`, an oracle); the header is the checkers' one
    (name, body), = prover.verified
    assert "sorry" not in body and "by eval" in body
    (record,) = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert record["verdict"] == "proved-with-oracle" and record["model"] == "EleutherAI/llemma_7b"
    names = json.loads(shared.read_text())["theorems_in_prompts"]["numbertheory"]
    assert record["dsp"]["prompt_examples"] == names  # the prompt the keyword chose
    assert '"HOL-Library.Sum_of_Squares"' in record["dsp"]["proof_text"]
    assert "Symmetric_Polynomials.Vieta" in record["dsp"]["proof_text"]
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert "proved with an oracle" in summary and "LLEMMA's setting (--paper llemma)" in summary
    assert "| all | 1 | 0.0% (0/1) | 0.0% (0/1) | 100.0% (1/1) |" in summary


def test_cli_paper_modes_refuse_other_targets_and_modes(capsys):
    from llemma_prove.cli import main

    for argv, expected in (
        (["--paper", "llemma"], "use it with --target isabelle --mode dsp"),
        (["--paper", "dsp", "--target", "isabelle"], "use it with --target isabelle --mode dsp"),
        (["--paper", "llemma", "--target", "isabelle", "--mode", "dsp", "--sketches", "3"], "one greedy proof"),
        (["--max-prompt-chars", "10"], "--paper dsp only"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["autoformalize", "--minif2f", "--split", "valid", *argv])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert expected in err and len(err.splitlines()) == 1, err


# -- DSP's sampling -----------------------------------------------------------------------------------


@pytest.fixture
def dsp_examples(tmp_path):
    _seed_cache(tmp_path, paper.DSP_PROMPTS, require_shared(DSP_FOLDER))
    return load_prompts(paper.cache_path(paper.DSP_PROMPTS, tmp_path), ISA).examples


STATEMENT = 'theorem mathd_algebra_10:\n  fixes x :: real\n  assumes h0: "2 * x = 6"\n  shows "x = 3"'


def test_dsp_draws_three_examples_of_the_category_names_stripped_reproducibly(dsp_examples):
    assert {e.category for e in dsp_examples} == {"algebra", "number_theory"} and len(dsp_examples) == 20
    problem = InformalProblem("mathd_algebra_10", "If 2x = 6, show x = 3.", "Divide by 2.", STATEMENT)
    algebra = {e.name for e in dsp_examples if e.category == "algebra"}
    draws = [paper.dsp_prompt(problem, STATEMENT, "Divide by 2.", dsp_examples, a) for a in range(6)]
    for prompt, names in draws:
        assert len(names) == 3 and set(names) <= algebra
        assert prompt.endswith("### Solution\n\nDivide by 2.*)\n\nFormal:\ntheorem\n  fixes x :: real\n"
                               '  assumes h0: "2 * x = 6"\n  shows "x = 3"')
        assert prompt.count("Informal:\n(*### Problem") == 4 and "theorem mathd_algebra_10" not in prompt
    assert len({names for _, names in draws}) > 1  # each attempt its own draw
    assert paper.dsp_prompt(problem, STATEMENT, "Divide by 2.", dsp_examples, 3) == draws[3]  # seeded
    # DSP's category test is a substring of the name: `mathd_numbertheory_*` is neither, so both pools
    assert paper.dsp_category("mathd_numbertheory_5") == "unknown"
    nt = InformalProblem("mathd_numbertheory_5", "s", "p", 'theorem mathd_numbertheory_5:\n  "x"')
    drawn = {n for a in range(30) for n in paper.dsp_prompt(nt, nt.formal_statement, "p", dsp_examples, a)[1]}
    assert drawn & algebra and drawn - algebra
    # never the problem itself
    own = InformalProblem("amc12a_2013_p7", "s", "p", 'theorem amc12a_2013_p7:\n  "x"')
    assert all("amc12a_2013_p7" not in paper.dsp_prompt(own, own.formal_statement, "p", dsp_examples, a)[1]
               for a in range(30))


def test_dsp_example_layout_length_guard_and_boxed_answer(dsp_examples):
    by_name = {e.name: e for e in dsp_examples}
    raw = by_name["mathd_numbertheory_335"].raw
    assert "$.\n*)\n\nFormal:" in raw and "$.\n*)" not in paper._dsp_example_text(by_name["mathd_numbertheory_335"])
    problem = InformalProblem("mathd_algebra_10", "x" * 9_000, "p", STATEMENT)
    with pytest.raises(ProposerError, match="prompt-length guard of 10000"):
        paper.dsp_prompt(problem, STATEMENT, "p", dsp_examples, 0)
    boxed = InformalProblem("mathd_algebra_10", "Find x.", "So $x = \\boxed{3}$.", STATEMENT)
    prompt, _ = paper.dsp_prompt(boxed, STATEMENT, boxed.informal_proof, dsp_examples, 0)
    assert "Find x. Show that it is 3.\n\n### Solution\n\nSo $x = 3$.*)" in prompt


async def test_paper_dsp_sketches_one_greedy_completion_per_drawn_prompt(dsp_examples):
    problem = InformalProblem("mathd_algebra_10", "If 2x = 6, show x = 3.", "Divide by 2.", STATEMENT)
    sketch = "\nproof -\n  show ?thesis\n    using h0 sledgehammer\nqed"
    model = ScriptedLanguageModel([("Formal:\ntheorem\n  fixes x", [sketch + "\n\nInformal: next"])])
    prover = ScriptedSketchProver(ISA, hole_script={"using h0": {"by simp": proves()}})
    from llemma_prove.autoformalize.prompts import PromptSet, dsp_format

    prompts = PromptSet(ISA, dsp_format(), dsp_examples, source="dsp")
    parts = Parts(model=model, prover=prover, target=target_for(ISA), prompts=prompts, sketcher=prover)
    config = AutoformalizeConfig(target=ISA, mode=Mode.DSP, paper=Paper.DSP, sketches=4, allow_oracles=True)
    outcome = await draft_sketch_prove(problem, config, parts)
    assert len(model.prompts) == 4 and model.params[0].n == 1 and model.params[0].method is DecodingMethod.GREEDY
    assert model.params[0].stop == ("Informal",)
    assert outcome.proved and len(outcome.sketches) == 1 and len(outcome.sketches[0].examples) == 3


def _dsp_cli_doubles():
    sketch = "\nproof -\n  show ?thesis\n    using h0 sledgehammer\nqed"
    model = ScriptedLanguageModel([("Formal:\ntheorem\n", [sketch])])
    prover = ScriptedSketchProver(ISA, hole_script={"using h0": {"by simp": proves()}})
    _dsp_cli_doubles.last = (model, prover)
    return model, prover


def test_cli_paper_dsp_fetched_examples_and_model_identity_on_resume(tmp_path, monkeypatch, capsys):
    from llemma_prove.cli import main

    shared = require_shared(DSP_FOLDER)
    _seed_cache(tmp_path / "cache", paper.DSP_PROMPTS, shared)
    monkeypatch.setenv("LLEMMA_PROVE_CACHE", str(tmp_path / "cache"))
    use_cli_doubles(monkeypatch, ISA, _dsp_cli_doubles)
    problem = {"name": "mathd_algebra_10", "informal_statement": "If 2x = 6, show x = 3.",
               "informal_proof": "Divide by 2.", "formal_statement": STATEMENT}
    (tmp_path / "in.jsonl").write_text(json.dumps(problem) + "\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    base = ["autoformalize", str(tmp_path / "in.jsonl"), "--target", "isabelle", "--mode", "dsp", "--paper", "dsp",
            "--sketches", "2", "--run-dir", str(run_dir), *DOUBLES_ARGS]
    with pytest.raises(SystemExit) as exit_info:
        main(base + ["--model", "m1"])
    assert exit_info.value.code == 0, capsys.readouterr().err
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert config["prompt_data"]["sha256"] == paper.sha256_path(shared)
    assert config["autoformalize"]["paper"] == "dsp" and config["autoformalize"]["sketch_tokens"] == 2048
    model, _ = _dsp_cli_doubles.last
    assert len(model.prompts) == 2 and all(p.count("Informal:\n(*### Problem") == 4 for p in model.prompts)
    (record,) = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert record["verdict"] == "proved" and record["model"] == "m1"
    capsys.readouterr()
    # the same run directory with another model is refused, naming the difference, before any model
    # or prover is built; --force starts over
    _dsp_cli_doubles.last = None
    with pytest.raises(SystemExit) as exit_info:
        main(base + ["--model", "m2"])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "model: 'm1' -> 'm2'" in err and "--force" in err
    assert _dsp_cli_doubles.last is None
    with pytest.raises(SystemExit) as exit_info:
        main(base + ["--model", "m2", "--force"])
    assert exit_info.value.code == 0
    (record,) = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert record["model"] == "m2"
