"""The real `DefaultBackends` with a tiny randomly initialised model (test double for LLEMMA, built in
the test): the model is loaded once and serves every request and both languages."""

from __future__ import annotations

import pytest

from llemma_prove.editor.backends import DefaultBackends, EditorConfig, load_backends
from llemma_prove.errors import UserError
from llemma_prove.types import GoalState, Language, ProposalRequest, Theorem


async def test_model_loaded_once_and_reused(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("tokenizers")
    from llemma_prove import proposers
    from tests.doubles.tiny_model import build_tiny_llama

    directory = build_tiny_llama(tmp_path / "tiny")
    builds = []
    real_build = proposers.build_language_model

    def counting_build(kind, **options):
        builds.append((kind, options))
        return real_build(kind, **options)

    monkeypatch.setattr(proposers, "build_language_model", counting_build)
    config = EditorConfig(model=str(directory), device="cpu", dtype="float32", candidates=2, max_new_tokens=6)
    backends = DefaultBackends(config)
    try:
        lean = await backends.proposer(Language.LEAN4)
        assert await backends.proposer(Language.LEAN4) is lean
        await backends.proposer(Language.ISABELLE)
        assert builds == [("hf", {"model_id": str(directory), "device": "cpu", "dtype": "float32"})]
        request = ProposalRequest(Theorem("t", "theorem t : True := by sorry"), GoalState("⊢ True"))
        (candidates,) = await lean.propose([request], config.search_config().sampling)
        assert len(candidates) == 2 and all(c.score <= 0 for c in candidates)
    finally:
        await backends.close()


def test_an_unknown_backends_plugin_is_a_user_error_naming_the_installed_ones():
    with pytest.raises(UserError, match=r"unknown editor backends 'nowhere' \(installed: .*test-cli"):
        load_backends(EditorConfig(backends="nowhere"))
