"""The few-shot prefix encoded once and reused: same outputs as without, fewer prompt tokens run."""

from __future__ import annotations

import pytest

from llemma_prove.proposers.hf import TransformersModel
from llemma_prove.proposers.prefix_cache import shared_length
from llemma_prove.proposers.prompts import default_lean4_template
from llemma_prove.proposers.tactic import TacticProposer
from llemma_prove.types import DecodingMethod, SamplingParams

STATES = ["x : ℝ\nh₀ : 3 * x = 6\n⊢ x = 2", "n : ℕ\n⊢ n + 0 = n", "⊢ (2 : ℤ) + 2 = 4", "a b : ℕ\n⊢ a + b = b + a"]
PARAMS = [
    SamplingParams(n=1, method=DecodingMethod.GREEDY, max_new_tokens=8, stop=("---",)),
    SamplingParams(n=4, method=DecodingMethod.BEAM, max_new_tokens=8, stop=("a",)),
    SamplingParams(n=3, method=DecodingMethod.SAMPLE, temperature=0.9, max_new_tokens=8, stop=("e",), seed=3),
]


def make(tiny_model_dir, **kwargs) -> TransformersModel:
    return TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32", max_batch_size=64, **kwargs)


def same(a, b) -> None:
    assert [[s.token_ids for s in g] for g in a] == [[s.token_ids for s in g] for g in b]
    for ga, gb in zip(a, b):
        for sa, sb in zip(ga, gb):
            assert sa.logprob_sum == pytest.approx(sb.logprob_sum, abs=1e-4)


def test_shared_length_counts_common_leading_tokens_and_leaves_one_token():
    assert shared_length((1, 2, 3, 4), [[1, 2, 3, 9], [1, 2, 7]]) == 2
    assert shared_length((1, 2, 3), [[1, 2, 3]]) == 2  # the last prompt token is always run
    assert shared_length((5,), [[1, 2]]) == 0


@pytest.mark.parametrize("params", PARAMS, ids=["greedy", "beam", "sample"])
def test_reused_prefix_gives_the_same_outputs(tiny_model_dir, params):
    template = default_lean4_template()
    prompts = [template.render(s) for s in STATES]
    plain = make(tiny_model_dir, prefix_cache=False)
    cached = make(tiny_model_dir)
    cached.declare_prefix(template.prefix)
    expected = plain.generate_sequences(prompts, params)
    first = cached.generate_sequences(prompts, params)
    again = cached.generate_sequences(prompts[1:2], params)  # a later request, one prompt
    same(first, expected)
    same(again, plain.generate_sequences(prompts[1:2], params))  # (sampling draws depend on the batch shape)
    stats = cached.prefixes.stats
    assert stats.prefix_encodings == 1  # computed once, reused by the second request
    assert stats.passes == 2
    prefix_tokens = len(cached.tokenizer(template.prefix)["input_ids"])
    assert stats.tokens_saved >= (prefix_tokens - 1) * (len(prompts) + 1)


def test_prompts_without_the_prefix_fall_back_to_the_plain_path(tiny_model_dir):
    template = default_lean4_template()
    params = PARAMS[1]
    prompts = [template.render(STATES[0]), "Tactic state:\n---\n⊢ True\n---\nNext tactic:\n---"]
    cached = make(tiny_model_dir)
    cached.declare_prefix(template.prefix)
    same(cached.generate_sequences(prompts, params), make(tiny_model_dir, prefix_cache=False).generate_sequences(prompts, params))
    assert cached.prefixes.stats.passes == 0


async def test_the_tactic_proposer_declares_its_template_prefix(tiny_model_dir):
    template = default_lean4_template()
    model = make(tiny_model_dir)
    TacticProposer(model, template)
    assert model.prefixes.declared == [template.prefix]
    assert template.render("⊢ True").startswith(template.prefix)


def test_vllm_engine_turns_on_its_prefix_caching_unless_told_not_to():
    from llemma_prove.proposers.vllm_engine import VLLMModel

    assert VLLMModel("m", lazy=True).engine_options["enable_prefix_caching"] is True
    assert VLLMModel("m", lazy=True, enable_prefix_caching=False).engine_options["enable_prefix_caching"] is False
