"""Which model to load by default, and the one-line message when a model cannot be loaded."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelLoadError

DEFAULT_MODEL_ID = "EleutherAI/llemma_7b"


def hub_offline() -> bool:
    """Whether the Hugging Face Hub is in offline mode (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return any(os.environ.get(v, "") not in ("", "0", "false") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def load_error(model_id: str, exc: BaseException) -> ModelLoadError:
    """A one-line message that names the model and says what to do about it."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    path = Path(model_id).expanduser()
    if path.exists():
        return ModelLoadError(
            f"cannot load model from {path}: {reason} (a model directory needs config.json, the weights and the "
            "tokenizer files that `save_pretrained` writes)"
        )
    if model_id.startswith(("/", "./", "../", "~")) or model_id.count("/") > 1:
        return ModelLoadError(f"cannot load model {model_id!r}: no such directory")
    if hub_offline():
        return ModelLoadError(
            f"cannot load model {model_id!r}: it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set; "
            f"run `huggingface-cli download {model_id}` where there is network, or pass a local directory"
        )
    return ModelLoadError(
        f"cannot load model {model_id!r} ({reason}); check the id and the network, or download it first with "
        f"`huggingface-cli download {model_id}` and set HF_HUB_OFFLINE=1"
    )
