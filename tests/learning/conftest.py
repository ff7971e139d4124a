"""Fixtures for the learning tests: one tiny random Llama per session (a test double for LLEMMA)."""

from __future__ import annotations

import pytest

from tests.doubles.tiny_model import build_tiny_llama


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    pytest.importorskip("peft")
    pytest.importorskip("datasets")
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))
