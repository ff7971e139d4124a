"""Building models and proposers by name, as the CLI does."""

from __future__ import annotations

import json

import pytest

from llemma_prove.errors import DataError, UserError
from llemma_prove.interfaces import LanguageModel
from llemma_prove.proposers import (
    DEFAULT_MODEL_ID,
    OpenAICompletionsModel,
    TacticProposer,
    TransformersModel,
    build_language_model,
    build_tactic_proposer,
)


def test_default_model_is_llemma_7b():
    assert DEFAULT_MODEL_ID == "EleutherAI/llemma_7b"


def test_builds_the_transformers_model(tiny_model_dir):
    model = build_language_model("hf", model_id=str(tiny_model_dir), device="cpu", dtype="float32")
    assert isinstance(model, TransformersModel) and isinstance(model, LanguageModel)


async def test_builds_the_http_model_without_connecting():
    model = build_language_model("openai", base_url="http://127.0.0.1:9", model="llemma")
    assert isinstance(model, OpenAICompletionsModel) and isinstance(model, LanguageModel)
    await model.close()


async def test_the_cli_vocabulary_works_for_every_backend(tiny_model_dir):
    """The CLI passes model_id / endpoint / device / dtype whatever the backend."""
    http = build_language_model("openai", model_id="llemma", endpoint="http://127.0.0.1:9/v1", device=None)
    assert (http.name, http.endpoint) == ("llemma", "http://127.0.0.1:9/v1/completions")
    await http.close()
    local = build_language_model("hf", model_id=str(tiny_model_dir), endpoint=None, device="cpu", dtype=None)
    assert isinstance(local, TransformersModel)


def test_unknown_backend_and_bad_options_are_user_errors():
    with pytest.raises(UserError, match="unknown model backend 'gpt'"):
        build_language_model("gpt")
    with pytest.raises(UserError, match="needs the server's URL"):
        build_language_model("openai", model="llemma")
    with pytest.raises(UserError, match="bad options for the openai model backend"):
        build_language_model("openai", base_url="http://127.0.0.1:9", beams=4)
    with pytest.raises(UserError, match="dtype applies to local models"):
        build_language_model("openai", endpoint="http://127.0.0.1:9", dtype="bfloat16")
    with pytest.raises(UserError, match="endpoint applies to the openai model backend only"):
        build_language_model("hf", model_id="x", endpoint="http://127.0.0.1:9")
    with pytest.raises(UserError, match="vllm backend runs on CUDA GPUs"):
        build_language_model("vllm", model_id="x", device="cpu")
    with pytest.raises(UserError, match="bad options for the hf model backend"):
        build_language_model("hf", model_id="x", beams=4)


def test_tactic_proposer_with_default_or_file_prompt(tmp_path, tiny_model):
    assert build_tactic_proposer(tiny_model).template.name == "lean4_next_tactic"
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"examples": [{"tactic_state": "⊢ True", "next_tactic": "trivial"}]}))
    proposer = build_tactic_proposer(tiny_model, path)
    assert isinstance(proposer, TacticProposer) and proposer.template.name == "mine"
    with pytest.raises(DataError):
        build_tactic_proposer(tiny_model, tmp_path / "missing.json")
