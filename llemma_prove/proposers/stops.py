"""Where a generated continuation ends: at the first stop string, at end-of-sequence, or at the length cap.

Every engine (transformers, vLLM beam search) needs the same rule so that scores mean the same thing:
the kept tokens run up to and including the token that completes the first stop string (or the EOS
token); the text is everything before the stop string. Log-probabilities are summed over the kept tokens,
as vLLM and OpenAI-compatible servers count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Sequence

Decode = Callable[[Sequence[int]], str]


@dataclass(frozen=True)
class Ending:
    num_tokens: int  # tokens kept, including the one that completed the stop string or the EOS token
    text: str  # decoded text, without the stop string and anything after it
    reason: str  # "stop", "eos" or "length"


def first_stop(text: str, stop: Sequence[str]) -> int:
    """Index of the earliest stop string in `text`, or -1."""
    hits = [i for i in (text.find(s) for s in stop if s) if i != -1]
    return min(hits) if hits else -1


def find_ending(token_ids: Sequence[int], decode: Decode, stop: Sequence[str], eos_ids: Collection[int]) -> Ending:
    """Apply the ending rule to one generated token sequence (prompt excluded).

    `decode` must drop special tokens. The shortest token prefix whose text holds a stop string is found
    by bisection, so a stop string split over several tokens is handled.
    """
    limit = len(token_ids)
    eos_at = next((i for i, t in enumerate(token_ids) if t in eos_ids), None)
    if eos_at is not None:
        limit = eos_at
    text = decode(token_ids[:limit])
    cut = first_stop(text, stop)
    if cut != -1:
        lo, hi = 1, limit  # the smallest k in [lo, hi] whose prefix holds a stop string
        while lo < hi:
            mid = (lo + hi) // 2
            if first_stop(decode(token_ids[:mid]), stop) != -1:
                hi = mid
            else:
                lo = mid + 1
        return Ending(lo, text[:cut], "stop")
    if eos_at is not None:
        return Ending(eos_at + 1, text, "eos")
    return Ending(limit, text, "length")
