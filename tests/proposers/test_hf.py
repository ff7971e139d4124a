"""The transformers model with a tiny random Llama built in the test: shapes, real log-probs, stops."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llemma_prove.errors import ModelLoadError
from llemma_prove.interfaces import LanguageModel
from llemma_prove.proposers.hf import StopStringCriteria, TransformersModel
from llemma_prove.proposers.prompts import default_lean4_template
from llemma_prove.types import DecodingMethod, SamplingParams

STATES = ["x : ℝ\nh₀ : 3 * x = 6\n⊢ x = 2", "n : ℕ\n⊢ n + 0 = n", "⊢ (2 : ℤ) + 2 = 4"]
BEAM = DecodingMethod.BEAM
SAMPLE = DecodingMethod.SAMPLE
GREEDY = DecodingMethod.GREEDY


@pytest.fixture(scope="module")
def prompts():
    template = default_lean4_template()
    return [template.render(s) for s in STATES]


@pytest.fixture(scope="module")
def reference(tiny_model_dir):
    """An independent copy of the tiny model and tokenizer to recompute log-probs with."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    model.eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def forward_token_logprobs(reference, prompt: str, token_ids) -> list[float]:
    model, tokenizer = reference
    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = torch.tensor([prompt_ids + list(token_ids)])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    return [logp[len(prompt_ids) - 1 + i, t].item() for i, t in enumerate(token_ids)]


def assert_real_logprobs(reference, prompts, groups, tol=1e-4):
    for prompt, group in zip(prompts, groups):
        for seq in group:
            expected = forward_token_logprobs(reference, prompt, seq.token_ids)
            assert len(seq.token_ids) == seq.ending.num_tokens == seq.completion.num_tokens
            assert seq.completion.logprob_sum == pytest.approx(sum(expected), abs=tol)
            assert seq.completion.logprob_sum < 0


def test_is_a_language_model(tiny_model, tiny_model_dir):
    assert isinstance(tiny_model, LanguageModel)
    assert tiny_model.name == str(tiny_model_dir)


async def test_beam_search_shapes_and_order(tiny_model, prompts):
    params = SamplingParams(n=4, method=BEAM, max_new_tokens=10, stop=())
    groups = await tiny_model.generate(prompts, params)
    assert [len(g) for g in groups] == [4, 4, 4]
    for group, seqs in zip(groups, tiny_model.generate_sequences(prompts, params)):
        assert [c.text for c in group] == [s.completion.text for s in seqs]
        # no stop string: a beam runs to full length unless the model ends it with EOS
        assert all(s.ending.reason in ("length", "eos") for s in seqs)
        full = [s.completion for s in seqs if s.ending.reason == "length"]
        assert full and all(c.num_tokens == 10 for c in full)
        sums = [c.logprob_sum for c in full]
        assert sums == sorted(sums, reverse=True)  # equal lengths: best beam first
        assert len({c.text for c in group}) > 1


async def test_sampling_shapes_and_seed(tiny_model, prompts):
    params = SamplingParams(n=5, method=SAMPLE, temperature=1.0, top_p=0.95, max_new_tokens=8, stop=(), seed=7)
    first = await tiny_model.generate(prompts, params)
    again = await tiny_model.generate(prompts, params)
    other = await tiny_model.generate(prompts, replace(params, seed=8))
    assert [len(g) for g in first] == [5, 5, 5]
    assert first == again
    assert first != other


def test_beam_scores_are_real_logprobs(tiny_model, prompts, reference):
    params = SamplingParams(n=4, method=BEAM, max_new_tokens=12, stop=("a",))
    groups = tiny_model.generate_sequences(prompts, params)
    assert_real_logprobs(reference, prompts, groups)
    reasons = {s.ending.reason for g in groups for s in g}
    assert "stop" in reasons  # the stop string was met by some beams, and scores still add up


def test_sampling_scores_are_real_logprobs_not_the_warped_ones(tiny_model, prompts, reference):
    # temperature 0.5 changes the sampling distribution, not the model's log-probs the search ranks by
    params = SamplingParams(n=3, method=SAMPLE, temperature=0.5, top_p=0.9, max_new_tokens=12, stop=("e",), seed=3)
    groups = tiny_model.generate_sequences(prompts, params)
    assert_real_logprobs(reference, prompts, groups)


