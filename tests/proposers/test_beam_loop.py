"""The stop-aware beam search loop (vLLM >= 0.6.3 path) over a vLLM test double backed by the tiny model."""

from __future__ import annotations

import sys

import pytest

from llemma_prove.proposers.beam import stop_aware_beam_search
from llemma_prove.proposers.stops import find_ending
from llemma_prove.types import DecodingMethod, SamplingParams
from tests.doubles.fake_vllm import LLM, SamplingParams as FakeParams, fake_vllm_module

STATES = ["x : ℝ\nh₀ : 3 * x = 6\n⊢ x = 2", "n : ℕ\n⊢ n + 0 = n", "⊢ (2 : ℤ) + 2 = 4"]


def render(state: str) -> str:
    """The last block of the paper's layout only: short prompts keep the uncached test double fast."""
    return f"Tactic state:\n---\n{state}\n---\nNext tactic:\n---"
WIDTH, TOKENS = 4, 10


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return LLM(str(tiny_model_dir), max_logprobs=2 * WIDTH)


def oracle(engine):
    step = FakeParams(n=1, temperature=0.0, max_tokens=1, logprobs=2 * WIDTH)

    def next_logprobs(sequences):
        outs = engine.generate([{"prompt_token_ids": s} for s in sequences], step, use_tqdm=False)
        return [{t: lp.logprob for t, lp in o.outputs[0].logprobs[0].items()} for o in outs]

    return next_logprobs


def run(engine, prompts, stop):
    tok = engine.get_tokenizer()
    decode = lambda ids: tok.decode(ids, skip_special_tokens=True)  # noqa: E731
    return stop_aware_beam_search(oracle(engine), prompts, WIDTH, TOKENS, stop, {tok.eos_token_id}, decode)


def test_a_stop_ends_the_beam_inside_the_loop_which_differs_from_cutting_after(engine):
    tok = engine.get_tokenizer()
    decode = lambda ids: tok.decode(ids, skip_special_tokens=True)  # noqa: E731
    prompts = [tok.encode(render(s)) for s in STATES]
    free = run(engine, prompts, ())
    pieces = sorted({tok.decode([t]) for g in free for b in g for t in b.tokens
                     if tok.decode([t]).strip() and tok.decode([t]).isprintable() and "\ufffd" not in tok.decode([t])})
    for stop in pieces:
        during = run(engine, prompts, (stop,))
        for stopped, unstopped in zip(during, free):
            ours = [b.ending.text for b in stopped]
            after = [find_ending(list(b.tokens), decode, (stop,), {tok.eos_token_id}).text for b in unstopped]
            # Cutting afterwards collapses beams that ran past the stop into one candidate.
            if len(set(ours)) > len(set(after)):
                assert all(stop not in text for text in ours)
                for b in stopped:  # each finished beam keeps exactly the tokens up to its stop, scored on them
                    assert b.ending.reason in ("stop", "eos", "length")
                    assert b.cum_logprob == pytest.approx(sum(b.logprobs)) and len(b.tokens) == b.ending.num_tokens
                return
    pytest.fail("no stop string separates the two searches for the tiny model")  # pragma: no cover


def test_without_stops_the_best_beam_is_the_greedy_path_when_width_is_one(engine):
    tok = engine.get_tokenizer()
    prompt = tok.encode(render(STATES[0]))
    (only,) = stop_aware_beam_search(oracle(engine), [prompt], 1, 5, (), set(), lambda ids: tok.decode(ids))[0:1]
    greedy, ids = [], list(prompt)
    for _ in range(5):
        out = engine.generate([{"prompt_token_ids": ids}], FakeParams(temperature=0.0, max_tokens=1, logprobs=1))
        greedy.append(out[0].outputs[0].token_ids[0])
        ids.append(greedy[-1])
    assert list(only[0].tokens) == greedy


def test_the_vllm_engine_uses_the_loop_for_beams_with_a_stop(monkeypatch, tiny_model_dir, engine):
    monkeypatch.setitem(sys.modules, "vllm", fake_vllm_module())
    from llemma_prove.proposers.vllm_engine import DEFAULT_MAX_LOGPROBS, VLLMModel

    model = VLLMModel(str(tiny_model_dir))
    assert model._llm.max_logprobs == DEFAULT_MAX_LOGPROBS  # room for the paper's 32 beams (2 x 32)
    prompts = [render(s) for s in STATES[:2]]
    params = SamplingParams(n=WIDTH, method=DecodingMethod.BEAM, max_new_tokens=TOKENS, stop=("a",))
    got = model.generate_blocking(prompts, params)
    tok = engine.get_tokenizer()
    expected = run(engine, [tok.encode(p) for p in prompts], ("a",))
    assert [[c.text for c in g] for g in got] == [[b.ending.text for b in g] for g in expected]
    assert [c.logprob_sum for g in got for c in g] == pytest.approx([b.cum_logprob for g in expected for b in g])
    # 32 beams ask for 64 log-probs: an engine left at vLLM's default of 20 refuses, as vLLM does.
    with pytest.raises(ValueError, match="greater than max allowed: 20"):
        LLM(str(tiny_model_dir)).generate([{"prompt_token_ids": [1]}], FakeParams(temperature=0.0, max_tokens=1, logprobs=64))
