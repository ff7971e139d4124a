"""Fixtures for the proposer tests: the tiny random Llama (built once per session) and models over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doubles.tiny_model import build_tiny_llama


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def tiny_model(tiny_model_dir):
    """A TransformersModel over the tiny model on CPU in float32 (one per test: it holds an asyncio lock)."""
    from llemma_prove.proposers.hf import TransformersModel

    return TransformersModel(str(tiny_model_dir), device="cpu", dtype="float32", max_batch_size=256)