def test_greedy_equals_beam_of_one_and_takes_the_argmax(tiny_model, prompts, reference):
    greedy = tiny_model.generate_sequences(prompts, SamplingParams(n=1, method=GREEDY, max_new_tokens=8, stop=()))
    beam1 = tiny_model.generate_sequences(prompts, SamplingParams(n=1, method=BEAM, max_new_tokens=8, stop=()))
    assert [[s.token_ids for s in g] for g in greedy] == [[s.token_ids for s in g] for g in beam1]
    assert [[s.completion for s in g] for g in greedy] == [[s.completion for s in g] for g in beam1]
    model, tokenizer = reference
    for prompt, (seq,) in zip(prompts, greedy):
        ids = tokenizer(prompt)["input_ids"] + list(seq.token_ids)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        start = len(ids) - len(seq.token_ids) - 1
        assert [int(logits[start + i].argmax()) for i in range(len(seq.token_ids))] == list(seq.token_ids)


def test_greedy_returns_one_completion_even_if_n_is_larger(tiny_model, prompts):
    groups = tiny_model.generate_blocking(prompts, SamplingParams(n=6, method=GREEDY, max_new_tokens=4, stop=()))
    assert [len(g) for g in groups] == [1, 1, 1]


def _pick_stop(tokenizer, token_ids):
    """A piece of the greedy output that first appears at some token k >= 1 (so the cut is visible)."""
    for k in range(1, len(token_ids)):
        piece = tokenizer.decode([token_ids[k]])
        before = tokenizer.decode(token_ids[:k])
        if piece.strip() and "\ufffd" not in piece and piece not in before and piece in tokenizer.decode(token_ids[: k + 1]):
            return k, piece
    return None


def test_stop_sequences_cut_the_text_and_stop_generation_early(tiny_model, prompts):
    tok = tiny_model.tokenizer
    free = tiny_model.generate_sequences(prompts, SamplingParams(n=1, method=GREEDY, max_new_tokens=16, stop=()))
    for prompt, (seq,) in zip(prompts, free):
        picked = _pick_stop(tok, list(seq.token_ids))
        if picked is not None:
            break
    else:  # pragma: no cover - depends only on the fixed seed of the tiny model
        pytest.fail("no usable stop string in the greedy outputs")
    k, stop = picked

    calls = []
    hook = tiny_model._model.register_forward_pre_hook(lambda *a: calls.append(1))
    try:
        calls.clear()
        tiny_model.generate_sequences([prompt], SamplingParams(n=1, method=GREEDY, max_new_tokens=16, stop=()))
        unstopped_calls = len(calls)
        calls.clear()
        ((cut,),) = tiny_model.generate_sequences(
            [prompt], SamplingParams(n=1, method=GREEDY, max_new_tokens=16, stop=(stop,))
        )
        stopped_calls = len(calls)
    finally:
        hook.remove()

    full_text = tok.decode(list(seq.token_ids[: k + 1]))
    assert cut.ending.reason == "stop"
    assert cut.completion.text == full_text[: full_text.index(stop)]
    assert stop not in cut.completion.text
    assert cut.token_ids == seq.token_ids[: k + 1]  # tokens up to and including the stop
    assert cut.completion.num_tokens == k + 1
    assert cut.completion.logprob_sum == pytest.approx(sum(seq.token_logprobs[: k + 1]), abs=1e-4)
    assert stopped_calls < unstopped_calls  # the stopping criterion ended decoding early


def test_results_do_not_depend_on_how_prompts_are_batched(tiny_model_dir, tiny_model, prompts):
    params = SamplingParams(n=4, method=BEAM, max_new_tokens=8, stop=("a",))
    together = tiny_model.generate_sequences(prompts, params)
    small = TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32", max_batch_size=4)  # 1 prompt a pass
    alone = small.generate_sequences(prompts, params)
    assert [[s.token_ids for s in g] for g in together] == [[s.token_ids for s in g] for g in alone]
    for g1, g2 in zip(together, alone):
        for a, b in zip(g1, g2):
            assert a.logprob_sum == pytest.approx(b.logprob_sum, abs=1e-4)


def test_sharing_the_prompt_prefill_changes_nothing_but_speed(tiny_model_dir, tiny_model, prompts):
    plain = TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32", share_prefill=False)
    for params in (
        SamplingParams(n=4, method=BEAM, max_new_tokens=8, stop=("a",)),
        SamplingParams(n=3, method=SAMPLE, temperature=0.9, max_new_tokens=8, stop=("e",), seed=11),
    ):
        shared = tiny_model.generate_sequences(prompts, params)
        unshared = plain.generate_sequences(prompts, params)
        assert [[s.token_ids for s in g] for g in shared] == [[s.token_ids for s in g] for g in unshared]


