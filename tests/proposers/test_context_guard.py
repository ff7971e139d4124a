"""The DSP prompt-length guard in tokens, against the model's own context window (issue 13, item 5)."""

from __future__ import annotations

import pytest

from llemma_prove.autoformalize.paper import check_context
from llemma_prove.errors import ProposerError


def test_the_transformers_model_counts_tokens_and_names_its_window(tiny_model) -> None:
    assert tiny_model.context_window() == 4096  # the tiny double's max_position_embeddings
    assert tiny_model.count_tokens("theorem t : 1 = 1") == len(tiny_model.tokenizer("theorem t : 1 = 1")["input_ids"])


def test_a_prompt_past_the_context_is_refused_by_name(tiny_model) -> None:
    short = "informal statement " * 10
    check_context(tiny_model, [short], 1024, "mathd_algebra_1")  # fits: no error
    long = "informal statement " * 3000
    with pytest.raises(ProposerError, match=r"mathd_algebra_1: the prompt is \d+ tokens .* context of 4096 tokens"):
        check_context(tiny_model, [short, long], 1024, "mathd_algebra_1")
    # the generation budget counts too
    just_under = tiny_model.count_tokens(short)
    with pytest.raises(ProposerError):
        check_context(tiny_model, [short], 4096 - just_under + 1, "mathd_algebra_1")


def test_a_model_that_cannot_count_is_not_guarded() -> None:
    class Remote:  # an OpenAI-compatible server refuses an over-long prompt itself
        pass

    check_context(Remote(), ["x" * 1_000_000], 1024, "p")
