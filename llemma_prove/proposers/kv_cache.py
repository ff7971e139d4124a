"""A KV cache for beams and samples of the same prompts: the prompt written once, nothing copied per step.

`transformers`' dynamic cache grows by concatenation (the whole cache copied at every decoding step)
and beam search reorders it with `index_select` over every position (copied again). Every beam of a
prompt shares that prompt's keys and values, and beam search only ever moves a beam within its own
prompt's group, so only the positions generated so far can differ between rows. This cache keeps each
layer in a buffer allocated once (prompt + room for the new tokens), writes new tokens in place, and
reorders only the generated positions. With a long few-shot prompt and short tactics that removes
almost all of the memory traffic of a decoding step (benchmarks/generation.py, prefix case).

On a CPU a fresh buffer of this size costs more than filling it (the pages are faulted in one by one),
so the buffers of a finished pass go back to a `BufferPool` the next pass takes them from.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from transformers.cache_utils import DynamicLayer


class BufferPool:
    """Flat buffers of finished passes, handed out again as views (best fit); at most `limit_bytes` kept."""

    def __init__(self, limit_bytes: int = 4 << 30) -> None:
        self.limit_bytes = limit_bytes
        self._free: list[torch.Tensor] = []

    def take(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        needed = 1
        for size in shape:
            needed *= size
        fits = [i for i, b in enumerate(self._free)
                if b.numel() >= needed and b.dtype == like.dtype and b.device == like.device]
        if not fits:
            return like.new_empty(shape)
        buffer = self._free.pop(min(fits, key=lambda i: self._free[i].numel()))
        return buffer[:needed].view(shape)

    def give_back(self, tensors: list[torch.Tensor]) -> None:
        seen = {b.data_ptr() for b in self._free}
        for tensor in tensors:
            flat = tensor.view(-1) if tensor._base is None else tensor._base.view(-1)
            if flat.data_ptr() not in seen:
                seen.add(flat.data_ptr())
                self._free.append(flat)
        self._free.sort(key=torch.Tensor.numel, reverse=True)
        kept, total = [], 0
        for buffer in self._free:  # the largest first: they fit the next pass of the same shape
            size = buffer.numel() * buffer.element_size()
            if total + size <= self.limit_bytes:
                kept.append(buffer)
                total += size
        self._free = kept

    def clear(self) -> None:
        self._free.clear()


class SharedPromptLayer(DynamicLayer):
    """One layer's keys/values: `prompt_length` positions shared within each group of `group` rows."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, group: int, room: int,
                 pool: BufferPool | None = None) -> None:
        super().__init__()
        batch, heads, prompt_length, _ = keys.shape
        rows = batch * group
        for name, source in (("_keys", keys), ("_values", values)):
            shape = (rows, heads, prompt_length + room, source.shape[-1])
            buffer = pool.take(shape, source) if pool is not None else source.new_empty(shape)
            # every row of a group gets its prompt's positions: one copy, no intermediate tensor
            buffer[:, :, :prompt_length].unflatten(0, (batch, group)).copy_(
                source[:, None].expand(batch, group, *source.shape[1:]))
            setattr(self, name, buffer)
        self.group = group
        self.prompt_length = prompt_length
        self.length = prompt_length
        self.device = keys.device
        self.is_initialized = True
        self._expose()

    def _expose(self) -> None:
        self.keys = self._keys[:, :, : self.length]
        self.values = self._values[:, :, : self.length]

    def _grow(self, needed: int) -> None:
        size = max(needed, 2 * self._keys.shape[2])
        for name in ("_keys", "_values"):
            old = getattr(self, name)
            new = old.new_empty((old.shape[0], old.shape[1], size, old.shape[3]))
            new[:, :, : self.length] = old[:, :, : self.length]
            setattr(self, name, new)

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
               ) -> tuple[torch.Tensor, torch.Tensor]:
        count = key_states.shape[-2]
        if self.length + count > self._keys.shape[2]:
            self._grow(self.length + count)
        self._keys[:, :, self.length : self.length + count] = key_states
        self._values[:, :, self.length : self.length + count] = value_states
        self.length += count
        self._expose()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        beam_idx = beam_idx.to(self.device)
        rows = torch.arange(beam_idx.shape[0], device=self.device)
        if beam_idx.shape[0] == self._keys.shape[0] and torch.equal(beam_idx // self.group, rows // self.group):
            start = self.prompt_length  # every row of a group holds the same prompt: move only generated tokens
            if self.length > start:
                for buffer in (self._keys, self._values):
                    buffer[:, :, start : self.length] = buffer[:, :, start : self.length].index_select(0, beam_idx)
        else:  # not a reorder beam search makes: move every position, and share nothing from now on
            for name in ("_keys", "_values"):
                old = getattr(self, name)
                new = old.new_empty((beam_idx.shape[0], *old.shape[1:]))
                new[:, :, : self.length] = old[:, :, : self.length].index_select(0, beam_idx)
                setattr(self, name, new)
            self.prompt_length = 0
        self._expose()

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError(f"crop takes a negative count of tokens to remove, got {tokens_to_remove}")
        self.length = max(0, self.length + tokens_to_remove)
        self.prompt_length = min(self.prompt_length, self.length)
        self._expose()

    def batch_repeat_interleave(self, repeats: int) -> None:
        raise NotImplementedError("a shared-prompt cache is built already expanded to its beams")

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        raise NotImplementedError("a shared-prompt cache keeps all of its rows")


def supports_shared_prompt(prompt_cache: Any) -> bool:
    """Only plain full-attention layers (Llama's): sliding-window or quantized layers keep their own cache."""
    layers = getattr(prompt_cache, "layers", None)
    return bool(layers) and all(type(layer) in (DynamicLayer, SharedPromptLayer) and layer.is_initialized for layer in layers)


def shared_prompt_cache(prompt_cache: Any, group: int, room: int, first: int = 0, last: int | None = None,
                        pool: BufferPool | None = None) -> Any:
    """A cache for `group` sequences per prompt row first..last-1 of `prompt_cache` (left untouched),
    with room for `room` more tokens per sequence before a buffer has to grow."""
    cache = copy.copy(prompt_cache)
    cache.layers = [
        SharedPromptLayer(layer.keys[first:last], layer.values[first:last], group, room, pool)
        for layer in prompt_cache.layers
    ]
    return cache


def give_back(cache: Any, pool: BufferPool) -> None:
    """Return a finished shared-prompt cache's buffers to `pool` (the cache must not be used again)."""
    for layer in getattr(cache, "layers", None) or ():
        if isinstance(layer, SharedPromptLayer):
            pool.give_back([layer._keys, layer._values])
            layer._keys = layer._values = layer.keys = layer.values = None
            layer.is_initialized = False
