"""Models and prompts: next-tactic proposals from LLEMMA through transformers, vLLM or an HTTP server.

Knows nothing about provers. The heavy back ends (torch/transformers, vLLM, aiohttp) are imported only
when one is built, so importing this package stays cheap.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..interfaces import LanguageModel
from .batching import BatchingProposer, BatchStats
from .model_ids import DEFAULT_MODEL_ID
from .prompts import PromptTemplate, default_isabelle_template, default_lean4_template
from .tactic import TacticProposer

if TYPE_CHECKING:
    from .hf import TransformersModel
    from .openai_http import OpenAICompletionsModel
    from .vllm_engine import VLLMModel

MODEL_KINDS = ("hf", "vllm", "openai")

_LAZY = {
    "TransformersModel": ".hf",
    "OpenAICompletionsModel": ".openai_http",
    "VLLMModel": ".vllm_engine",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _model_class(kind: str) -> type:
    key = kind.lower()
    if key in ("hf", "transformers"):
        from .hf import TransformersModel

        return TransformersModel
    if key == "vllm":
        from .vllm_engine import VLLMModel

        return VLLMModel
    if key in ("openai", "http"):
        from .openai_http import OpenAICompletionsModel

        return OpenAICompletionsModel
    raise UserError(f"unknown model backend {kind!r} (choose {', '.join(MODEL_KINDS)})")


def _common_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Accept the CLI's vocabulary for every back end: `model_id`, `endpoint` (the server URL of the
    openai back end), `device` and `dtype`; options given as None mean "the back end's default"."""
    key = kind.lower()
    opts = {k: v for k, v in options.items() if v is not None}
    if key in ("openai", "http"):
        if "model_id" in opts:
            opts["model"] = opts.pop("model_id")
        if "endpoint" in opts:
            opts["base_url"] = opts.pop("endpoint")
        if "base_url" not in opts:
            raise UserError("the openai model backend needs the server's URL (--endpoint, e.g. http://localhost:8000/v1)")
        for local_only in ("device", "dtype"):
            if local_only in opts:
                raise UserError(f"{local_only} applies to local models (hf or vllm backend), not to a server")
        opts.setdefault("model", DEFAULT_MODEL_ID)
        return opts
    if "endpoint" in opts:
        raise UserError(f"an endpoint applies to the openai model backend only, not to {kind}")
    if key == "vllm" and "device" in opts:
        device = opts.pop("device")
        if device not in ("auto", "cuda"):
            raise UserError(f"the vllm backend runs on CUDA GPUs; use the hf backend for device {device!r}")
    return opts


def build_language_model(kind: str = "hf", **options: Any) -> LanguageModel:
    """A language model of the given back end: "hf" (transformers), "vllm" or "openai" (HTTP).

    `options` are the back end's constructor arguments, plus the shared names `model_id`, `endpoint`,
    `device` and `dtype`; a wrong or missing one is a `UserError`.
    """
    cls = _model_class(kind)
    options = _common_options(kind, options)
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        raise UserError(f"bad options for the {kind} model backend: {exc}") from None
    return cls(**options)


def model_from_settings(settings: Any) -> LanguageModel:
    """The model named by any settings object with the command-line fields `model`, `model_backend`,
    `endpoint`, `device` and `dtype` (unset ones left to the back end's defaults)."""
    options: dict[str, Any] = {"model_id": settings.model}
    for key in ("endpoint", "device", "dtype"):
        if getattr(settings, key, None) is not None:
            options[key] = getattr(settings, key)
    return build_language_model(settings.model_backend, **options)


def build_tactic_proposer(model: LanguageModel, prompt_file: str | Path | None = None) -> TacticProposer:
    """A next-tactic proposer with the prompt from `prompt_file`, or the project's default Lean 4 prompt."""
    template = PromptTemplate.load(prompt_file) if prompt_file is not None else default_lean4_template()
    return TacticProposer(model, template)


__all__ = [
    "DEFAULT_MODEL_ID",
    "MODEL_KINDS",
    "BatchStats",
    "BatchingProposer",
    "OpenAICompletionsModel",
    "PromptTemplate",
    "TacticProposer",
    "TransformersModel",
    "VLLMModel",
    "build_language_model",
    "build_tactic_proposer",
    "model_from_settings",
    "default_isabelle_template",
    "default_lean4_template",
]
