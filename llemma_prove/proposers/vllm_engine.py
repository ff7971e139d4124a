"""LLEMMA in an in-process vLLM engine (extra `vllm`; needs a CUDA GPU).

Kept small on purpose: `vllm_request` maps our `SamplingParams` onto vLLM's own parameter classes
(`SamplingParams` for sampling and greedy), and the outputs become `Completion`s. Beam search ends each
beam at the stop string during the search, as the paper's vLLM 0.1.7 did (`use_beam_search=True` with
`stop`): on vLLM < 0.6.3 that is vLLM's own beam search; on later versions, whose `LLM.beam_search`
takes no stop strings, it is the project's loop over vLLM's next-token log-probs (`beam`), which is
vLLM's own loop with the stop added. Without stop strings, vLLM's `beam_search` is used as is.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import ModelLoadError, ProposerError
from ..types import Completion, DecodingMethod, SamplingParams
from ..waits import queued_for
from .beam import stop_aware_beam_search
from .model_ids import DEFAULT_MODEL_ID, load_error
from .stops import find_ending

# Next-token log-probs a beam step asks for (vLLM's loop asks for 2 x width); vLLM refuses more than the
# engine's `max_logprobs` (default 20), so the engine is built with room for the paper's 32 beams.
DEFAULT_MAX_LOGPROBS = 64

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
        if beam_cls is not None and any(stop):
            # One token per call with the top 2 x width log-probs: the step of `beam.stop_aware_beam_search`.
            return VLLMRequest(
                "stop_aware_beam",
                vllm.SamplingParams(n=1, temperature=0.0, max_tokens=1, logprobs=2 * params.n),
            )
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
            max_logprobs=DEFAULT_MAX_LOGPROBS,
            **({"max_model_len": max_model_len} if max_model_len else {}),
            **engine_options,
        )
        # Every prompt starts with the same few-shot text: vLLM keeps its KV blocks and reuses them.
        self.engine_options.setdefault("enable_prefix_caching", True)
        self._vllm: Any = None
        self._llm: Any = None
        self._lock = asyncio.Lock()
        self._cancel_beams = False
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
        async with queued_for(self._lock):
            work = asyncio.ensure_future(asyncio.to_thread(self.generate_blocking, list(prompts), params))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                # The caller gave up; the engine stays locked until the worker thread has let go of it.
                self._cancel_beams = True
                await asyncio.gather(work, return_exceptions=True)
                raise
            finally:
                self._cancel_beams = False

    def generate_blocking(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        self.load()
        tokenizer = self._llm.get_tokenizer()
        token_prompts = [{"prompt_token_ids": tokenizer.encode(p)} for p in prompts]
        request = vllm_request(params, self._vllm)
        if request.call == "stop_aware_beam":
            return self._stop_aware_beams(token_prompts, params, request.params, tokenizer)
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

    def _stop_aware_beams(self, token_prompts: list[dict], params: SamplingParams, step: Any, tokenizer: Any
                          ) -> list[list[Completion]]:
        def next_logprobs(sequences: list[list[int]]) -> list[dict[int, float]]:
            if self._cancel_beams:  # the caller was interrupted: stop between beam steps
                raise ProposerError("beam search was cancelled")
            outputs = self._llm.generate([{"prompt_token_ids": s} for s in sequences], step, use_tqdm=False)
            answers = []
            for out in outputs:
                entries = out.outputs[0].logprobs
                if not entries:
                    raise ProposerError("vLLM returned no log-probs for a beam step (asked with logprobs=2 x width)")
                answers.append({int(t): _chosen_logprob(v, int(t)) for t, v in entries[0].items()})
            return answers

        eos = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
        beams = stop_aware_beam_search(
            next_logprobs, [tp["prompt_token_ids"] for tp in token_prompts], params.n, params.max_new_tokens,
            params.stop, eos, lambda ids: tokenizer.decode(ids, skip_special_tokens=True),
        )
        return [
            [Completion(text=b.ending.text, logprob_sum=b.cum_logprob, num_tokens=b.ending.num_tokens)
             for b in group if b.ending is not None]
            for group in beams
        ]

    async def close(self) -> None:
        async with self._lock:
            self._llm = None
