"""Providers as plug-ins: the built-ins are published as entry points exactly as the registry's fallback
table says, every name resolves to a plug-in of the right kind, unknown or broken names are one-line
user errors, and `doctor` lists what is registered (the test stand-ins come from tests/plugin_dist)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from llemma_prove import plugins
from llemma_prove.errors import UserError
from llemma_prove.types import Language

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_publishes_the_builtin_plugins_the_registry_falls_back_to():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    published = project["entry-points"]
    for group in (plugins.PROVERS, plugins.PROPOSERS, plugins.EDITOR_BACKENDS):
        assert published[group] == plugins.BUILTIN[group]


@pytest.mark.parametrize("name, language, lean_project", [
    ("lean", Language.LEAN4, True), ("dojo", Language.LEAN4, True), ("isabelle", Language.ISABELLE, False)])
def test_builtin_provers(name, language, lean_project):
    plugin = plugins.prover_plugin(name)
    assert isinstance(plugin, plugins.ProverPlugin) and plugin.name == name
    assert plugin.language is language and plugin.uses_lean_project is lean_project and plugin.preflight


@pytest.mark.parametrize("name, remote", [("hf", False), ("vllm", False), ("openai", True)])
def test_builtin_model_backends(name, remote):
    plugin = plugins.proposer_plugin(name)
    assert plugin.name == name and plugin.remote is remote and plugin.build_model is not None


def test_the_test_distribution_is_found_through_entry_points():
    sources = plugins.sources(plugins.PROVERS)
    assert sources["test-doubles"] == "tests.runner.cli_doubles:PROVER (llemma-prove-test-doubles)"
    assert "test-lsp" in plugins.names(plugins.EDITOR_BACKENDS)
    from tests.runner.cli_doubles import PROVER

    assert plugins.prover_plugin("test-doubles") is PROVER


def test_unknown_names_are_user_errors_naming_the_installed_ones():
    with pytest.raises(UserError, match=r"unknown --prover 'coq' \(installed: .*dojo, isabelle, .*lean"):
        plugins.prover_plugin("coq")
    with pytest.raises(UserError, match=r"unknown --model-backend 'tgi' \(installed: .*hf, .*openai"):
        plugins.proposer_plugin("tgi")


def test_a_broken_or_wrong_entry_point_is_a_user_error(monkeypatch):
    real = metadata.entry_points

    def with_extra(**kwargs):
        found = list(real(**kwargs))
        if kwargs.get("group") == plugins.PROVERS:
            found += [metadata.EntryPoint("broken", "no_such_module_anywhere:X", plugins.PROVERS),
                      metadata.EntryPoint("wrong", "llemma_prove.builtin_plugins:HF", plugins.PROVERS)]
        return found

    monkeypatch.setattr(metadata, "entry_points", with_extra)
    with pytest.raises(UserError, match="--prover 'broken' cannot be loaded from no_such_module_anywhere:X"):
        plugins.prover_plugin("broken")
    with pytest.raises(UserError, match="--prover 'wrong' .* is not a ProverPlugin"):
        plugins.prover_plugin("wrong")


def test_registered_in_process_shadows_and_is_undone():
    mine = plugins.ProverPlugin("lean", lambda spec, theorems, search: None)
    with plugins.registered(plugins.PROVERS, mine):
        assert plugins.prover_plugin("lean") is mine
        assert plugins.sources(plugins.PROVERS)["lean"] == "registered in this process"
    assert plugins.prover_plugin("lean") is not mine
    with pytest.raises(TypeError):
        plugins.register(plugins.PROPOSERS, mine)  # a prover is not a model backend


def test_a_model_backend_gives_a_model_or_a_proposer_not_both():
    with pytest.raises(ValueError, match="exactly one"):
        plugins.ProposerPlugin("x")


def test_doctor_lists_every_registered_plugin():
    from llemma_prove.doctor import plugin_checks

    names = {check.name: check.detail for check in plugin_checks()}
    for name in ("--prover lean", "--prover dojo", "--prover isabelle", "--model-backend hf",
                 "--model-backend vllm", "--model-backend openai", "--prover test-doubles", "--backends test-lsp"):
        assert f"plug-in: {name}" in names, name
    assert names["plug-in: --prover lean"].startswith("llemma_prove.builtin_plugins:LEAN")


def test_minif2f_refuses_an_unknown_prover_before_loading_anything(tmp_path):
    from llemma_prove.commands.minif2f import Minif2fArgs, validate_args

    with pytest.raises(UserError, match="unknown --prover 'coq'"):
        validate_args(Minif2fArgs(prover="coq", run_dir=tmp_path / "run"))


def test_the_uninstalled_test_distribution_declares_what_its_pyproject_does():
    """tests/plugin_dist is used from its .dist-info folder; `pip install` would use its pyproject."""
    import configparser

    dist = ROOT / "tests" / "plugin_dist"
    declared = tomllib.loads((dist / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    (info,) = dist.glob("*.dist-info")
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # names are case-sensitive
    parser.read(info / "entry_points.txt", encoding="utf-8")
    assert {group: dict(parser[group]) for group in parser.sections()} == declared
