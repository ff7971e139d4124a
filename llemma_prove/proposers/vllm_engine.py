"""LLEMMA in an in-process vLLM engine (extra `vllm`; needs a CUDA GPU).

Kept small on purpose: `vllm_request` maps our `SamplingParams` onto vLLM's own parameter classes
(`SamplingParams` for sampling and greedy; `BeamSearchParams` with `LLM.beam_search` for beams on vLLM
>= 0.6.3, the `use_beam_search` flag before), and the outputs become `Completion`s. vLLM's beam search
knows no stop strings, so beams are cut here with the same rule as every other engine (`stops`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import ModelLoadError, ProposerError
from ..types import Completion, DecodingMethod, SamplingParams
from .model_ids import DEFAULT_MODEL_ID, load_error
from .stops import find_ending

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VLLMRequest:
    """Which `LLM` method to call (`generate` or `beam_search`) with which vLLM parameter object."""

    call: str
    params: Any


def vllm_request(params: SamplingParams, vllm: Any) -> VLLMRequest:
    """Map our decoding choice onto the installed vLLM's classes (pure; `vllm` is the imported module)."""
    stop = list(params.stop)
    if params.method is DecodingMethod.BEAM and params.n > 1:
        beam_cls = getattr(getattr(vllm, "sampling_params", None), "BeamSearchParams", None)
        if beam_cls is not None:
            return VLLMRequest(
                "beam_search",
                beam_cls(beam_width=params.n, max_tokens=params.max_new_tokens, temperature=0.0, length_penalty=1.0),
            )
        # vLLM < 0.6.3, which the paper's harness used: beam search is a flag of SamplingParams
        return VLLMRequest(
            "generate",
            vllm.SamplingParams(
                n=params.n, best_of=params.n, use_beam_search=True, temperature=0.0, top_p=1.0,
                max_tokens=params.max_new_tokens, stop=stop, logprobs=0,
            ),
        )
    if params.method is DecodingMethod.SAMPLE and params.temperature > 0.0:
        return VLLMRequest(
            "generate",
            vllm.SamplingParams(
                n=params.n, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_new_tokens,
                stop=stop, logprobs=0, seed=params.seed,
            ),
        )
    return VLLMRequest(
        "generate",
        vllm.SamplingParams(n=1, temperature=0.0, max_tokens=params.max_new_tokens, stop=stop, logprobs=0,
                            seed=params.seed),
    )


def _chosen_logprob(entry: Any, token_id: int) -> float:
    value = entry[token_id] if isinstance(entry, dict) else entry
    return float(getattr(value, "logprob", value))


def completion_from_output(output: Any) -> Completion:
    """A vLLM `CompletionOutput` (sampling / greedy) as a `Completion`; vLLM already cut the stop."""
    token_ids = list(output.token_ids)
    total = output.cumulative_logprob
    if total is None and output.logprobs:
        total = sum(_chosen_logprob(e, t) for e, t in zip(output.logprobs, token_ids))
    if total is None:
        raise ProposerError("vLLM returned no log-probs for a completion (it must be asked with logprobs=0)")
    return Completion(text=output.text, logprob_sum=float(total), num_tokens=len(token_ids))


def completion_from_beam(
    sequence: Any, prompt_len: int, decode: Any, stop: Sequence[str], eos_ids: set[int]
) -> Completion:
    """A beam (`BeamSearchSequence`, prompt tokens included) cut at the first stop string or EOS."""
    generated = list(sequence.tokens[prompt_len:])
    ending = find_ending(generated, decode, stop, eos_ids)
    per_token = list(getattr(sequence, "logprobs", None) or [])[-len(generated):] if generated else []
    if len(per_token) == len(generated):
        total = sum(_chosen_logprob(e, t) for e, t in zip(per_token[: ending.num_tokens], generated))
    else:  # no per-token log-probs: the whole beam's score is all there is
        total = float(sequence.cum_logprob)
    return Completion(text=ending.text, logprob_sum=float(total), num_tokens=ending.num_tokens)


class VLLMModel:
    """A `LanguageModel` running vLLM's `LLM` engine in this process (a worker thread does the calls)."""

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        dtype: str = "auto",
        *,
        max_model_len: int | None = None,
        seed: int = 0,
        lazy: bool = False,
        **engine_options: Any,
    ) -> None:
        if not 0.0 < gpu_memory_utilization <= 1.0:
            raise ModelLoadError(f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}")
        self.name = model_id
        self.model_id = model_id
        self.engine_options = dict(
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            dtype=dtype,
            seed=seed,
            **({"max_model_len": max_model_len} if max_model_len else {}),
            **engine_options,
        )
        # Every prompt starts with the same few-shot text: vLLM keeps its KV blocks and reuses them.
        self.engine_options.setdefault("enable_prefix_caching", True)
        self._vllm: Any = None
        self._llm: Any = None
        self._lock = asyncio.Lock()
        if not lazy:
            self.load()

    def load(self) -> None:
        if self._llm is not None:
            return
        try:
            import vllm
        except ImportError as exc:
            raise ModelLoadError(
                f"cannot load {self.model_id!r} with vLLM: vLLM is not installed "
                "(pip install 'llemma-prove[vllm]', on a machine with a CUDA GPU)"
            ) from exc
        try:
            self._llm = vllm.LLM(model=self.model_id, **self.engine_options)
        except Exception as exc:
            raise load_error(self.model_id, exc) from exc
        self._vllm = vllm

    @property
    def eos_token(self) -> str | None:
        self.load()
        return self._llm.get_tokenizer().eos_token

    async def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        async with self._lock:
            return await asyncio.to_thread(self.generate_blocking, list(prompts), params)

    def generate_blocking(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        self.load()
        tokenizer = self._llm.get_tokenizer()
        token_prompts = [{"prompt_token_ids": tokenizer.encode(p)} for p in prompts]
        request = vllm_request(params, self._vllm)
        if request.call == "beam_search":
            outputs = self._llm.beam_search(token_prompts, request.params)
            eos = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()

            def decode(ids: Sequence[int]) -> str:
                return tokenizer.decode(ids, skip_special_tokens=True)

            return [
                [completion_from_beam(s, len(tp["prompt_token_ids"]), decode, params.stop, eos) for s in out.sequences]
                for tp, out in zip(token_prompts, outputs)
            ]
        outputs = self._llm.generate(token_prompts, request.params, use_tqdm=False)
        return [[completion_from_output(o) for o in out.outputs] for out in outputs]

    async def close(self) -> None:
        async with self._lock:
            self._llm = None
