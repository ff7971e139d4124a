"""LLEMMA (or any causal LM) through Hugging Face transformers: batched beam search and sampling.

One `generate` call decodes many prompts at once (left padding). Scores are the model's own log-probs
of the kept tokens (see `stops`), computed in a second, exact forward pass that reuses one prefill per
prompt: beam scores of `transformers` are length-penalised and sampling scores come from the warped
distribution, so neither is the raw log-prob the search ranks by. The blocking torch work runs in a
worker thread behind a lock so the event loop keeps serving prover steps meanwhile.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import inspect
import logging
import threading
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import transformers
from transformers import StoppingCriteria, StoppingCriteriaList

from ..errors import ModelLoadError, ProposerError
from ..types import Completion, DecodingMethod, SamplingParams
from ..waits import queued_for
from .model_ids import DEFAULT_MODEL_ID, load_error
from .kv_cache import length_buckets, run_in_groups, segmented_cache, supports_segments, use_shared_prompt_attention
from .prefix_cache import PrefixCache
from .stops import Ending, find_ending

log = logging.getLogger(__name__)

DTYPE_NAMES = ("auto", "bfloat16", "float16", "float32")
# Largest number of logit values (rows x tokens x vocabulary) the scoring pass holds at once.
SCORING_LOGITS_BUDGET = 1 << 27


def resolve_device(device: str) -> str:
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if device == "cpu" or device == "mps":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ModelLoadError(f"device {device!r} was asked for but PyTorch sees no CUDA GPU; use --device cpu")
        return device
    raise ModelLoadError(f"unknown device {device!r} (choose auto, cpu, cuda, cuda:N or mps)")


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype not in DTYPE_NAMES:
        raise ModelLoadError(f"unknown dtype {dtype!r} (choose {', '.join(DTYPE_NAMES)})")
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, dtype)


def _dtype_kwarg(dtype: torch.dtype) -> dict[str, Any]:
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


class TransformersModel:
    """A `LanguageModel` backed by `transformers` `generate`.

    `max_batch_size` caps the sequences decoded at once (prompts x beams or samples); a call with more is
    split into several passes. Loading happens in the constructor unless `lazy=True`. With
    `share_prefill` (the default) each prompt is run through the model once and its KV cache copied to
    its beams or samples, instead of once per beam as `generate` alone would. With `prefix_cache` (the
    default, needs `share_prefill`) a prefix declared by `declare_prefix` (the few-shot prompt) is
    encoded once per model and reused by every request (see `prefix_cache`).
    """

    def __init__(
        self,
        model_id: str = DEFAULT_MODEL_ID,
        device: str = "auto",
        dtype: str = "auto",
        max_batch_size: int = 64,
        *,
        revision: str | None = None,
        trust_remote_code: bool = False,
        length_penalty: float = 1.0,
        share_prefill: bool = True,
        prefix_cache: bool = True,
        lazy: bool = False,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if dtype not in DTYPE_NAMES:
            raise ModelLoadError(f"unknown dtype {dtype!r} (choose {', '.join(DTYPE_NAMES)})")
        self.name = model_id
        self.model_id = model_id
        self.device_request = device
        self.dtype_request = dtype
        self.max_batch_size = max_batch_size
        self.revision = revision
        self.trust_remote_code = trust_remote_code
        self.length_penalty = length_penalty
        self.share_prefill = share_prefill
        self.prefixes = PrefixCache() if prefix_cache and share_prefill else None
        self._model: Any = None
        self._tokenizer: Any = None
        self._device = "cpu"
        self._eos_ids: frozenset[int] = frozenset()
        self._cache_kwarg = "past_key_values"
        self._segments = False  # prompts' keys shared by their beams, not copied (see kv_cache)
        self._lock = asyncio.Lock()
        if not lazy:
            self.load()

    # ----------------------------------------------------------------------------------------- loading
    def load(self) -> None:
        """Load tokenizer and weights (idempotent); raises `ModelLoadError` naming the model."""
        if self._model is not None:
            return
        device = resolve_device(self.device_request)
        dtype = resolve_dtype(self.dtype_request, device)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                self.model_id, revision=self.revision, trust_remote_code=self.trust_remote_code
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                self.model_id, revision=self.revision, trust_remote_code=self.trust_remote_code, **_dtype_kwarg(dtype)
            )
        except ModelLoadError:
            raise
        except Exception as exc:  # OSError, HF validation errors, bad configs: all mean "cannot load"
            raise load_error(self.model_id, exc) from exc
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:  # Llama tokenizers have none; any id works, padded slots are masked
            tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
        model.to(device)
        model.eval()
        eos: set[int] = set()
        for source in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
            if isinstance(source, int):
                eos.add(source)
            elif isinstance(source, (list, tuple)):
                eos.update(int(x) for x in source)
        self._model, self._tokenizer, self._device, self._eos_ids = model, tokenizer, device, frozenset(eos)
        self._segments = self.share_prefill and use_shared_prompt_attention(model)
        # transformers 5 renamed the forward argument `past_key_values` to `cache`
        self._cache_kwarg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        log.info("loaded %s on %s (%s)", self.model_id, device, dtype)

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` as a prompt (for prompt-length guards against `context_window`)."""
        return len(self.tokenizer(text)["input_ids"])

    def context_window(self) -> int | None:
        """The model's context length in tokens, from its configuration (None when it names none)."""
        self.load()
        value = getattr(self._model.config, "max_position_embeddings", None)
        return int(value) if isinstance(value, int) and value > 0 else None

    @property
    def eos_token(self) -> str | None:
        """The EOS token's text, which proposers remove from completions (the paper's harness does)."""
        return self.tokenizer.eos_token

    def declare_prefix(self, text: str) -> None:
        """Text that prompts will start with (the few-shot examples): its KV cache is computed once."""
        if self.prefixes is not None:
            self.prefixes.declare(text)

    # -------------------------------------------------------------------------------------- generation
    async def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        async with queued_for(self._lock):
            cancel = threading.Event()
            work = asyncio.ensure_future(asyncio.to_thread(self._generate_completions, list(prompts), params, cancel))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                # The caller gave up (a theorem's hard clock): stop decoding at the next token and keep the
                # model locked until the worker thread has let go of it.
                cancel.set()
                await asyncio.gather(work, return_exceptions=True)
                raise

    def _generate_completions(self, prompts: list[str], params: SamplingParams, cancel: threading.Event
                              ) -> list[list[Completion]]:
        return [[seq.completion for seq in group] for group in self.generate_sequences(prompts, params, cancel)]

    def generate_blocking(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        """The synchronous work of `generate` (also handy in scripts without an event loop)."""
        return [[seq.completion for seq in group] for group in self.generate_sequences(prompts, params)]

    def generate_sequences(self, prompts: list[str], params: SamplingParams,
                           cancel: threading.Event | None = None) -> list[list["GeneratedSequence"]]:
        """Like `generate_blocking`, keeping the kept token ids of every sequence."""
        self.load()
        per_prompt = sequences_per_prompt(params)
        prompts_per_pass = max(1, self.max_batch_size // per_prompt)
        out: list[list[GeneratedSequence]] = []
        try:
            with torch.inference_mode():
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                for start in range(0, len(prompts), prompts_per_pass):
                    if cancel is not None and cancel.is_set():
                        raise ProposerError("generation was cancelled")
                    out.extend(self._generate_pass(prompts[start : start + prompts_per_pass], params, per_prompt,
                                                   cancel))
        except torch.cuda.OutOfMemoryError as exc:
            raise ProposerError(
                f"{self.model_id} ran out of GPU memory decoding {min(len(prompts), prompts_per_pass) * per_prompt} "
                f"sequences at once; lower max_batch_size (now {self.max_batch_size})"
            ) from exc
        return out

    def _generate_pass(self, prompts: list[str], params: SamplingParams, per_prompt: int,
                       cancel: threading.Event | None = None) -> list[list["GeneratedSequence"]]:
        tok, model = self._tokenizer, self._model
        enc = tok(prompts, return_tensors="pt", padding=True)
        input_ids = enc["input_ids"].to(self._device)
        attention_mask = enc["attention_mask"].to(self._device)
        prepared = self._reuse_prefix(prompts) if self.prefixes is not None else None
        if prepared is not None:  # [shared prefix][padding][rest], the prefix's cache reused
            input_ids, attention_mask = prepared.input_ids, prepared.attention_mask
        prompt_width = input_ids.shape[1]
        criteria = StoppingCriteriaList()
        if any(params.stop):
            criteria.append(StopStringCriteria(tok, prompt_width, params.stop))
        if cancel is not None:
            criteria.append(CancelCriteria(cancel))
        # `generate` would run the prompt once per beam or sample; run it once per prompt instead and
        # hand generate a copy of that cache expanded to every sequence.
        if prepared is not None:
            prefix = prepared.cache
        else:
            prefix = self._prefill_grouped(input_ids[:, :-1], attention_mask[:, :-1]) if self.share_prefill else None
        cache_kwargs = {}
        if prefix is not None:
            cache_kwargs[self._cache_kwarg] = self._sequence_cache(prefix, 0, len(prompts), per_prompt,
                                                                   room=params.max_new_tokens + 1, keep=True)
        sequences = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=params.max_new_tokens,
            stopping_criteria=criteria,
            pad_token_id=tok.pad_token_id,
            eos_token_id=sorted(self._eos_ids) or None,
            **decoding_kwargs(params, self.length_penalty),
            **cache_kwargs,
        )
        if cancel is not None and cancel.is_set():  # stopped early: the caller gave up, skip the scoring
            raise ProposerError("generation was cancelled")
        generated = sequences[:, prompt_width:].tolist()
        if len(generated) != len(prompts) * per_prompt:
            raise ProposerError(f"expected {len(prompts) * per_prompt} sequences from generate, got {len(generated)}")

        def decode(ids: Sequence[int]) -> str:
            return tok.decode(ids, skip_special_tokens=True)

        endings = [find_ending(row, decode, params.stop, self._eos_ids) for row in generated]
        kept = [row[: e.num_tokens] for row, e in zip(generated, endings)]
        token_lps = self.token_logprobs(input_ids, attention_mask, kept, per_prompt, prefix)
        seqs = [GeneratedSequence(tuple(k), e, tuple(lp)) for k, e, lp in zip(kept, endings, token_lps)]
        return [seqs[i * per_prompt : (i + 1) * per_prompt] for i in range(len(prompts))]

    def _reuse_prefix(self, prompts: list[str]) -> Any:
        assert self.prefixes is not None

        def run(ids: torch.Tensor, mask: torch.Tensor | None, positions: torch.Tensor | None, cache: Any) -> Any:
            kwargs = {self._cache_kwarg: cache} if cache is not None else {}
            out = self._model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                              logits_to_keep=1, **kwargs)
            return out["cache"] if "cache" in out else out["past_key_values"]

        return self.prefixes.prepare(
            self._tokenizer, prompts,
            encode=lambda ids: run(ids, None, None, None),
            extend=lambda cache, ids, mask, positions: run(ids, mask, positions, cache),
            device=self._device,
            segments=self._segments,
        )

    def _prefill(self, ids: torch.Tensor, mask: torch.Tensor) -> Any:
        """The KV cache of a left-padded batch (None for an empty prefix)."""
        if ids.shape[1] == 0:
            return None
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        out = self._model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
        return out["cache"] if "cache" in out else out["past_key_values"]

    def _prefill_grouped(self, ids: torch.Tensor, mask: torch.Tensor) -> Any:
        """`_prefill` in groups of prompts of similar length when the segmented cache can stack them:
        the same cache, without running the padding of short prompts up to the longest one."""
        lengths = [int(n) for n in mask.sum(-1).tolist()]
        buckets = length_buckets(lengths)
        if not self._segments or len(buckets) == 1 or ids.shape[1] == 0:
            return self._prefill(ids, mask)
        return run_in_groups(lengths, ids.shape[1], lambda rows, span: self._prefill(
            ids[rows.to(ids.device)][:, -span:], mask[rows.to(ids.device)][:, -span:]))

    def _sequence_cache(self, prompt_cache: Any, start: int, stop: int, per_prompt: int, room: int, keep: bool
                        ) -> Any:
        """A cache for per_prompt sequences of each prompt row start..stop-1 of `prompt_cache`, which is
        left intact when `keep` (it may be consumed otherwise)."""
        if self._segments and supports_segments(prompt_cache):
            return segmented_cache(prompt_cache, per_prompt, room, start, stop)
        return self._expand(copy.deepcopy(prompt_cache) if keep else prompt_cache, start, stop, per_prompt)

    def _expand(self, cache: Any, start: int, stop: int, per_prompt: int) -> Any:
        """Keep prompt rows start..stop-1 of `cache`, each repeated per_prompt times (in place)."""
        if cache is not None:
            rows = torch.arange(start, stop, device=self._device).repeat_interleave(per_prompt)
            cache.reorder_cache(rows)
        return cache

    def token_logprobs(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        continuations: list[list[int]],
        per_prompt: int,
        prefix: Any = None,
    ) -> list[list[float]]:
        """The model's log-prob of every token of each continuation given its prompt (prompt row i owns
        continuations i*per_prompt ... i*per_prompt+per_prompt-1). `prefix` is the KV cache of all
        prompt tokens but the last (computed here when not given): the prompt is never run per sequence."""
        if not continuations:
            return []
        if prefix is None:
            prefix = self._prefill(input_ids[:, :-1], attention_mask[:, :-1])
        vocab = self._model.get_output_embeddings().weight.shape[0]
        longest = max(len(c) for c in continuations) or 1
        prompts_per_group = max(1, SCORING_LOGITS_BUDGET // (per_prompt * longest * vocab))
        count = input_ids.shape[0]
        out: list[list[float]] = []
        for g in range(0, count, prompts_per_group):
            end = min(count, g + prompts_per_group)
            cache = self._sequence_cache(prefix, g, end, per_prompt, room=longest + 1, keep=end < count)
            rows = continuations[g * per_prompt : end * per_prompt]
            table = self._score_group(input_ids[g:end], attention_mask[g:end], rows, per_prompt, cache).tolist()
            out.extend(values[: len(row)] for values, row in zip(table, rows))
        return out

    def _score_group(self, ids, mask, rows: list[list[int]], per_prompt: int, cache: Any) -> torch.Tensor:
        """Feed [last prompt token, continuation minus its last token] on top of the prompt cache; the
        logits at each place give the log-prob of the next continuation token."""
        device = self._device
        width = max(max(len(r) for r in rows), 1)
        gen = torch.full((len(rows), width), self._tokenizer.pad_token_id, dtype=torch.long, device=device)
        gen_mask = torch.zeros((len(rows), width), dtype=mask.dtype, device=device)
        for i, r in enumerate(rows):
            gen[i, : len(r)] = torch.tensor(r, dtype=torch.long, device=device)
            gen_mask[i, : len(r)] = 1
        prompt_mask = mask.repeat_interleave(per_prompt, dim=0)
        last = ids[:, -1:].repeat_interleave(per_prompt, dim=0)
        prompt_len = prompt_mask.long().sum(-1, keepdim=True)
        positions = prompt_len - 1 + torch.arange(width, device=device)[None, :]
        kwargs = {self._cache_kwarg: cache} if cache is not None else {}
        out = self._model(
            input_ids=torch.cat([last, gen[:, :-1]], dim=1),
            attention_mask=torch.cat([prompt_mask, gen_mask[:, :-1]], dim=1),
            position_ids=positions,
            use_cache=cache is not None,
            **kwargs,
        )
        logp = torch.log_softmax(out.logits.float(), dim=-1)
        return logp.gather(2, gen[:, :, None]).squeeze(2) * gen_mask

    async def close(self) -> None:
        async with self._lock:
            model, self._model = self._model, None
            del model
            if self.prefixes is not None:
                self.prefixes.clear()
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def sequences_per_prompt(params: SamplingParams) -> int:
    """Greedy decoding (and sampling at temperature 0) has one answer; beams and samples have n."""
    if params.method is DecodingMethod.GREEDY:
        return 1
    if params.method is DecodingMethod.SAMPLE and params.temperature == 0.0:
        return 1
    return params.n


def decoding_kwargs(params: SamplingParams, length_penalty: float = 1.0) -> dict[str, Any]:
    """Our decoding choice as `generate` arguments; every knob is explicit so a model's own
    generation_config (say, top_k=50) cannot change the method behind our back."""
    n = sequences_per_prompt(params)
    if params.method is DecodingMethod.BEAM and n > 1:
        return dict(
            do_sample=False, num_beams=n, num_return_sequences=n, length_penalty=length_penalty, early_stopping=False
        )
    if params.method is not DecodingMethod.SAMPLE or params.temperature == 0.0:
        return dict(do_sample=False, num_beams=1, num_return_sequences=1)
    return dict(
        do_sample=True,
        num_beams=1,
        num_return_sequences=n,
        temperature=params.temperature,
        top_p=params.top_p,
        top_k=0,
    )


@dataclass(frozen=True)
class GeneratedSequence:
    """One decoded sequence: the kept token ids (prompt excluded), where and why it ended, its score."""

    token_ids: tuple[int, ...]
    ending: Ending
    token_logprobs: tuple[float, ...]

    @property
    def logprob_sum(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def completion(self) -> Completion:
        return Completion(text=self.ending.text, logprob_sum=self.logprob_sum, num_tokens=self.ending.num_tokens)


class CancelCriteria(StoppingCriteria):
    """Ends every sequence once `event` is set: how an interrupted caller stops a `generate` in a thread."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class StopStringCriteria(StoppingCriteria):
    """Marks a sequence finished once its generated text holds a stop string.

    Only the last few tokens are decoded each step (enough to contain any stop string), so the cost does
    not grow with the generated length. Works per row, so finished beams leave the beam search early.
    """

    def __init__(self, tokenizer: Any, prompt_width: int, stop: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.prompt_width = prompt_width
        self.stop = tuple(s for s in stop if s)
        # A token holds at least one byte, so a stop string of b bytes spans at most b tokens (+1 for a
        # token that straddles its start).
        self.window = max(len(s.encode("utf-8")) for s in self.stop) + 1
        # A fast tokenizer's own batch decoder gives the same text as `batch_decode` without its
        # per-element conversions (a sizeable share of a small model's decoding step); with
        # clean-up of spaces on, `batch_decode` post-processes the text, so it is kept.
        backend = getattr(tokenizer, "_tokenizer", None)
        plain = not getattr(tokenizer, "clean_up_tokenization_spaces", False)
        self._decode_batch = (
            (lambda rows: backend.decode_batch(rows, skip_special_tokens=True))
            if plain and hasattr(backend, "decode_batch")
            else (lambda rows: tokenizer.batch_decode(rows, skip_special_tokens=True))
        )

    def __call__(self, input_ids: torch.Tensor, scores: Any = None, **kwargs: Any) -> torch.Tensor:
        generated = input_ids[:, self.prompt_width :]
        if generated.shape[1] == 0:
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        tails = self._decode_batch(generated[:, -self.window :].tolist())
        done = [any(s in t for s in self.stop) for t in tails]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)
