"""The user's own Lake project: found from the file (and the editor's workspace root), used when its
REPL is built, and otherwise named with what to run, the bundled project being the fallback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from llemma_prove.cli import main
from llemma_prove.editor.backends import EditorConfig
from llemma_prove.editor.project import choose_project, enclosing_projects
from tests.editor.doubles import SAMPLE_LEAN, read_events, use_backends
from tests.editor.lsp_client import EditorClient, utf16_position



def lake_project(folder: Path, toolchain: str = "leanprover/lean4:v4.9.0", repl: bool = False,
                 toml: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ("lakefile.toml" if toml else "lakefile.lean")).write_text("-- a Lake project\n", encoding="utf-8")
    (folder / "lean-toolchain").write_text(toolchain + "\n", encoding="utf-8")
    if repl:
        binary = folder / ".lake" / "packages" / "REPL" / ".lake" / "build" / "bin" / "repl"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n", encoding="utf-8")
        binary.chmod(0o755)
    return folder


@pytest.fixture(autouse=True)
def _no_project_env(monkeypatch):
    monkeypatch.delenv("LLEMMA_PROVE_LEAN_PROJECT", raising=False)


def test_nearest_project_with_a_built_repl_is_chosen(tmp_path):
    outer = lake_project(tmp_path / "outer", repl=True)
    inner = lake_project(outer / "packages" / "inner")  # no REPL built
    file = inner / "Inner" / "Basic.lean"
    file.parent.mkdir(parents=True)
    assert enclosing_projects(file) == [inner, outer]
    choice = choose_project(file, EditorConfig())
    assert (choice.directory, choice.source, choice.advice) == (outer, "enclosing", "")
    # The workspace root bounds the search: above it nothing counts.
    assert enclosing_projects(file, workspace_root=inner) == [inner]
    choice = choose_project(file, EditorConfig(), workspace_root=inner)
    assert choice.source == "bundled" and choice.directory == Path(__file__).resolve().parents[2] / "lean_project"
    # An explicit project always wins.
    assert choose_project(file, EditorConfig(lean_project=tmp_path)).directory == tmp_path


def test_a_project_without_repl_says_what_to_run(tmp_path):
    project = lake_project(tmp_path / "mine", toolchain="leanprover/lean4:v4.12.0")
    choice = choose_project(project / "Mine.lean", EditorConfig())
    assert choice.source == "bundled"
    assert f"the Lake project {project} has no built REPL" in choice.advice
    assert 'require REPL from git "https://github.com/leanprover-community/repl" @ "v4.12.0"' in choice.advice
    assert "lake update REPL && lake build REPL/repl" in choice.advice
    toml = lake_project(tmp_path / "tomlproj", toml=True)
    assert "[[require]]" in choose_project(toml / "A.lean", EditorConfig()).advice


def test_prove_reports_the_project_and_the_advice(tmp_path, capsys, monkeypatch):
    use_backends(monkeypatch, "tests.editor.doubles:cli_backends")
    project = lake_project(tmp_path / "mine")
    path = project / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["prove", str(path), "--theorem", "helper"])
    _, err = capsys.readouterr()
    assert f"note: the Lake project {project} has no built REPL" in err
    lake_project(project, repl=True)
    with pytest.raises(SystemExit):
        main(["prove", str(path), "--theorem", "helper", "--json"])
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert data["lean_project"] == str(project) and "lean_project_advice" not in data


async def test_language_server_uses_the_documents_project(tmp_path):
    with_repl = lake_project(tmp_path / "ws" / "a", repl=True)
    without = lake_project(tmp_path / "ws" / "b")
    log = tmp_path / "events.log"
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")
    try:
        await client.initialize({"backends": "test-lsp",
                                 "backendOptions": {"log": str(log)}, "expansions": 5}, tmp_path / "ws")
        for folder in (with_repl, without):
            doc = client.open(folder / "Sample.lean", SAMPLE_LEAN)
            start = SAMPLE_LEAN.index("sorry")
            position = utf16_position(SAMPLE_LEAN, start)
            (action, _suggest) = await client.code_actions(lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=doc.uri), range=lsp.Range(position, position),
                context=lsp.CodeActionContext(diagnostics=[])))
            result = await asyncio.wait_for(client.workspace_execute_command_async(lsp.ExecuteCommandParams(
                command=action.command.command, arguments=action.command.arguments)), 30)
            assert result["status"] == "proved"
        built = [detail for _, event, detail in read_events(log) if event == "backends-built"]
        bundled = str(Path(__file__).resolve().parents[2] / "lean_project")
        assert built == [str(with_repl), bundled]
        (note,) = [m for m in client.messages if "has no built REPL" in m.message]
        assert note.message.startswith(f"LLEMMA: the Lake project {without} has no built REPL")
    finally:
        await client.close()
