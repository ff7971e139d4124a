"""Prompt files load in all three shapes, reproduce Llemma's prompt exactly, and never leak the split."""

from __future__ import annotations

import json

import pytest

from llemma_prove.autoformalize import isabelle as isa
from llemma_prove.autoformalize import lean
from llemma_prove.autoformalize.problems import InformalProblem, load_minif2f_file
from llemma_prove.autoformalize.prompts import (
    Example,
    default_prompts,
    draft_prompt,
    load_prompts,
    sketch_prompt,
    statement_prompt,
)
from llemma_prove.autoformalize.selection import PromptLeak, examples_for, select
from llemma_prove.errors import DataError
from llemma_prove.types import Language
from tests.conftest import require_shared


def _names(path) -> set[str]:
    return {json.loads(line)["name"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


@pytest.mark.parametrize("language", [Language.LEAN4, Language.ISABELLE])
def test_default_examples_are_valid_split_problems_with_parsable_statements(language):
    prompts = default_prompts(language)
    assert len(prompts.examples) >= 3
    valid = _names(require_shared("minif2f/lean4/valid.jsonl"))
    test = _names(require_shared("minif2f/lean4/test.jsonl"))
    for example in prompts.examples:
        assert example.split == "valid"
        assert example.name in valid and example.name not in test
        assert example.formal_sketch.startswith(example.formal_statement.removesuffix(" sorry").removesuffix(" by"))
        parsed = (lean if language is Language.LEAN4 else isa).parse_statement(example.formal_statement)
        assert parsed is not None and parsed.name == example.name


def test_llemma_prompt_file_is_reproduced_exactly():
    path = require_shared("prompts/llemma_isabelle_informal2formal.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    prompts = load_prompts(path, Language.ISABELLE)
    statement = "Show that $\\frac{1}{2} + \\frac{1}{2} = 1$ {with braces}."
    proof = "Add the fractions: {1+1}/2 = 1."
    for formal, key in (
        ('theorem mathd_numbertheory_999:\n  "(1::nat) + 1 = 2"', "numbertheory"),
        ('theorem mathd_algebra_999:\n  "(1::real) / 2 + 1 / 2 = 1"', "other"),
    ):
        expected = data["prompts"][key] + data["doc_template"].format(
            informal_statement=statement, informal_proof=proof, formal_statement=formal
        )
        assert sketch_prompt(prompts, prompts.examples, statement, proof, formal) == expected
    # the examples inside the fixed prompts are known by name (for the leak rules and for drafting)
    assert set(prompts.fixed.names_flat()) == {n for group in data["theorems_in_prompts"].values() for n in group}
    assert "mathd_numbertheory_188" in {e.name for e in prompts.examples}


def test_dsp_folder_and_parsed_jsonl_give_the_same_examples():
    folder = require_shared("prompts/dsp")
    from_folder = load_prompts(folder, Language.ISABELLE)
    from_jsonl = load_prompts(folder / "paper_prompt_examples.jsonl", Language.ISABELLE)
    assert len(from_folder.examples) == 20
    assert from_folder.examples == from_jsonl.examples
    first = from_folder.examples[0]
    # DSP's own block layout is reproduced: the example's original prompt text is one block of the prompt
    raw = json.loads((folder / f"{first.name}.json").read_text(encoding="utf-8"))["prompt"]
    prompt = sketch_prompt(from_folder, from_folder.examples[:1], "Q", "P", "theorem\n  \"x = x\"")
    assert prompt.startswith(raw + "\n\n\n\n")
    assert prompt.endswith('Formal:\ntheorem\n  "x = x"')


def test_prompt_text_keeps_braces_and_ends_with_the_open_block():
    prompts = default_prompts(Language.LEAN4)
    informal = "Compute $\\sum_{k=1}^{10} k$ {exactly}."
    text = statement_prompt(prompts, prompts.examples, informal, "theorem sum_ten")
    assert text.endswith(f"/-- {informal} -/\n\nFormal:\ntheorem sum_ten")
    assert text.count("Informal:") == len(prompts.examples) + 1
    draft = draft_prompt(prompts, prompts.examples, informal)
    assert draft.endswith(f"### Problem\n\n{informal}\n\n### Solution\n\n")
    assert draft.count(" -/") == len(prompts.examples)  # each example's solution is closed


def test_bad_prompt_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_prompts(tmp_path / "missing.json", Language.LEAN4)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        load_prompts(bad, Language.LEAN4)
    odd = tmp_path / "odd.json"
    odd.write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(DataError, match="unknown shape"):
        load_prompts(odd, Language.LEAN4)
    with pytest.raises(DataError, match="Isabelle"):
        load_prompts(require_shared("prompts/llemma_isabelle_informal2formal.json"), Language.LEAN4)


# -- leak rules ------------------------------------------------------------------------------------


def _minif2f(split: str, language: Language = Language.LEAN4) -> list[InformalProblem]:
    folder = "lean4" if language is Language.LEAN4 else "isabelle"
    return load_minif2f_file(require_shared(f"minif2f/{folder}/{split}.jsonl"), language, split)


@pytest.mark.parametrize("language", [Language.LEAN4, Language.ISABELLE])
def test_evaluating_valid_uses_a_disjoint_example_set_and_never_the_problem_itself(language):
    problems = _minif2f("valid", language)
    prompts = default_prompts(language)
    selection = select(problems, prompts, "valid")
    example_names = {e.name for e in prompts.examples}
    assert {e.name for e in selection.excluded} == example_names  # the examples are valid problems
    assert not example_names & {p.name for p in selection.problems}
    assert len(selection.problems) == len(problems) - len(example_names)
    for problem in selection.problems:
        chosen = examples_for(problem, selection.prompts)
        assert problem.name not in {e.name for e in chosen}
        prompt = statement_prompt(selection.prompts, chosen, problem.informal_statement, f"theorem {problem.name}")
        # the problem's text appears once: in the open block the model completes, never in an example
        assert prompt.count(problem.informal_statement) == 1
        assert prompt.rsplit("\n\n\n\n", 1)[1].count(problem.informal_statement) == 1


def test_evaluating_test_never_shows_a_test_problem():
    problems = _minif2f("test")
    selection = select(problems, default_prompts(Language.LEAN4), "test")
    assert len(selection.problems) == len(problems) and not selection.excluded
    test_names = {p.name for p in problems}
    assert not test_names & {e.name for e in selection.prompts.examples}


def test_dsp_prompt_example_that_is_a_test_problem_is_dropped_when_evaluating_test():
    problems = _minif2f("test", Language.ISABELLE)
    prompts = load_prompts(require_shared("prompts/dsp"), Language.ISABELLE)
    selection = select(problems, prompts, "test")
    # DSP's examples include one miniF2F test problem; it must not reach any test prompt
    assert selection.dropped_examples == ("numbertheory_3pow2pownm1mod2pownp3eq2pownp2",)
    assert len(selection.prompts.examples) == 19
    problem = next(p for p in problems if p.name == "numbertheory_3pow2pownm1mod2pownp3eq2pownp2")
    assert problem in selection.problems
    prompt = sketch_prompt(selection.prompts, examples_for(problem, selection.prompts),
                           problem.informal_statement, "", problem.formal_statement or "")
    assert prompt.count(problem.informal_statement) == 1


def test_examples_marked_with_another_split_and_fixed_prompt_leaks_are_refused():
    prompts = default_prompts(Language.LEAN4)
    leaking = prompts.with_examples(prompts.examples + (Example("amc12a_2020_p10", "x", split="test"),))
    with pytest.raises(PromptLeak, match="split 'test'"):
        select([InformalProblem("p", "q")], leaking, "test")
    llemma = load_prompts(require_shared("prompts/llemma_isabelle_informal2formal.json"), Language.ISABELLE)
    with pytest.raises(PromptLeak, match="mathd_numbertheory_188"):
        select([InformalProblem("mathd_numbertheory_188", "gcd?", split="test")], llemma, "test")
    # the same problem on the valid split is excluded instead (as Llemma's evaluation did)
    selection = select([InformalProblem("mathd_numbertheory_188", "gcd?", split="valid")], llemma, "valid")
    assert not selection.problems and selection.excluded[0].name == "mathd_numbertheory_188"


def test_examples_for_refuses_the_problem_itself_even_under_another_name():
    prompts = default_prompts(Language.LEAN4)
    twin = InformalProblem("renamed", "  " + prompts.examples[0].informal_statement.upper() + " ")
    with pytest.raises(PromptLeak):
        examples_for(twin, prompts)
    assert select([twin], prompts, "").excluded[0].name == "renamed"
