"""A KV cache in which beams and prompts share what they have in common, kept once and never copied.

`transformers`' dynamic cache stores every key of every sequence: a prompt's keys once per beam, the
few-shot prefix once per prompt and beam. Decoding then rewrites all of it at every step (it grows by
concatenation, and beam search reorders it with `index_select`), and attention reads all of it. With a
few-shot prompt of ~600 tokens and tactics of ~20, that is almost all of a decoding step's memory
traffic, and most of the memory a batch of beams needs.

Here one layer's keys are a list of segments, in order: the few-shot prefix (one row, shared by every
sequence), each prompt's own rest (one row per prompt, shared by its beams), then the tokens each
sequence generated (one row per sequence, in a buffer written in place). Beam search only moves a beam
within its own prompt's group, so a reorder moves the generated tokens alone. The attention function
registered here (`SHARED_PROMPT_ATTENTION`) attends to each segment with the queries of all the
sequences sharing it stacked together, and merges the segments' softmax with their log-sum-exp: the
result is the same attention, computed without ever expanding a shared segment.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Callable

import torch
from transformers.cache_utils import DynamicLayer

log = logging.getLogger(__name__)

SHARED_PROMPT_ATTENTION = "llemma_prove_shared_prompt"


class SegmentedLayer(DynamicLayer):
    """One layer: shared segments (keys, values) whose row count divides the batch, then a per-sequence
    segment that grows in a buffer. `keys`/`values` are the per-sequence segment; the shared segments
    travel to the attention function on the tensors `update` returns."""

    def __init__(self, shared: list[tuple[torch.Tensor, torch.Tensor]], batch: int, room: int) -> None:
        super().__init__()
        if not shared:
            raise ValueError("a segmented layer needs at least one shared segment")
        first = shared[0][0]
        for keys, _ in shared:
            if batch % keys.shape[0]:
                raise ValueError(f"a segment of {keys.shape[0]} rows cannot be shared by {batch} sequences")
        self.shared = shared
        self.batch = batch
        self.shared_length = sum(keys.shape[2] for keys, _ in shared)
        heads, width = first.shape[1], first.shape[3]
        self._keys = first.new_empty((batch, heads, max(room, 1), width))
        self._values = shared[0][1].new_empty((batch, heads, max(room, 1), shared[0][1].shape[3]))
        self.length = 0
        self.device = first.device
        self.is_initialized = True
        self._expose()

    def _expose(self) -> None:
        self.keys = self._keys[:, :, : self.length]
        self.values = self._values[:, :, : self.length]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
               ) -> tuple[torch.Tensor, torch.Tensor]:
        count = key_states.shape[-2]
        if self.length + count > self._keys.shape[2]:
            self._resize(max(self.length + count, 2 * self._keys.shape[2]))
        self._keys[:, :, self.length : self.length + count] = key_states
        self._values[:, :, self.length : self.length + count] = value_states
        self.length += count
        self._expose()
        self.keys.llemma_shared = self.shared  # a fresh view each call: read by shared_prompt_attention
        return self.keys, self.values

    def _resize(self, size: int) -> None:
        for name in ("_keys", "_values"):
            old = getattr(self, name)
            new = old.new_empty((old.shape[0], old.shape[1], size, old.shape[3]))
            new[:, :, : self.length] = old[:, :, : self.length]
            setattr(self, name, new)

    def get_seq_length(self) -> int:
        return self.shared_length + self.length

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        beam_idx = beam_idx.to(self.device)
        if beam_idx.shape[0] == self.batch and all(_within_groups(beam_idx, self.batch // k.shape[0])
                                                   for k, _ in self.shared):
            if self.length:  # a beam only moves within the sequences sharing its segments
                for buffer in (self._keys, self._values):
                    buffer[:, :, : self.length] = buffer[:, :, : self.length].index_select(0, beam_idx)
            self._expose()
            return
        # Not a reorder beam search makes: give every sequence its own copy of everything, then move it.
        keys, values = self.materialize()
        self.shared = [(keys.index_select(0, beam_idx), values.index_select(0, beam_idx))]
        self.batch = beam_idx.shape[0]
        self.shared_length = keys.shape[2]
        self._keys = self._keys.new_empty((self.batch, *self._keys.shape[1:]))
        self._values = self._values.new_empty((self.batch, *self._values.shape[1:]))
        self.length = 0
        self._expose()

    def materialize(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sequence's keys and values in full, as a plain cache would hold them."""
        parts_k = [_expand_rows(k, self.batch) for k, _ in self.shared] + [self.keys]
        parts_v = [_expand_rows(v, self.batch) for _, v in self.shared] + [self.values]
        return torch.cat(parts_k, dim=2), torch.cat(parts_v, dim=2)

    def crop(self, tokens_to_remove: int) -> None:
        raise NotImplementedError("a segmented cache is not cropped (no assisted decoding on it)")

    def batch_repeat_interleave(self, repeats: int) -> None:
        raise NotImplementedError("a segmented cache is built already expanded to its sequences")

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        raise NotImplementedError("a segmented cache keeps all of its sequences")


