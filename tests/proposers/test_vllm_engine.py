"""vLLM: the mapping to vLLM's own classes (where vLLM imports) and the beam cut (pure, always)."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from llemma_prove.errors import ModelLoadError
from llemma_prove.proposers.vllm_engine import VLLMModel, completion_from_beam, completion_from_output, vllm_request
from llemma_prove.types import DecodingMethod, SamplingParams

HAS_VLLM = importlib.util.find_spec("vllm") is not None
PIECES = {10: "<s>", 11: "Tactic", 1: "\n", 2: "norm_num", 3: "--", 4: "-", 5: "junk", 2000: "</s>"}


def decode(ids):
    return "".join(PIECES[i] for i in ids if i not in (10, 2000))


def test_beam_is_cut_at_the_stop_with_the_scores_of_the_kept_tokens():
    lp = lambda v: SimpleNamespace(logprob=v)  # noqa: E731 - vLLM's Logprob has a .logprob
    beam = SimpleNamespace(
        tokens=[10, 11, 1, 2, 1, 3, 4, 5, 5],  # two prompt tokens, then "\nnorm_num\n---junkjunk"
        logprobs=[{1: lp(-0.5)}, {2: lp(-1.0), 7: lp(-2.0)}, {1: lp(-0.25)}, {3: lp(-0.5)}, {4: lp(-0.1)}, {5: lp(-3.0)}, {5: lp(-3.0)}],
        cum_logprob=-8.35,
    )
    completion = completion_from_beam(beam, 2, decode, ("---",), {2000})
    assert completion.text == "\nnorm_num\n"
    assert completion.num_tokens == 5
    assert completion.logprob_sum == pytest.approx(-2.35)


def test_beam_ending_in_eos_and_beam_without_per_token_logprobs():
    eos_beam = SimpleNamespace(tokens=[10, 1, 2, 2000], logprobs=[{1: -0.5}, {2: -1.0}, {2000: -0.2}], cum_logprob=-1.7)
    done = completion_from_beam(eos_beam, 1, decode, ("---",), {2000})
    assert (done.text, done.num_tokens, done.logprob_sum) == ("\nnorm_num", 3, pytest.approx(-1.7))
    bare = SimpleNamespace(tokens=[10, 1, 2], logprobs=None, cum_logprob=-1.5)
    assert completion_from_beam(bare, 1, decode, ("---",), {2000}).logprob_sum == -1.5


def test_sampling_output_uses_cumulative_logprob_or_the_per_token_ones():
    out = SimpleNamespace(text="\nsimp\n", token_ids=[1, 2, 1, 3, 4], cumulative_logprob=-2.0, logprobs=None)
    assert completion_from_output(out).num_tokens == 5 and completion_from_output(out).logprob_sum == -2.0
    out = SimpleNamespace(text="\nsimp", token_ids=[1, 2], cumulative_logprob=None, logprobs=[{1: -0.5}, {2: -0.75}])
    assert completion_from_output(out).logprob_sum == -1.25


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_missing_vllm_is_a_clear_model_load_error():
    with pytest.raises(ModelLoadError, match=r"vLLM is not installed \(pip install 'llemma-prove\[vllm\]'"):
        VLLMModel("EleutherAI/llemma_7b")


@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (extra `vllm`, needs a CUDA machine)")
def test_mapping_to_vllm_parameter_classes():
    import vllm

    beam = vllm_request(SamplingParams(n=32, method=DecodingMethod.BEAM, max_new_tokens=256), vllm)
    beam_cls = getattr(vllm.sampling_params, "BeamSearchParams", None)
    if beam_cls is not None:
        assert beam.call == "beam_search" and isinstance(beam.params, beam_cls)
        assert (beam.params.beam_width, beam.params.max_tokens, beam.params.temperature) == (32, 256, 0.0)
    else:
        assert beam.call == "generate" and beam.params.use_beam_search and beam.params.n == 32

    sample = vllm_request(
        SamplingParams(n=8, method=DecodingMethod.SAMPLE, temperature=0.7, top_p=0.9, max_new_tokens=64, seed=5), vllm
    )
    assert sample.call == "generate" and isinstance(sample.params, vllm.SamplingParams)
    p = sample.params
    assert (p.n, p.temperature, p.top_p, p.max_tokens, list(p.stop), p.logprobs, p.seed) == (8, 0.7, 0.9, 64, ["---"], 0, 5)

    greedy = vllm_request(SamplingParams(n=4, method=DecodingMethod.GREEDY, max_new_tokens=16), vllm)
    assert greedy.call == "generate" and (greedy.params.n, greedy.params.temperature) == (1, 0.0)
