"""The whole-theory check through `isabelle server` (a stand-in executable speaking its protocol)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from llemma_prove.errors import ProverUnavailable
from llemma_prove.provers.isabelle.official import IsabelleServerChecker, theory_errors
from llemma_prove.types import Proof, Verdict
from tests.doubles.fake_pisa import closes

from .conftest import ROOT_STATE, prover_on_fake, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

FAKE_SERVER = Path(__file__).with_name("fake_isabelle_server.py")


def install_fake_isabelle(home: Path) -> None:
    exe = home / "bin" / "isabelle"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text(f"#!{sys.executable}\n" + FAKE_SERVER.read_text())
    exe.chmod(0o755)


def test_errors_are_read_from_a_use_theories_reply() -> None:
    body = {
        "ok": False,
        "errors": [],
        "nodes": [{"theory_name": "Draft.t", "status": {"ok": False, "failed": 1}, "messages": [
            {"kind": "writeln", "message": "fine"}, {"kind": "error", "message": "Failed to finish proof"}]}],
    }
    assert theory_errors(body) == ["Failed to finish proof"]
    assert theory_errors({"ok": True, "errors": [], "nodes": [{"status": {"ok": True}, "messages": []}]}) == []
    assert theory_errors("garbage")[0].startswith("unexpected")


async def test_the_official_check_can_reject_what_pisa_accepted(context_files) -> None:
    assert context_files.isabelle_home is not None
    install_fake_isabelle(context_files.isabelle_home)
    options = replace(context_files, official_check=True, extra_env={"FAKE_ISABELLE_REJECT": "by auto"})
    script = toy_script()
    script.add(ROOT_STATE, "by simp", closes())
    script.add(ROOT_STATE, "by auto", closes())
    async with prover_on_fake(script, options) as (prover, fake):
        assert isinstance(prover.official, IsabelleServerChecker)
        good = await prover.verify(toy_theorem(), Proof(("by simp",)))
        assert good.verdict is Verdict.ACCEPTED, good.reason
        assert good.details["isabelle_server"] == "accepted"
        bad = await prover.verify(toy_theorem(), Proof(("by auto",)))
        assert bad.verdict is Verdict.REJECTED
        assert bad.reason.startswith("Isabelle server: Failed to finish proof")
        assert bad.details["pisa_replay"] == "ok"
    # prover.close() stopped the `isabelle server` child (checked by no_leftover_children)


async def test_without_isabelle_client_installed_the_check_says_what_to_install(context_files, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_client(name, *args, **kwargs):
        if name == "isabelle_client":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_client)
    checker = IsabelleServerChecker(context_files)
    with pytest.raises(ProverUnavailable, match="pip install"):
        await checker.start()
    await checker.close()
