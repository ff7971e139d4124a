"""Beam search over an engine's next-token log-probs, where a stop string ends a beam.

vLLM >= 0.6.3 runs beam search as a loop in Python (`LLM.beam_search`, vllm/entrypoints/llm.py): each
step asks the engine for one token with the top `2 * width` log-probs of every live beam, extends each
beam by each of them, moves beams that ended in EOS to the finished list, and keeps the `width` best
of the rest, ranked by cumulative log-prob over length (prompt included) to the `length_penalty`. That
loop knows no stop strings, so beams would run past `---` and be cut afterwards, which is a different
search from the paper's (its vLLM 0.1.7 finished a beam at the stop). This is the same loop with one
change: a beam whose generated text holds a stop string is finished there, like EOS, and its slot goes
to the next hypothesis.

The engine is reached through one function (`NextTokenLogprobs`), so the loop is tested with any
engine that gives log-probs, and runs on vLLM through `vllm_engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Mapping, Sequence

from .stops import Ending, find_ending, first_stop

# For each sequence (prompt + generated tokens), the top next tokens and their log-probs.
NextTokenLogprobs = Callable[[list[list[int]]], list[Mapping[int, float]]]
Decode = Callable[[Sequence[int]], str]


@dataclass(frozen=True)
class Beam:
    prompt_len: int
    tokens: tuple[int, ...]  # generated tokens only
    logprobs: tuple[float, ...]
    cum_logprob: float = 0.0
    ending: Ending | None = None  # set once the beam is finished

    def score(self, length_penalty: float, eos_ids: Collection[int]) -> float:
        """vLLM's ranking: cumulative log-prob over the whole length (a final EOS not counted)."""
        length = self.prompt_len + len(self.tokens)
        if self.tokens and self.tokens[-1] in eos_ids:
            length -= 1
        return self.cum_logprob / (max(length, 1) ** length_penalty)


def _stop_window(stop: Sequence[str]) -> int:
    """Tokens to decode to see a stop string that the newest token may have completed."""
    return max((len(s.encode("utf-8")) for s in stop), default=0) + 1


def stop_aware_beam_search(
    next_logprobs: NextTokenLogprobs,
    prompts: Sequence[Sequence[int]],
    width: int,
    max_tokens: int,
    stop: Sequence[str],
    eos_ids: Collection[int],
    decode: Decode,
    length_penalty: float = 1.0,
) -> list[list[Beam]]:
    """The `width` best finished beams per prompt, best first, each with its `ending` (text cut at the stop)."""
    if width < 1 or max_tokens < 1:
        raise ValueError(f"beam width and max_tokens must be at least 1, got {width} and {max_tokens}")
    stop = tuple(s for s in stop if s)
    window = _stop_window(stop)
    running: list[list[Beam]] = [[Beam(len(p), (), ())] for p in prompts]
    finished: list[list[Beam]] = [[] for _ in prompts]

    def key(beam: Beam) -> float:
        return beam.score(length_penalty, eos_ids)

    for _ in range(max_tokens):
        flat = [(i, b) for i, beams in enumerate(running) for b in beams]
        if not flat:
            break
        answers = next_logprobs([list(prompts[i]) + list(b.tokens) for i, b in flat])
        if len(answers) != len(flat):
            raise ValueError(f"the engine answered {len(answers)} of {len(flat)} beams")
        grown: list[list[Beam]] = [[] for _ in prompts]
        for (i, parent), top in zip(flat, answers):
            for token, logprob in top.items():
                beam = Beam(parent.prompt_len, parent.tokens + (token,), parent.logprobs + (logprob,),
                            parent.cum_logprob + logprob)
                if token in eos_ids or (stop and first_stop(decode(beam.tokens[-window:]), stop) != -1):
                    finished[i].append(_finish(beam, decode, stop, eos_ids))
                else:
                    grown[i].append(beam)
        running = [sorted(g, key=key, reverse=True)[:width] for g in grown]
    out = []
    for i in range(len(prompts)):
        done = finished[i] + [_finish(b, decode, stop, eos_ids) for b in running[i]]
        out.append(sorted(done, key=key, reverse=True)[:width])
    return out


def _finish(beam: Beam, decode: Decode, stop: Sequence[str], eos_ids: Collection[int]) -> Beam:
    """Fix the beam's ending (the shared rule of `stops`) and keep only the tokens it counts."""
    ending = find_ending(list(beam.tokens), decode, stop, eos_ids)
    kept = ending.num_tokens
    return Beam(beam.prompt_len, beam.tokens[:kept], beam.logprobs[:kept], sum(beam.logprobs[:kept]), ending)
