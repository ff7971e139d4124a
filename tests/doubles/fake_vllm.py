"""A stand-in for the `vllm` package, backed by a small transformers model: a test double.

Only what `llemma_prove.proposers.vllm_engine` uses is there, with vLLM's shapes: `vllm.LLM(model=...,
max_logprobs=..., ...)`, `LLM.get_tokenizer()`, `LLM.generate(prompts, params, use_tqdm=False)` returning
`RequestOutput`-like objects whose `outputs[0].logprobs` is a list (one entry per generated token) of
`{token_id: Logprob(logprob=...)}`, `vllm.SamplingParams`, and `vllm.sampling_params.BeamSearchParams`
(present since vLLM 0.6.3, which is what makes the engine use its own stop-aware loop).

Modelled on vLLM's `vllm/entrypoints/llm.py` (LLM.generate, LLM.beam_search), `vllm/outputs.py`
(RequestOutput, CompletionOutput), `vllm/sequence.py` (Logprob) and its input check that refuses
`logprobs` above the engine's `max_logprobs` (default 20) with a ValueError. As strict as vLLM where
it matters here: too many log-probs are refused, and anything but one greedy token per call (all this
double implements) is refused too. Never used by the product.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_LOGPROBS = 20  # vLLM's EngineArgs.max_logprobs default


@dataclass
class SamplingParams:
    n: int = 1
    best_of: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = 16
    stop: Any = None
    logprobs: int | None = None
    seed: int | None = None
    use_beam_search: bool = False

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}.")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}.")
        if self.logprobs is not None and self.logprobs < 0:
            raise ValueError(f"logprobs must be non-negative, got {self.logprobs}.")


@dataclass
class BeamSearchParams:
    beam_width: int
    max_tokens: int
    ignore_eos: bool = False
    temperature: float = 0.0
    length_penalty: float = 1.0


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput] = field(default_factory=list)


class LLM:
    """One greedy token per call, with the top `logprobs` next-token log-probs of the model."""

    def __init__(self, model: str, max_logprobs: int = DEFAULT_MAX_LOGPROBS, **engine_options: Any) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self.max_logprobs = max_logprobs
        self.engine_options = engine_options
        self._tokenizer = AutoTokenizer.from_pretrained(model)
        self._model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
        self.calls: list[int] = []  # sequences per generate call
        self._memo: dict[tuple[int, ...], Any] = {}  # next-token log-probs per sequence (keeps tests fast)

    def get_tokenizer(self) -> Any:
        return self._tokenizer

    def generate(self, prompts: list[dict], params: SamplingParams, use_tqdm: bool = True) -> list[RequestOutput]:
        if params.logprobs is not None and params.logprobs > self.max_logprobs:
            raise ValueError(f"Requested sample logprobs of {params.logprobs}, which is greater than max allowed: "
                             f"{self.max_logprobs}")
        if params.max_tokens != 1 or params.temperature != 0.0 or params.n != 1 or params.use_beam_search:
            raise NotImplementedError("the vLLM test double generates one greedy token per call only")
        torch = self._torch
        self.calls.append(len(prompts))
        outputs = []
        for prompt in prompts:
            ids = list(prompt["prompt_token_ids"])
            logp = self._memo.get(tuple(ids))
            if logp is None:
                with torch.no_grad():
                    logits = self._model(torch.tensor([ids])).logits[0, -1].float()
                logp = self._memo[tuple(ids)] = torch.log_softmax(logits, dim=-1)
            k = params.logprobs or 0
            top = torch.topk(logp, max(k, 1))
            chosen = int(top.indices[0])
            entry = {int(t): Logprob(float(v), rank=r + 1) for r, (v, t) in enumerate(zip(top.values, top.indices))}
            entry.setdefault(chosen, Logprob(float(logp[chosen]), rank=1))  # vLLM always adds the sampled token
            outputs.append(RequestOutput(ids, [CompletionOutput(0, self._tokenizer.decode([chosen]), [chosen],
                                                                float(logp[chosen]), [entry] if k else None)]))
        return outputs


def fake_vllm_module() -> types.ModuleType:
    module = types.ModuleType("vllm")
    module.LLM = LLM
    module.SamplingParams = SamplingParams
    module.sampling_params = types.SimpleNamespace(BeamSearchParams=BeamSearchParams, SamplingParams=SamplingParams)
    return module