async def test_generation_runs_off_the_event_loop(tiny_model, prompts):
    ticks = 0
    done = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    start = loop.time()
    await tiny_model.generate(prompts, SamplingParams(n=8, method=BEAM, max_new_tokens=24, stop=()))
    elapsed = loop.time() - start
    done.set()
    await task
    assert elapsed > 0.05
    assert ticks >= 10  # the loop kept running while torch worked in a thread


async def test_concurrent_generate_calls_are_serialised_and_both_answered(tiny_model, prompts):
    params = SamplingParams(n=2, method=BEAM, max_new_tokens=6, stop=())
    a, b = await asyncio.gather(tiny_model.generate(prompts[:1], params), tiny_model.generate(prompts[1:], params))
    assert len(a) == 1 and len(b) == 2


def test_bad_model_id_offline_names_the_model_and_what_to_do(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as info:
        TransformersModel("EleutherAI/no-such-llemma-model", device="cpu")
    message = str(info.value)
    assert "EleutherAI/no-such-llemma-model" in message
    assert "HF_HUB_OFFLINE" in message and "huggingface-cli download" in message
    assert "\n" not in message


def test_missing_local_path_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no such directory"):
        TransformersModel(str(tmp_path / "missing" / "model"), device="cpu")


def test_directory_without_a_model_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match=f"cannot load model from {tmp_path}"):
        TransformersModel(str(tmp_path), device="cpu")


@pytest.mark.parametrize("option, value, message", [("dtype", "float8", "unknown dtype"), ("device", "tpu", "unknown device")])
def test_bad_device_or_dtype(tiny_model_dir, option, value, message):
    with pytest.raises(ModelLoadError, match=message):
        TransformersModel(str(tiny_model_dir), **{option: value})


def test_lazy_model_loads_on_first_use(tiny_model_dir, prompts):
    model = TransformersModel(str(tiny_model_dir), device="cpu", lazy=True)
    assert model._model is None
    groups = model.generate_blocking(prompts[:1], SamplingParams(n=1, method=GREEDY, max_new_tokens=3, stop=()))
    assert len(groups) == 1 and model._model is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_in_bfloat16_scores_match_a_forward_pass(tiny_model_dir, prompts):
    model = TransformersModel(str(tiny_model_dir), device="cuda", dtype="bfloat16")
    groups = model.generate_sequences(prompts, SamplingParams(n=4, method=BEAM, max_new_tokens=12, stop=("a",)))
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16).to("cuda").eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for prompt, group in zip(prompts, groups):
        assert len(group) == 4
        for seq in group:
            ids = tokenizer(prompt)["input_ids"]
            with torch.no_grad():
                logp = torch.log_softmax(reference(torch.tensor([ids + list(seq.token_ids)], device="cuda")).logits[0].float(), -1)
            expected = sum(logp[len(ids) - 1 + i, t].item() for i, t in enumerate(seq.token_ids))
            assert seq.logprob_sum == pytest.approx(expected, abs=0.05 + 0.01 * len(seq.token_ids))


async def test_an_interrupted_caller_stops_the_decoding_and_the_model_is_free_after(tiny_model, prompts):
    """The theorem's hard clock cancels a generation in flight: decoding stops at the next token (not at
    `max_new_tokens`), and the model stays locked until the worker thread is done with it."""
    tiny_model.load()
    calls = []
    hook = tiny_model._model.register_forward_pre_hook(lambda *a: calls.append(1))
    params = SamplingParams(n=2, method=SAMPLE, max_new_tokens=3000, stop=(), seed=1)
    try:
        task = asyncio.ensure_future(tiny_model.generate(prompts[:1], params))
        while len(calls) < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not tiny_model._lock.locked()  # released only once the thread stopped
        stopped_at = len(calls)
        await asyncio.sleep(0.2)
        assert len(calls) == stopped_at < 3000  # nothing runs on after the cancel
    finally:
        hook.remove()
    (group,) = await tiny_model.generate(prompts[:1], SamplingParams(n=1, method=GREEDY, max_new_tokens=4, stop=()))
    assert len(group) == 1


def test_the_stop_check_decodes_exactly_as_batch_decode(tiny_model):
    """The stop check decodes through the fast tokenizer's own batch decoder; the text must be what
    `batch_decode` gives, special tokens skipped, for any ids."""
    tok = tiny_model.tokenizer
    assert tok.is_fast and not tok.clean_up_tokenization_spaces  # the backend's decoder is the one used
    criteria = StopStringCriteria(tok, 0, ("---",))
    gen = torch.Generator().manual_seed(0)
    rows = torch.randint(0, len(tok), (64, criteria.window), generator=gen).tolist()
    assert criteria._decode_batch(rows) == tok.batch_decode(rows, skip_special_tokens=True)
