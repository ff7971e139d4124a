"""The shared few-shot prompt prefix, encoded once per model and reused by every request and beam.

Every next-tactic prompt starts with the same few hundred tokens of examples. A proposer declares that
text (`TransformersModel.declare_prefix`); the first request runs it through the model once and keeps
its key/value cache (the library's own cache object). Each later batch copies that cache to its rows
and runs only the rest of each prompt.

Correctness does not rest on how the tokenizer splits text: the prefix is compared token by token with
each prompt's own tokenization, and only the tokens every prompt of the batch shares with the prefix
are reused (the KV entries of positions 0..k-1 depend on tokens 0..k-1 alone). The batch layout is
[shared prefix][left padding][rest of prompt]; the attention mask hides the padding and the position
ids count only real tokens, so each row sees exactly the positions it would see unpadded.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from .kv_cache import run_in_groups, segmented_cache, supports_segments

# Fewer shared tokens than this are not worth a cache copy (and mean the prefix does not apply).
MIN_SHARED_TOKENS = 8


@dataclass
class PrefixStats:
    """What the cache saved: prompt tokens not run through the model because the prefix was reused."""

    prefix_encodings: int = 0  # times a prefix was run through the model
    passes: int = 0  # generation passes that reused a prefix
    tokens_saved: int = 0  # prompt-row tokens served from the cache instead of recomputed


@dataclass
class PreparedBatch:
    """A batch laid out for a reused prefix: ids, mask, and the KV cache of every token but the last."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    cache: Any
    shared_tokens: int


def shared_length(prefix: Sequence[int], prompts: Sequence[Sequence[int]]) -> int:
    """How many leading tokens of `prefix` every prompt starts with, leaving each prompt >= 1 token."""
    k = len(prefix)
    for ids in prompts:
        limit = min(k, len(ids) - 1)
        i = 0
        while i < limit and ids[i] == prefix[i]:
            i += 1
        k = i
        if k == 0:
            break
    return k


class PrefixCache:
    """KV caches of declared prefixes for one model (a few kept, least recently used dropped)."""

    def __init__(self, max_entries: int = 4) -> None:
        self.max_entries = max_entries
        self.declared: list[str] = []
        self._token_ids: dict[str, tuple[int, ...]] = {}
        self._caches: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.stats = PrefixStats()

    def declare(self, text: str) -> None:
        if text and text not in self.declared:
            self.declared.append(text)

    def clear(self) -> None:
        self._caches.clear()
        self._token_ids.clear()

    def prepare(
        self,
        tokenizer: Any,
        prompts: Sequence[str],
        encode: Callable[[torch.Tensor], Any],
        extend: Callable[[Any, torch.Tensor, torch.Tensor, torch.Tensor], Any],
        device: str,
        segments: bool = False,
    ) -> PreparedBatch | None:
        """The batch with the best declared prefix reused, or None when none applies to every prompt.

        `encode(ids)` runs a 1-row prefix and returns its cache; `extend(cache, ids, mask, positions)`
        runs more tokens on top of a cache (mask covering cache + ids) and returns the cache."""
        if not self.declared or not prompts:
            return None
        rows = [list(ids) for ids in tokenizer(list(prompts))["input_ids"]]
        best: tuple[int, ...] = ()
        for text in self.declared:
            if text not in self._token_ids:
                self._token_ids[text] = tuple(tokenizer(text)["input_ids"])
            ids = self._token_ids[text]
            k = shared_length(ids, rows)
            if k > len(best):
                best = ids[:k]
        if len(best) < MIN_SHARED_TOKENS:
            return None
        k = len(best)
        cache = self._cache_for(best, encode, device)
        batch = len(rows)
        rests = [r[k:] for r in rows]
        width = max(len(r) for r in rests)
        shared = segments and supports_segments(cache)  # the prefix shared by every row, never copied
        prefix_cache = cache
        if not shared:
            cache = copy.deepcopy(cache)
            cache.reorder_cache(torch.zeros(batch, dtype=torch.long, device=device))
        pad = tokenizer.pad_token_id
        suffix = torch.full((batch, width), pad, dtype=torch.long)
        suffix_mask = torch.zeros((batch, width), dtype=torch.long)
        for i, r in enumerate(rests):
            suffix[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            suffix_mask[i, width - len(r) :] = 1
        head = torch.tensor(best, dtype=torch.long)[None, :].expand(batch, k)
        input_ids = torch.cat([head, suffix], dim=1).to(device)
        mask = torch.cat([torch.ones((batch, k), dtype=torch.long), suffix_mask], dim=1).to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        if width > 1 and not shared:  # run the rest of each prompt but its last token on top of the prefix
            cache = extend(cache, input_ids[:, k : k + width - 1], mask[:, : k + width - 1],
                           positions[:, k : k + width - 1])
        elif width > 1:  # the same, in groups of similar length (little padding), stacked afterwards

            def run(rows: torch.Tensor, span: int) -> Any:  # the group's rows fit in the last `span` columns
                rows, cols = rows.to(device), slice(k + width - 1 - span, k + width - 1)
                return extend(segmented_cache(prefix_cache, len(rows), span), input_ids[rows][:, cols],
                              torch.cat([mask[rows][:, :k], mask[rows][:, cols]], dim=1), positions[rows][:, cols])

            cache = run_in_groups([len(r) - 1 for r in rests], width - 1, run, prompt_cache=prefix_cache)
        elif shared:
            cache = segmented_cache(prefix_cache, batch, 1)
        self.stats.passes += 1
        self.stats.tokens_saved += k * batch
        return PreparedBatch(input_ids, mask, cache, k)

    def _cache_for(self, ids: tuple[int, ...], encode: Callable[[torch.Tensor], Any], device: str) -> Any:
        if ids in self._caches:
            self._caches.move_to_end(ids)
            return self._caches[ids]
        cache = encode(torch.tensor([ids], dtype=torch.long, device=device))
        self.stats.prefix_encodings += 1
        self._caches[ids] = cache
        while len(self._caches) > self.max_entries:
            self._caches.popitem(last=False)
        return cache
