"""The language server driven by a real LSP client over stdio (server in its own process).

The server runs the scripted prover/proposer doubles named (as an editor-backends plug-in from
tests/plugin_dist) by its `backends` initialization option;
they log every call to a file, which is how these tests see from outside that a cancelled search
really stopped and that the prover was started only once for several requests.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcRequestCancelled

from tests.editor.doubles import SAMPLE_LEAN, read_events
from tests.editor.lsp_client import EditorClient, utf16_position

# The helper line carries characters outside the Basic Multilingual Plane before the `sorry`, so its
# UTF-16 column differs from its code-point column: both sides must convert.
TEXT = SAMPLE_LEAN.replace("lemma helper (x : ℕ) :", "lemma helper (x : ℕ) /- 𝔽 𝕜 -/ :") + (
    "\ntheorem chain (n : ℕ) : n = n := by sorry\n\ntheorem stuck : False := by sorry\n")


def options(log: Path, **extra):
    backend = {"log": str(log), "roots": {"stuck": "⊢ False"}}
    backend.update(extra.pop("backend", {}))
    return {"backends": "test-lsp", "backendOptions": backend, "expansions": 50,
            "candidates": 4, **extra}


def sorry_range(text: str, marker: str) -> lsp.Range:
    """The range of the first `sorry` after `marker`."""
    start = text.index("sorry", text.index(marker))
    return lsp.Range(utf16_position(text, start), utf16_position(text, start + len("sorry")))


async def started(tmp_path: Path, module: str = "llemma_prove.editor.lsp_server", disabled_support: bool = True,
                  **extra) -> tuple[EditorClient, Path]:
    log = tmp_path / "events.log"
    client = EditorClient()
    args = ("llemma_prove.cli", "lsp") if module == "cli" else (module,)
    await client.start(*args)
    await client.initialize(options(log, **extra), tmp_path, disabled_support=disabled_support)
    return client, log


async def actions_at(client: EditorClient, doc, marker: str, suggestions: bool = False):
    """The code actions on the first `sorry` after `marker` (without "Suggest next steps" and the
    suggestions themselves, unless asked for)."""
    actions = await client.code_actions(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=doc.uri), range=sorry_range(doc.text, marker),
        context=lsp.CodeActionContext(diagnostics=[])))
    if suggestions:
        return actions
    return [a for a in actions if a.title != "Suggest next steps (LLEMMA)" and not a.title.startswith("LLEMMA: ")]


async def execute(client: EditorClient, action: lsp.CodeAction):
    assert action.command is not None
    return await asyncio.wait_for(client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command=action.command.command, arguments=action.command.arguments)), 30)


def events(log: Path, kind: str) -> list[str]:
    return [detail for _, event, detail in read_events(log) if event == kind]


async def test_code_action_proves_and_the_edit_applies(tmp_path):
    client, log = await started(tmp_path, module="cli")  # through `llemma-prove lsp`
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        (action,) = await actions_at(client, doc, "lemma helper")
        assert action.title == "Prove with LLEMMA" and action.kind == lsp.CodeActionKind.QuickFix
        assert action.command.command == "llemma.prove"
        assert await client.code_actions(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=doc.uri),
            range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 3)), context=lsp.CodeActionContext(diagnostics=[]))) == []
        (disabled,) = await actions_at(client, doc, "theorem «nested one»")
        assert disabled.command is None and "nested inside the tactic `·`" in disabled.disabled.reason

        result = await execute(client, action)
        assert result["status"] == "proved" and result["applied"] is True and result["proof"] == "simp"
        expected = TEXT.replace("/- 𝔽 𝕜 -/ : x + 0 = x := by sorry", "/- 𝔽 𝕜 -/ : x + 0 = x := by simp")
        assert doc.text == expected and doc.version == 2

        # Progress on the token the server created: begin (cancellable), reports, end.
        (token,) = client.created_tokens
        kinds = [value["kind"] for tok, value in client.progress if tok == token]
        assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds
        begin = client.progress[0][1]
        assert begin["cancellable"] is True and begin["title"] == "LLEMMA: proving helper"
        assert client.progress[-1][1]["message"] == "proof found"

        # A second request (a last-tactic sorry) reuses the same backends: nothing is built twice.
        (action,) = await actions_at(client, doc, "theorem uses_helper")
        result = await execute(client, action)
        assert result["status"] == "proved" and result["applied"] is True
        assert doc.text == expected.replace("  rw [helper]\n  sorry", "  rw [helper]\n  exact helper a")
        assert len(events(log, "backends-built")) == 1 and len(events(log, "prover-start")) == 1
        assert events(log, "verify")[-1] == "rw [helper] ; exact helper a"
    finally:
        assert await client.close() == 0
    assert events(log, "backends-closed") == [""]  # shutdown closed the provers


async def test_no_proof_gives_a_message_and_a_diagnostic(tmp_path):
    client, log = await started(tmp_path)
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        (action,) = await actions_at(client, doc, "theorem stuck")
        result = await execute(client, action)
        assert result == {"status": "exhausted", "reason": "the search ran out of candidates after 1 expansions"}
        assert doc.text == TEXT and not client.applied
        message = await client.wait_for(lambda: [m for m in client.messages if "no proof" in m.message])
        assert message[0].type == lsp.MessageType.Warning
        assert message[0].message.startswith("LLEMMA: no proof for stuck (line 20)")
        (diagnostic,) = await client.wait_for(lambda: client.diagnostics.get(doc.uri))
        assert diagnostic.range == sorry_range(TEXT, "theorem stuck") and diagnostic.source == "llemma-prove"
        assert "search ran out of candidates" in diagnostic.message
        client.change(doc, doc.text + "\n")  # an edit makes the diagnostic's range stale: it is withdrawn
        await client.wait_for(lambda: client.diagnostics.get(doc.uri) == [])

        # Isabelle theories get the action too (on `sorry` and `oops`), not other files.
        thy = client.open(tmp_path / "Demo.thy", 'theory Demo imports Main\nbegin\nlemma l: "True"\n  oops\nend\n',
                          language_id="isabelle")
        (action, _suggest) = await client.code_actions(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=thy.uri), range=lsp.Range(lsp.Position(3, 3), lsp.Position(3, 3)),
            context=lsp.CodeActionContext(diagnostics=[])))
        assert action.command.command == "llemma.prove"
        txt = client.open(tmp_path / "notes.txt", "sorry\n", language_id="plaintext")
        assert await client.code_actions(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=txt.uri), range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 5)),
            context=lsp.CodeActionContext(diagnostics=[]))) == []
    finally:
        await client.close()


async def _start_slow_search(client: EditorClient, doc, msg_id: str | None = None, marker: str = "theorem chain"):
    (action,) = await actions_at(client, doc, marker)
    params = lsp.ExecuteCommandParams(command=action.command.command, arguments=action.command.arguments)
    if msg_id is None:
        pending = asyncio.ensure_future(client.workspace_execute_command_async(params))
    else:
        pending = asyncio.wrap_future(client.protocol.send_request(lsp.WORKSPACE_EXECUTE_COMMAND, params, msg_id=msg_id))
    seen = len(client.progress)
    await client.wait_for(lambda: any(v.get("kind") == "report" for _, v in client.progress[seen:]))
    return pending


async def _assert_stopped(client: EditorClient, log: Path) -> None:
    """The session was closed and no step ran after that (the chain would take a step every 0.25 s).

    A cancelled request is answered at once; the search task winds down right after, so wait for it."""
    def closed() -> list[float]:
        return [stamp for stamp, event, detail in read_events(log) if event == "session-closed" and detail == "chain"]

    await client.wait_for(closed, timeout=5)
    await asyncio.sleep(1.0)
    assert len(closed()) == 1
    steps = [stamp for stamp, event, _ in read_events(log) if event == "step"]
    assert steps and max(steps) < closed()[0]


async def test_cancel_through_the_progress_token_stops_the_search(tmp_path):
    client, log = await started(tmp_path, backend={"delay": 0.25})
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        pending = await _start_slow_search(client, doc)
        (token,) = client.created_tokens
        client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
        result = await asyncio.wait_for(pending, 5)
        assert result == {"status": "cancelled", "reason": "cancelled"}
        await _assert_stopped(client, log)
        assert client.progress[-1] == (token, {"kind": "end", "message": "cancelled"})
        assert doc.text == TEXT and not client.applied
        # The server is still healthy: the next request is answered.
        (action,) = await actions_at(client, doc, "lemma helper")
        assert (await execute(client, action))["status"] == "proved"
    finally:
        await client.close()


async def test_cancel_request_stops_the_search(tmp_path):
    client, log = await started(tmp_path, backend={"delay": 0.25})
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        pending = await _start_slow_search(client, doc, msg_id="prove-chain")
        client.cancel_request(lsp.CancelParams(id="prove-chain"))
        with pytest.raises(JsonRpcRequestCancelled):
            await asyncio.wait_for(pending, 5)
        await _assert_stopped(client, log)
        assert doc.text == TEXT
    finally:
        await client.close()


async def test_edit_follows_the_sorry_when_the_document_changed_meanwhile(tmp_path):
    client, log = await started(tmp_path, backend={"delay": 0.2, "prove_at": 3, "roots": {"again": "s0", "third": "s0"}})
    try:
        text = TEXT + "\ntheorem again (n : ℕ) : n = n := by sorry\n\ntheorem third (n : ℕ) : n = n := by sorry\n"
        doc = client.open(tmp_path / "Sample.lean", text)
        pending = await _start_slow_search(client, doc)
        client.change(doc, "-- a line typed while the search runs\n" + doc.text)
        result = await asyncio.wait_for(pending, 20)
        assert result["status"] == "proved" and result["applied"] is True
        assert result["steps"] == ["step", "step", "step", "step"]
        assert doc.text == "-- a line typed while the search runs\n" + text.replace(
            "theorem chain (n : ℕ) : n = n := by sorry",
            "theorem chain (n : ℕ) : n = n := by\n  step\n  step\n  step\n  step")

        # If the sorry is gone by the time the proof is found, nothing is inserted and the user is told.
        pending = await _start_slow_search(client, doc, marker="theorem again")
        client.change(doc, doc.text.replace("theorem again (n : ℕ) : n = n := by sorry", "theorem again (n : ℕ) : n = n := rfl"))
        (action,) = await actions_at(client, doc, "theorem stuck")  # the document is still served meanwhile
        assert action.command is not None
        result = await asyncio.wait_for(pending, 20)
        assert result["status"] == "proved" and result["applied"] is False
        assert any("changed meanwhile; not inserted" in m.message for m in client.messages)

        # When the text before the theorem now means something else, the proof was checked without it:
        # the final check runs again on the current text before the proof goes in.
        checks = len(events(log, "verify"))
        pending = await _start_slow_search(client, doc, marker="theorem third")
        client.change(doc, doc.text.replace("open Real\n", "open Real\nattribute [-simp] helper\n"))
        result = await asyncio.wait_for(pending, 20)
        assert result["status"] == "proved" and result["applied"] is True
        assert "theorem third (n : ℕ) : n = n := by\n  step" in doc.text
        assert len(events(log, "verify")) == checks + 2  # the search's check, then the check on the new text
    finally:
        await client.close()


async def test_bad_initialization_options_are_reported(tmp_path):
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")
    try:
        await client.initialize({"expansions": "lots"}, tmp_path)
        message = await client.wait_for(lambda: client.messages)
        assert message[0].type == lsp.MessageType.Error
        assert message[0].message == "LLEMMA: bad initialization options: option expansions must be an integer, got 'lots'"
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        (action,) = await actions_at(client, doc, "lemma helper")
        assert (await execute(client, action))["status"] == "error"
    finally:
        await client.close()


@pytest.mark.skipif(shutil.which("lake") is not None, reason="Lean is installed here: the real search would run")
async def test_real_backends_without_lean_say_what_is_missing(tmp_path):
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server", env={"LLEMMA_PROVE_LEAN_PROJECT": str(tmp_path / "none")})
    try:
        await client.initialize({"expansions": 5}, tmp_path)
        doc = client.open(tmp_path / "T.lean", "import Mathlib\n\ntheorem t : 1 = 1 := by sorry\n")
        (action,) = await actions_at(client, doc, "theorem t")
        result = await execute(client, action)
        assert result["status"] == "error" and "Lean" in result["reason"]
        (message,) = await client.wait_for(lambda: [m for m in client.messages if m.type == lsp.MessageType.Error])
        assert message.message.startswith("LLEMMA: ") and doc.text.endswith("by sorry\n")
    finally:
        await client.close()


async def test_two_actions_in_one_file_both_proofs_go_in(tmp_path):
    client, log = await started(tmp_path, backend={"delay": 0.2, "prove_at": 3})
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        pending = await _start_slow_search(client, doc)  # theorem chain, near the end
        (action,) = await actions_at(client, doc, "lemma helper")  # above it: its proof moves chain's text
        first = await execute(client, action)
        assert first["applied"] is True and "x + 0 = x := by simp" in doc.text
        second = await asyncio.wait_for(pending, 20)
        assert second["status"] == "proved" and second["applied"] is True
        assert "theorem chain (n : ℕ) : n = n := by\n  step\n  step" in doc.text and "x + 0 = x := by simp" in doc.text
        # chain was checked twice: by its search, and again in the text that holds helper's proof.
        assert events(log, "verify").count("step ; step ; step ; step") == 2
    finally:
        await client.close()


async def test_a_refused_edit_keeps_the_proof_as_a_diagnostic_with_a_quick_fix(tmp_path):
    client, log = await started(tmp_path)
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        client.refuse_edits = "the buffer is read-only"
        (action,) = await actions_at(client, doc, "lemma helper")
        result = await execute(client, action)
        assert result["status"] == "proved" and result["applied"] is False
        assert result["reason"] == "the buffer is read-only" and doc.text == TEXT
        assert any("Proof: simp" in m.message for m in client.messages)
        (diagnostic,) = await client.wait_for(lambda: [d for d in client.diagnostics.get(doc.uri, [])
                                                        if d.code == "llemma-proof"])
        assert diagnostic.range == sorry_range(TEXT, "lemma helper") and ": simp." in diagnostic.message
        # It follows the sorry when the text above changes.
        client.change(doc, "-- typed\n" + doc.text)
        moved = sorry_range(doc.text, "lemma helper")
        assert moved.start.line == diagnostic.range.start.line + 1
        (diagnostic,) = await client.wait_for(lambda: [d for d in client.diagnostics.get(doc.uri, [])
                                                        if d.code == "llemma-proof" and d.range == moved])
        client.refuse_edits = ""
        actions = await actions_at(client, doc, "lemma helper")
        assert [a.title for a in actions] == ["Insert LLEMMA proof of helper", "Prove with LLEMMA"]
        result = await execute(client, actions[0])
        assert result == {"status": "proved", "applied": True, "reason": None}
        assert "x + 0 = x := by simp" in doc.text
        await client.wait_for(lambda: not [d for d in client.diagnostics.get(doc.uri, []) if d.code == "llemma-proof"])
    finally:
        await client.close()


async def test_unsupported_reasons_are_diagnostics_for_clients_that_hide_disabled_actions(tmp_path):
    client, _ = await started(tmp_path, disabled_support=False)
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        (diagnostic,) = await client.wait_for(lambda: client.diagnostics.get(doc.uri))
        assert diagnostic.severity == lsp.DiagnosticSeverity.Hint
        assert diagnostic.range == sorry_range(TEXT, "theorem «nested one»")
        assert "LLEMMA cannot search this sorry: this sorry is nested inside the tactic" in diagnostic.message
        assert await actions_at(client, doc, "theorem «nested one»") == []
        client.change(doc, TEXT.replace("  · exact sorry\n", "  · trivial\n"))
        await client.wait_for(lambda: client.diagnostics.get(doc.uri) == [])
    finally:
        await client.close()


async def test_suggest_next_steps_lists_accepted_steps_and_applies_one(tmp_path):
    client, log = await started(tmp_path)
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        actions = await actions_at(client, doc, "theorem uses_helper", suggestions=True)
        (suggest,) = [a for a in actions if a.title == "Suggest next steps (LLEMMA)"]
        result = await execute(client, suggest)
        # The model proposed `omega` and `exact helper a` at the goal after `rw [helper]`; Lean refused omega.
        assert [(s["steps"], s["closes_goal"]) for s in result["suggestions"]] == [(["exact helper a"], True)]
        assert any("1 next step(s) for uses_helper" in m.message for m in client.messages)
        actions = await actions_at(client, doc, "theorem uses_helper", suggestions=True)
        (step,) = [a for a in actions if a.title.startswith("LLEMMA: ")]
        assert step.title == "LLEMMA: exact helper a  (closes the goal)"
        checks = len(events(log, "verify"))
        applied = await execute(client, step)
        assert applied["applied"] is True
        assert "  rw [helper]\n  exact helper a\n" in doc.text
        assert len(events(log, "verify")) == checks + 1  # closing the goal: the final check ran first
    finally:
        await client.close()


async def test_a_failed_search_offers_its_best_partial_path(tmp_path):
    client, _ = await started(tmp_path, expansions=3, backend={"delay": 0.01})
    try:
        doc = client.open(tmp_path / "Sample.lean", TEXT)
        (action,) = await actions_at(client, doc, "theorem chain")
        result = await execute(client, action)
        assert result["status"] == "budget"
        message = await client.wait_for(lambda: [m for m in client.messages if "Best partial path" in m.message])
        assert "Best partial path: step ; step ; step (leaves: s3)" in message[0].message
        actions = await actions_at(client, doc, "theorem chain", suggestions=True)
        (path,) = [a for a in actions if a.title.startswith("LLEMMA: best partial path")]
        assert path.title == "LLEMMA: best partial path: step ; step ; step  → s3"
        applied = await execute(client, path)
        assert applied["applied"] is True
        assert "theorem chain (n : ℕ) : n = n := by\n  step\n  step\n  step\n  sorry\n" in doc.text
    finally:
        await client.close()


async def test_suggestions_in_a_nested_sorry_leave_the_goals_they_leave(tmp_path):
    from tests.editor.doubles import NESTED_LEAN

    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")
    try:
        await client.initialize({"backends": "test-nested", "expansions": 5}, tmp_path)
        doc = client.open(tmp_path / "Nested.lean", NESTED_LEAN)
        actions = await actions_at(client, doc, "theorem bullets", suggestions=True)
        (suggest,) = [a for a in actions if a.title == "Suggest next steps (LLEMMA)"]
        result = await execute(client, suggest)
        (only,) = result["suggestions"]
        assert only["steps"] == ["have hq' := hq"] and only["goals"] == "p q : Prop\nhq hq' : q\n⊢ q"
        actions = await actions_at(client, doc, "theorem bullets", suggestions=True)
        (step,) = [a for a in actions if a.title.startswith("LLEMMA: ")]
        assert step.title == "LLEMMA: have hq' := hq  → p q : Prop hq hq' : q ⊢ q"
        assert (await execute(client, step))["applied"] is True
        assert doc.text == NESTED_LEAN.replace("  · sorry\n", "  · have hq' := hq\n    sorry\n")
    finally:
        await client.close()
