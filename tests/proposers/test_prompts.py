"""Prompt templates: the paper's prompt file, prompts built from examples, the project's own default."""

from __future__ import annotations

import json

import pytest

from llemma_prove.errors import DataError
from llemma_prove.proposers.prompts import PromptTemplate, default_lean4_template
from tests.conftest import require_shared

PAPER_PROMPT = "prompts/llemma_formal2formal_lean4_fewshot.json"
STATE = "x : ℝ\nh₀ : 2 * x = 4\n⊢ x = 2"


def test_loads_the_papers_prompt_file_and_renders_a_state():
    path = require_shared(PAPER_PROMPT)
    raw = json.loads(path.read_text(encoding="utf-8"))
    template = PromptTemplate.load(path)
    assert template.placeholder == "%s"
    assert template.stop == ("---",)
    assert template.render(STATE) == raw["template"].replace("%s", STATE)
    assert template.render(STATE).endswith(f"Tactic state:\n---\n{STATE}\n---\nNext tactic:\n---")
    assert len(template.examples) == len(raw["examples"])


def test_state_text_is_inserted_verbatim_even_if_it_contains_the_placeholder():
    template = PromptTemplate.load(require_shared(PAPER_PROMPT))
    odd_state = "h : s = \"%s\"\n⊢ True"
    rendered = template.render(odd_state)
    assert rendered.count(odd_state) == 1
    assert rendered.endswith(f"{odd_state}\n---\nNext tactic:\n---")


def test_extract_cuts_at_the_stop_and_strips():
    template = PromptTemplate.load(require_shared(PAPER_PROMPT))
    assert template.extract("\nnorm_num [h₀]\n---\n\nTactic state:") == "norm_num [h₀]"
    assert template.extract("\nlinarith\n") == "linarith"
    assert template.extract("\nsimp\n---", strip=False) == "\nsimp\n"
    assert template.cut("a---b---c") == "a"


def test_a_file_with_only_examples_builds_the_template_in_the_papers_layout(tmp_path):
    raw = json.loads(require_shared(PAPER_PROMPT).read_text(encoding="utf-8"))
    path = tmp_path / "examples_only.json"
    path.write_text(json.dumps({"examples": raw["examples"]}), encoding="utf-8")
    template = PromptTemplate.load(path)
    # the paper's own template is exactly its examples in that layout, after its instruction line
    # (the file's `instruction`; without one, the project's own wording)
    harness_body = raw["template"].split("\n\n", 1)[1]
    assert template.render(STATE).split("\n\n", 1)[1] == harness_body.replace("%s", STATE)
    instruction = raw["template"].split("\n\n", 1)[0]
    path.write_text(json.dumps({"examples": raw["examples"], "instruction": instruction}), encoding="utf-8")
    assert PromptTemplate.load(path).render(STATE) == raw["template"].replace("%s", STATE)


def test_custom_placeholder_and_stop_list(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"template": "S: {state}\nT:", "placeholder": "{state}", "stop": ["\n\n", "---"]}))
    template = PromptTemplate.load(path)
    assert template.render("⊢ 1 = 1") == "S: ⊢ 1 = 1\nT:"
    assert template.extract(" rfl\n\nS:") == "rfl"


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "not valid JSON (line 1"),
        ("[1, 2]", "expected a JSON object"),
        ('{"description": "x"}', "neither a 'template' nor any 'examples'"),
        ('{"template": "no slot here"}', "placeholder '%s' exactly once (found 0)"),
        ('{"template": "%s and %s"}', "exactly once (found 2)"),
        ('{"examples": [{"tactic_state": "x"}]}', "example 0 needs string fields"),
        ('{"template": "%s", "stop": []}', "'stop' must be"),
    ],
)
def test_malformed_prompt_files_give_a_data_error_naming_file_and_problem(tmp_path, content, problem):
    path = tmp_path / "bad_prompt.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as info:
        PromptTemplate.load(path)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_missing_prompt_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        PromptTemplate.load(tmp_path / "nope.json")


def test_a_real_prompt_file_of_another_shape_is_refused_clearly():
    path = require_shared("prompts/llemma_isabelle_informal2formal.json")
    with pytest.raises(DataError, match="neither a 'template' nor any 'examples'") as info:
        PromptTemplate.load(path)
    assert "llemma_isabelle_informal2formal.json" in str(info.value)


def test_default_lean4_template_is_in_the_papers_format_with_our_own_examples():
    template = default_lean4_template()
    assert template.stop == ("---",)
    rendered = template.render(STATE)
    assert rendered.startswith("Each Lean 4 tactic state below is followed by one tactic")
    assert rendered.endswith(f"Tactic state:\n---\n{STATE}\n---\nNext tactic:\n---")
    assert rendered.count("Tactic state:\n---\n") == len(template.examples) + 1
    assert len(template.examples) >= 3
    tactics = {e.next_tactic.split()[0] for e in template.examples}
    assert {"linarith", "norm_num", "nlinarith"} <= tactics
    for example in template.examples:
        assert f"---\nNext tactic:\n---\n{example.next_tactic}\n---\n\n" in rendered


def test_default_examples_are_not_the_papers():
    raw = json.loads(require_shared(PAPER_PROMPT).read_text(encoding="utf-8"))
    ours = default_lean4_template()
    theirs = {e["tactic_state"] for e in raw["examples"]} | {e["next_tactic"] for e in raw["examples"]}
    assert not theirs & ({e.tactic_state for e in ours.examples} | {e.next_tactic for e in ours.examples})
