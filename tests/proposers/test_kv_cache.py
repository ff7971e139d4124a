"""The segmented KV cache: the same attention as a plain cache, with shared segments never copied."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llemma_prove.proposers import kv_cache
from llemma_prove.proposers.hf import TransformersModel
from llemma_prove.proposers.kv_cache import (SHARED_PROMPT_ATTENTION, SegmentedLayer, length_buckets,
                                             shared_prompt_attention)
from llemma_prove.proposers.prompts import default_lean4_template
from llemma_prove.types import DecodingMethod, SamplingParams


class Attention(torch.nn.Module):
    def __init__(self, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.num_key_value_groups = heads // kv_heads
        self.is_causal = True


def plain_attention(query, keys, values, mask):
    """SDPA over every sequence's full keys (key heads repeated for grouped-query attention)."""
    repeat = query.shape[1] // keys.shape[1]
    keys, values = keys.repeat_interleave(repeat, dim=1), values.repeat_interleave(repeat, dim=1)
    return F.scaled_dot_product_attention(query, keys, values, attn_mask=mask).transpose(1, 2)


def build(prompts=2, beams=3, kv_heads=2, heads=4, dim=8, prefix=5, rest=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = prompts * beams

    def rand(*shape):
        return torch.randn(*shape, generator=gen)

    shared = [(rand(1, kv_heads, prefix, dim), rand(1, kv_heads, prefix, dim)),
              (rand(prompts, kv_heads, rest, dim), rand(prompts, kv_heads, rest, dim))]
    return SegmentedLayer(shared, batch, room=2), rand, batch, heads, kv_heads, dim


def test_attention_over_segments_equals_attention_over_full_keys_with_padding_and_several_queries():
    for q_len in (1, 3):
        layer, rand, batch, heads, kv_heads, dim = build()
        keys, values = layer.update(rand(batch, kv_heads, q_len, dim), rand(batch, kv_heads, q_len, dim))
        total = layer.get_seq_length()
        mask = torch.ones(batch, 1, q_len, total, dtype=torch.bool)
        mask[3:, :, :, 5:6] = False  # the second prompt's rest starts with a padding token
        mask[:, :, :, -q_len:] = torch.tril(torch.ones(q_len, q_len, dtype=torch.bool))  # causal new tokens
        query = rand(batch, heads, q_len, dim)
        ours, _ = shared_prompt_attention(Attention(heads, kv_heads), query, keys, values, mask)
        full_k, full_v = layer.materialize()
        assert full_k.shape == (batch, kv_heads, total, dim)
        torch.testing.assert_close(ours, plain_attention(query, full_k, full_v, mask), rtol=1e-5, atol=1e-5)
        # no mask: the newest tokens are causal, everything before them visible
        ours, _ = shared_prompt_attention(Attention(heads, kv_heads), query, keys, values, None)
        causal = torch.ones(q_len, total, dtype=torch.bool).tril(total - q_len)[None, None]
        torch.testing.assert_close(ours, plain_attention(query, full_k, full_v, causal), rtol=1e-5, atol=1e-5)


def test_beam_reorders_move_only_generated_tokens_and_other_reorders_stay_exact():
    layer, rand, batch, heads, kv_heads, dim = build()
    layer.update(rand(batch, kv_heads, 2, dim), rand(batch, kv_heads, 2, dim))
    before = layer.materialize()[0]
    shared = [k for k, _ in layer.shared]
    within = torch.tensor([2, 0, 0, 4, 5, 5])  # each beam takes a parent of its own prompt
    layer.reorder_cache(within)
    assert [k for k, _ in layer.shared] == shared and all(a is b for a, b in zip(shared, [k for k, _ in layer.shared]))
    torch.testing.assert_close(layer.materialize()[0], before.index_select(0, within))
    across = torch.tensor([3, 0, 1, 2, 5, 4])  # not a beam search reorder: every position moves
    layer.reorder_cache(across)
    torch.testing.assert_close(layer.materialize()[0], before.index_select(0, within).index_select(0, across))


def test_the_model_decodes_through_segments_and_matches_plain_generation(tiny_model_dir, monkeypatch):
    seen: list[int] = []
    update = SegmentedLayer.update

    def spy(self, *args, **kwargs):
        seen.append(len(self.shared))
        return update(self, *args, **kwargs)

    monkeypatch.setattr(SegmentedLayer, "update", spy)
    model = TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32")
    assert model._model.config._attn_implementation == SHARED_PROMPT_ATTENTION
    plain = TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32", share_prefill=False)
    assert plain._model.config._attn_implementation == "sdpa"
    prompts = ["theorem a : 1 + 1 = 2 := by\n", "example (n : Nat) : n + 0 = n := by\n  "]
    params = SamplingParams(n=4, method=DecodingMethod.BEAM, max_new_tokens=6, stop=())
    ours, theirs = model.generate_sequences(prompts, params), plain.generate_sequences(prompts, params)
    assert seen, "generation never went through the segmented cache"
    assert [[s.token_ids for s in g] for g in ours] == [[s.token_ids for s in g] for g in theirs]
    for g1, g2 in zip(ours, theirs):
        for a, b in zip(g1, g2):
            assert abs(a.logprob_sum - b.logprob_sum) < 1e-4


def test_models_outside_plain_sdpa_keep_their_own_attention(tiny_model_dir):
    eager = TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32", lazy=True)
    eager.load()
    eager._model.set_attn_implementation("eager")
    assert not kv_cache.use_shared_prompt_attention(eager._model)
    assert eager._model.config._attn_implementation == "eager"


def test_length_buckets_bound_the_padding_of_each_group():
    lengths = [83, 43, 40, 70, 68, 29, 77, 49, 258, 279]
    buckets = length_buckets(lengths)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    for bucket in buckets:
        assert max(lengths[i] for i in bucket) * len(bucket) <= 1.25 * sum(lengths[i] for i in bucket) or len(bucket) == 1
    assert length_buckets([5, 5, 5]) == [[0, 1, 2]]


def test_prompts_of_very_different_lengths_are_prefilled_in_groups_with_the_same_results(tiny_model_dir, monkeypatch):
    stacked: list[int] = []
    real_stack = kv_cache.stack_rows

    def spy(parts, batch, length, prompt_cache=None):
        stacked.append(len(parts))
        return real_stack(parts, batch, length, prompt_cache)

    monkeypatch.setattr(kv_cache, "stack_rows", spy)  # what run_in_groups stacks with, for both paths
    template = default_lean4_template()
    long_state = "\n".join(f"h{i} : x{i} + {i} = {2 * i}" for i in range(60)) + "\n⊢ x0 = 0"
    states = ["⊢ True", long_state, "n : ℕ\n⊢ n + 0 = n"]
    prompts = [template.render(s) for s in states]
    params = SamplingParams(n=3, method=DecodingMethod.BEAM, max_new_tokens=6, stop=())
    plain = TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32", share_prefill=False)
    expected = plain.generate_sequences(prompts, params)
    for reuse in (False, True):
        stacked.clear()
        model = TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32", prefix_cache=reuse)
        if reuse:
            model.declare_prefix(template.prefix)
        got = model.generate_sequences(prompts, params)
        assert stacked and max(stacked) > 1, "the prompts were not prefilled in groups"
        assert [[s.token_ids for s in g] for g in got] == [[s.token_ids for s in g] for g in expected]
        for g1, g2 in zip(got, expected):
            for a, b in zip(g1, g2):
                assert abs(a.logprob_sum - b.logprob_sum) < 1e-4
