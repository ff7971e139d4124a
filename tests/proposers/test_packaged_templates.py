"""Both packaged next-step prompts load and render in the paper's block format."""

import pytest

from llemma_prove.proposers import default_isabelle_template, default_lean4_template


@pytest.mark.parametrize("factory, label", [(default_lean4_template, "Tactic state:"),
                                            (default_isabelle_template, "Proof state:")])
def test_packaged_template_renders_the_state_last(factory, label):
    template = factory()
    prompt = template.render("GOAL-TEXT")
    assert prompt.rstrip().endswith("---")
    assert prompt.count("GOAL-TEXT") == 1
    last_block = prompt[prompt.rindex(label):]
    assert "GOAL-TEXT" in last_block
    assert "---" in template.stop
    assert template.extract("  simp\n---\nmore") == "simp"