def _within_groups(beam_idx: torch.Tensor, group: int) -> bool:
    """Whether every sequence's new parent shares its `group` (asked once per reorder)."""
    def answer() -> bool:
        rows = torch.arange(beam_idx.shape[0], device=beam_idx.device)
        return torch.equal(beam_idx // group, rows // group)

    return _asked_once(beam_idx, ("within", group), answer)


def _version(tensor: torch.Tensor) -> int | None:
    """The in-place write counter (inference tensors keep none; transformers makes its masks and beam
    indices afresh for every step)."""
    return None if tensor.is_inference() else tensor._version


def _expand_rows(tensor: torch.Tensor, batch: int) -> torch.Tensor:
    rows = tensor.shape[0]
    if rows == batch:
        return tensor
    return tensor[:, None].expand(rows, batch // rows, *tensor.shape[1:]).reshape(batch, *tensor.shape[1:])


def supports_segments(prompt_cache: Any) -> bool:
    """Only plain full-attention layers (Llama's): sliding-window or quantized layers keep their own cache."""
    layers = getattr(prompt_cache, "layers", None)
    return bool(layers) and all(type(layer) in (DynamicLayer, SegmentedLayer) and layer.is_initialized
                                for layer in layers)


def segmented_cache(prompt_cache: Any, group: int, room: int, first: int = 0, last: int | None = None) -> Any:
    """A cache for `group` sequences per row first..last-1 of `prompt_cache`, sharing (not copying) its
    keys, with room for `room` new tokens per sequence before a buffer has to grow."""
    cache = copy.copy(prompt_cache)
    cache.layers = [_segmented_layer(layer, group, room, first, last) for layer in prompt_cache.layers]
    return cache


def _segmented_layer(layer: Any, group: int, room: int, first: int, last: int | None) -> SegmentedLayer:
    rows = layer.keys.shape[0] if not isinstance(layer, SegmentedLayer) else layer.batch
    last = rows if last is None else last
    batch = (last - first) * group
    shared: list[tuple[torch.Tensor, torch.Tensor]] = []
    if isinstance(layer, SegmentedLayer):
        for keys, values in layer.shared:
            if keys.shape[0] == 1:  # shared by all rows: shared by all the new sequences too
                shared.append((keys, values))
            else:  # one row per some rows of the old cache: give each old row its own, then select
                shared.append((_expand_rows(keys, rows)[first:last], _expand_rows(values, rows)[first:last]))
    if layer.keys.shape[2]:
        shared.append((layer.keys[first:last], layer.values[first:last]))
    return SegmentedLayer(shared, batch, room)


def shared_prompt_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention over [shared segments..., own keys]; plain SDPA when the keys carry no segments."""
    shared = getattr(key, "llemma_shared", None)
    if shared is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    batch, heads, q_len, dim = query.shape
    kv_heads = key.shape[1]
    per_kv = heads // kv_heads  # grouped-query attention: query heads per key head
    scale = scaling if scaling is not None else dim**-0.5
    segments = [*shared, (key, value)]
    total = sum(k.shape[2] for k, _ in segments)
    mask = attention_mask
    if mask is None and q_len > 1:  # causal over the newest tokens, everything before them visible
        cols = torch.arange(total, device=query.device)
        rows = torch.arange(q_len, device=query.device) + (total - q_len)
        mask = (cols[None, :] <= rows[:, None])[None, None]
    if mask is not None and mask.dtype != torch.bool:
        mask = mask > torch.finfo(mask.dtype).min / 2  # an additive mask: very negative means hidden
    # queries as [batch, kv_heads, per_kv * q_len, dim]: each key head serves its query heads at once
    # Scores, softmax and the weighted sum in float32 whatever the model's dtype, as SDPA's kernels
    # accumulate: a bfloat16 product of weights and values would round each segment's share apart.
    q = (query.float() * scale).reshape(batch, kv_heads, per_kv * q_len, dim)
    scores: list[torch.Tensor] = []  # per segment, in the layout of that segment's rows
    start = 0
    for keys, _ in segments:
        rows, length = keys.shape[0], keys.shape[2]
        share = batch // rows
        stacked = q.reshape(rows, share, kv_heads, per_kv * q_len, dim).transpose(1, 2).reshape(
            rows, kv_heads, share * per_kv * q_len, dim)
        s = torch.matmul(stacked, keys.transpose(-1, -2).float())
        if mask is not None:
            m = mask[..., start : start + length]
            m = m[::share] if m.shape[0] == batch else m  # sequences sharing a segment share its mask
            if not _all_visible(mask, m, (start, length, share)):
                s.view(rows, kv_heads, share * per_kv, q_len, length).masked_fill_(~m[:, :, None], float("-inf"))
        scores.append(s)
        start += length

    def to_batch(t: torch.Tensor, rows: int) -> torch.Tensor:  # [rows, kv, share*pq, ...] -> [batch, kv, pq, ...]
        share = batch // rows
        return t.reshape(rows, kv_heads, share, per_kv * q_len, *t.shape[3:]).transpose(1, 2).reshape(
            batch, kv_heads, per_kv * q_len, *t.shape[3:])

    def to_rows(t: torch.Tensor, rows: int) -> torch.Tensor:  # the inverse of to_batch
        share = batch // rows
        return t.reshape(rows, share, kv_heads, per_kv * q_len, *t.shape[3:]).transpose(1, 2).reshape(
            rows, kv_heads, share * per_kv * q_len, *t.shape[3:])

    peak = torch.stack([to_batch(s.amax(-1), s.shape[0]) for s in scores]).amax(0)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))  # a row that sees nothing
    total_weight = torch.zeros_like(peak)
    out = torch.zeros((batch, kv_heads, per_kv * q_len, dim), dtype=torch.float32, device=query.device)
    for s, (_, values) in zip(scores, segments):
        rows = s.shape[0]
        weights = s.sub_(to_rows(peak, rows)[..., None]).exp_()  # the scores are not needed any more
        total_weight += to_batch(weights.sum(-1), rows)
        out += to_batch(torch.matmul(weights, values.float()), rows)
    out = out / total_weight.clamp_min(torch.finfo(torch.float32).tiny)[..., None]
    out = out.reshape(batch, heads, q_len, dim).to(query.dtype)
    return out.transpose(1, 2).contiguous(), None


def _all_visible(mask: torch.Tensor, part: torch.Tensor, key: tuple[int, int, int]) -> bool:
    """Whether `part` of `mask` hides nothing (the few-shot prefix never does), asked once per forward
    pass: every layer gets the same mask object."""
    return _asked_once(mask, ("visible", *key), lambda: bool(part.all()))


def _asked_once(tensor: torch.Tensor, key: tuple, answer: Callable[[], bool]) -> bool:
    """`answer()`, remembered on `tensor` (asked again if the tensor is written in place): every layer
    asks the same question of the same tensor, and on a GPU each answer costs a synchronisation."""
    known = getattr(tensor, "llemma_answers", None)
    if known is None:
        known = {}
        tensor.llemma_answers = known
    key = (*key, _version(tensor))
    if key not in known:
        known[key] = answer()
    return known[key]


def use_shared_prompt_attention(model: Any) -> bool:
    """Switch `model` to the segment-aware attention; False (model untouched) where that cannot apply:
    a model outside transformers' attention interface, or one not running plain SDPA attention."""
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError:
        return False
    if not getattr(model, "_supports_attention_backend", False):
        return False
    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return False
    AttentionInterface.register(SHARED_PROMPT_ATTENTION, shared_prompt_attention)
    AttentionMaskInterface.register(SHARED_PROMPT_ATTENTION, sdpa_mask)
    try:
        if hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(SHARED_PROMPT_ATTENTION)
        else:
            model.config._attn_implementation = SHARED_PROMPT_ATTENTION
    except Exception as exc:  # an architecture that refuses custom attention keeps its own
        log.info("shared-prompt attention not used for this model: %s", exc)
        return False
    return True


def length_buckets(lengths: list[int], slack: float = 1.25) -> list[list[int]]:
    """Row indices grouped so that left-padding each group to its longest row adds at most `slack` - 1
    of wasted positions: one pass per group instead of one pass padded to the longest row of all
    (goal states run from a few tokens to hundreds)."""
    buckets: list[list[int]] = []
    current: list[int] = []
    total = 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True):
        longest = lengths[current[0]] if current else lengths[i]
        if current and longest * (len(current) + 1) > slack * (total + lengths[i]):
            buckets.append(current)
            current, total = [], 0
        current.append(i)
        total += lengths[i]
    if current:
        buckets.append(current)
    return buckets


def run_in_groups(lengths: list[int], length: int, run: Callable[[torch.Tensor, int], Any],
                  prompt_cache: Any = None) -> Any:
    """One cache for rows of `lengths` own tokens (right-aligned in `length` positions), computed by
    `run(rows, span)` for each group of rows of similar length (`length_buckets`) over their last
    `span` positions, and stacked (`stack_rows`, on top of `prompt_cache` when given)."""
    parts = []
    for bucket in length_buckets(lengths):
        span = max(lengths[i] for i in bucket)
        if span:
            parts.append((bucket, run(torch.tensor(bucket), span)))
    return stack_rows(parts, len(lengths), length, prompt_cache)


def stack_rows(parts: list[tuple[list[int], Any]], batch: int, length: int, prompt_cache: Any = None) -> Any:
    """One cache of `batch` rows whose own `length` positions come from `parts` (the row indices of a
    cache computed for those rows alone, each row's tokens right-aligned as in a left-padded batch);
    positions no part covers are zeros, which the attention mask hides. On top of the one-row
    `prompt_cache` (shared by every row) when given, else a plain cache."""
    def own(layer: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return layer.keys, layer.values

    first = parts[0][1].layers
    if prompt_cache is not None:
        cache = segmented_cache(prompt_cache, batch, length)
        targets = cache.layers
    else:
        from transformers.cache_utils import DynamicCache

        cache, targets = DynamicCache(), [None] * len(first)
    for index, target in enumerate(targets):
        keys_like, values_like = own(first[index])
        keys = keys_like.new_zeros((batch, keys_like.shape[1], length, keys_like.shape[3]))
        values = values_like.new_zeros((batch, values_like.shape[1], length, values_like.shape[3]))
        for rows, part in parts:
            part_keys, part_values = own(part.layers[index])
            width = part_keys.shape[2]
            if width:
                where = torch.tensor(rows, device=keys.device)
                keys[where, :, length - width :] = part_keys
                values[where, :, length - width :] = part_values
        if target is None:
            cache.update(keys, values, index)
        else:
            target.update(keys, values)
    return cache
