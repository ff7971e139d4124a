"""Nested `sorry`s in Lean proofs (`have ... := by sorry`, `· sorry`, a `sorry` line before more
tactics): located as NESTED targets, searched from their sketch hole, written back only after the
final check of the whole declaration. Driven by the sketch-capable scripted doubles
(`tests/editor/doubles.py`), by the real Lean sketch adapter on the stand-in REPL, through the CLI and
through the language server."""

from __future__ import annotations

import asyncio
import json

import pytest
from lsprotocol import types as lsp

from llemma_prove.plugins import EditorBackendsPlugin
from llemma_prove.cli import main
from llemma_prove.editor.backends import EditorConfig
from llemma_prove.editor.errors import UnsupportedTarget
from llemma_prove.editor.prove_file import prove_file
from llemma_prove.editor.session import UNSUPPORTED, prove_target
from llemma_prove.editor.targets import HoleKind, locate
from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.sketch import sketch_command
from llemma_prove.types import Language
from tests.doubles.scripted import ScriptedProposer
from tests.doubles.scripted import proves
from tests.editor.doubles import (
    NESTED_LEAN, LeanReplBackends, nested_backends, read_events, sample_backends, use_backends,
)
from tests.editor.lsp_client import EditorClient, utf16_position
from tests.lean.conftest import fake_options, write_script

CONFIG = EditorConfig(expansions=10, candidates=4, time_limit_s=30)


def lean(text: str):
    return locate(text, Language.LEAN4)


# ------------------------------------------------------------------------------------------- locating


def test_tactic_position_sorrys_become_nested_targets():
    text = (
        "theorem h1 (x : ℕ) : x = x := by\n  have k : x = x := by sorry\n  exact k\n\n"
        "theorem h2 (p : Prop) (hp : p) : p ∧ p := by\n  constructor\n  · sorry\n  · exact hp\n\n"
        "theorem h3 (x : ℕ) : x = x := by\n  have k : x = x := by\n    simp\n    sorry\n  exact k\n\n"
        "theorem h4 (p : Prop) (hp : p) : p ∧ p := by\n  refine ⟨?_, hp⟩\n  sorry\n  done\n\n"
        "theorem h5 (n : ℕ) : n = n := by\n  cases n\n  case zero => sorry\n  case succ k => rfl\n"
    )
    targets = lean(text).targets
    assert [t.kind for t in targets] == [HoleKind.NESTED] * 5
    assert all(t.supported and t.kind.value == "nested" for t in targets)
    first = targets[0]
    # The sketch is the proof after `:= by`; its one hole is exactly this sorry.
    assert first.sketch_body == "\n  have k : x = x := by sorry\n  exact k"
    start, end = first.sketch_hole
    assert first.sketch_body[start:end] == "sorry" and text[first.start:first.end] == "sorry"
    assert first.theorem.statement == "theorem h1 (x : ℕ) : x = x := by sorry"
    assert first.insertion.indent == " " * first.column and first.prefix == ()
    # The other kinds keep their meaning.
    assert lean("theorem w : 1 = 1 := by sorry\n").targets[0].kind is HoleKind.WHOLE_PROOF
    assert lean("theorem l : 1 = 1 := by\n  skip\n  sorry\n").targets[0].kind is HoleKind.LAST_STEP


def test_term_position_sorrys_stay_unsupported_and_tactic_siblings_are_searched_together():
    text = (
        "theorem t1 (p : Prop) (hp : p) : p ∧ p := by\n  constructor\n  · exact sorry\n  · exact hp\n\n"
        "theorem t2 (x : ℕ) : x = x := by\n  have k : x = x := by sorry\n  have j : x = x := by sorry\n  exact k\n\n"
        "theorem t3 (x : ℕ) : x = x := by\n  simp; sorry\n\n"
        "theorem t4 (x : ℕ) : x = x := by\n  have k : x = x := by sorry\n  exact (sorry : x = x)\n"
    )
    term, first, second, chained, tactic4, term4 = lean(text).targets
    assert term.kind is HoleKind.UNSUPPORTED and "nested inside the tactic `·` at line 3" in term.reason
    assert "only in tactic position" in term.reason
    # Two tactic-position sorrys of one declaration: one sketch with two holes, searched together.
    assert first.kind is HoleKind.NESTED and second.kind is HoleKind.NESTED
    assert first.holes == second.holes == 2 and first.sketch_body == second.sketch_body
    assert chained.kind is HoleKind.NESTED  # `tac; sorry` is the next tactic of the sequence
    # A sibling that stands for a term keeps the tactic one from being searched (nothing could pass).
    assert tactic4.kind is HoleKind.UNSUPPORTED and term4.kind is HoleKind.UNSUPPORTED
    assert "another sorry, at line 16, that stands for a term" in tactic4.reason
    with pytest.raises(UnsupportedTarget, match=r"sorry at line 15, column 24: this sorry is nested inside the tactic"):
        tactic4.require_supported()


# ------------------------------------------------------------------------------------------- searching


async def test_have_sorry_is_found_and_written_back_byte_exactly(tmp_path):
    path = tmp_path / "Nested.lean"
    original = NESTED_LEAN.replace("theorem with_have", "/-- ünïcödé 𝔽 -/\ntheorem with_have").replace("\n", "\r\n")
    path.write_bytes(original.encode("utf-8"))
    backends = nested_backends(CONFIG)
    report = await prove_file(path, CONFIG, theorem="with_have", write=True, backends=backends)
    (outcome,) = report.outcomes
    assert outcome.proved and outcome.target.kind is HoleKind.NESTED, outcome.reason
    assert outcome.steps == ("exact h.symm",) and outcome.edit.new_text == "exact h.symm"
    expected = original.replace("have h' : b = a := by sorry", "have h' : b = a := by exact h.symm")
    assert report.written and path.read_bytes() == expected.encode("utf-8")
    # The final check saw exactly the declaration as written (the proof after `:= by`, CRLF and all).
    prover = backends.prover_double
    ((_, body),) = prover.checked_bodies
    assert body == "\r\n  have h' : b = a := by exact h.symm\r\n  exact h'"
    assert expected.index(body) > 0
    # The search ran from the hole's goal (omega failed there first), not from the theorem's root.
    assert ("with_have", "a b : ℕ\nh : a = b\n⊢ b = a", "omega") in prover.calls
    assert prover.opened == []  # no ordinary session: only the sketch


async def test_bullet_sorry_with_several_tactics_is_laid_out_at_the_bullet_column(tmp_path):
    path = tmp_path / "Nested.lean"
    path.write_text(NESTED_LEAN, encoding="utf-8")
    backends = nested_backends(CONFIG)
    report = await prove_file(path, CONFIG, line=10, write=True, backends=backends)
    (outcome,) = report.outcomes
    assert outcome.proved, outcome.reason
    assert outcome.steps == ("have hq' := hq", "exact hq'")
    assert outcome.edit.new_text == "have hq' := hq\n    exact hq'"
    assert path.read_text(encoding="utf-8") == NESTED_LEAN.replace(
        "  · sorry\n", "  · have hq' := hq\n    exact hq'\n")
    ((_, body),) = backends.prover_double.checked_bodies
    assert body.endswith("  · exact hp\n  · have hq' := hq\n    exact hq'")


async def test_a_refused_final_check_means_no_edit(tmp_path):
    path = tmp_path / "Nested.lean"
    path.write_text(NESTED_LEAN, encoding="utf-8")
    backends = nested_backends(CONFIG, reject=["with_have"])
    report = await prove_file(path, CONFIG, theorem="with_have", write=True, backends=backends)
    (outcome,) = report.outcomes
    assert outcome.status == "rejected" and outcome.edit is None and not outcome.proved
    assert outcome.reason == "a proof was found but the final check refused it: rejected by the test script"
    assert not report.written and path.read_text(encoding="utf-8") == NESTED_LEAN
    assert len(backends.prover_double.checked_bodies) == 1


TWO = ("theorem two (a b : ℕ) (h : a = b) : b = a ∧ a = b := by\n"
       "  have h' : b = a := by sorry\n  have h'' : a = b := by\n    sorry\n  exact ⟨h', h''⟩\n")
TWO_ROOTS = {"two": ["a b : ℕ\nh : a = b\n⊢ b = a", "a b : ℕ\nh : a = b\nh' : b = a\n⊢ a = b"]}


def two_backends(second_provable: bool = True, config: EditorConfig = CONFIG):
    backends = nested_backends(config)
    prover = backends.prover_double
    prover.hole_roots.update(TWO_ROOTS)
    if second_provable:
        prover.script["a b : ℕ\nh : a = b\nh' : b = a\n⊢ a = b"] = {"exact h": proves()}
        backends.proposer_double.table["a b : ℕ\nh : a = b\nh' : b = a\n⊢ a = b"] = [("exact h", -0.1)]
    return backends


async def test_several_sorrys_of_one_declaration_are_searched_in_order_and_checked_together(tmp_path):
    path = tmp_path / "Two.lean"
    path.write_text(TWO, encoding="utf-8")
    backends = two_backends()
    report = await prove_file(path, CONFIG, line=4, write=True, backends=backends)  # one line asks for both
    assert [(o.line, o.status, o.steps) for o in report.outcomes] == [
        (2, "proved", ("exact h.symm",)), (4, "proved", ("exact h",))]
    prover = backends.prover_double
    # Each hole was searched from the goal Lean reports at it; one final check of the whole declaration.
    assert ("two", "a b : ℕ\nh : a = b\n⊢ b = a", "omega") in prover.calls
    ((_, body),) = prover.checked_bodies
    assert body == "\n  have h' : b = a := by exact h.symm\n  have h'' : a = b := by\n    exact h\n  exact ⟨h', h''⟩"
    assert report.written and path.read_text(encoding="utf-8") == TWO.replace(
        "by sorry", "by exact h.symm").replace("    sorry", "    exact h")


async def test_partial_success_is_reported_and_written_only_with_partial(tmp_path):
    path = tmp_path / "Two.lean"
    path.write_text(TWO, encoding="utf-8")
    report = await prove_file(path, CONFIG, write=True, backends=two_backends(second_provable=False))
    first, second = report.outcomes
    assert first.status == "partial" and first.steps == ("exact h.symm",) and not first.proved
    assert "still has a sorry the search did not close (line 4)" in first.reason
    assert second.status == "exhausted" and second.edit is None
    assert not report.written and path.read_text(encoding="utf-8") == TWO
    assert [r["status"] for r in report.to_json()["results"]] == ["partial", "exhausted"]
    assert report.to_json()["partial"] == 1

    backends = two_backends(second_provable=False)
    report = await prove_file(path, CONFIG, write=True, partial=True, backends=backends)
    assert report.written
    assert path.read_text(encoding="utf-8") == TWO.replace("by sorry", "by exact h.symm")
    # Before writing, Lean elaborated the declaration with the piece in and the other sorry left open.
    assert [len(s.holes) for _, s in backends.prover_double.sketches] == [2, 1]


def test_partial_on_the_command_line(tmp_path, capsys, monkeypatch):
    use_backends(monkeypatch, "tests.editor.test_nested:partial_backends")
    path = tmp_path / "Two.lean"
    path.write_text(TWO, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["prove", str(path), "--write", "--partial"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert out == "-- two (line 2) (partial: the declaration keeps another sorry)\nexact h.symm\n"
    assert "two (line 2): partial:" in err and "two (line 4): not proved (exhausted)" in err
    assert path.read_text(encoding="utf-8") == TWO.replace("by sorry", "by exact h.symm")


def partial_backends(config: EditorConfig):
    """For the CLI test: the two-sorry declaration where only the first sorry can be found."""
    return two_backends(second_provable=False)


async def test_a_prover_without_sketches_reports_why():
    (target,) = [t for t in lean(NESTED_LEAN).targets if t.declaration.name == "with_have"]
    outcome = await prove_target(target, sample_backends(CONFIG), CONFIG)
    assert outcome.status == UNSUPPORTED and "cannot open a proof sketch" in outcome.reason


# --------------------------------------------------------------- the real Lean adapter, stand-in REPL


async def test_real_sketch_adapter_on_the_stand_in_repl(tmp_path, no_leftover_children):
    text = "theorem t (a : ℕ) : a = a ∧ True := by\n  constructor\n  · sorry\n  · trivial\n"
    (target,) = lean(text).targets
    command, _ = sketch_command(target.theorem, target.sketch_body)
    row = command.split("\n").index("  · sorry") + 1
    goal = "a : ℕ\n⊢ a = a"
    response = {"sorries": [{"proofState": 0, "pos": {"line": row, "column": 4}, "goal": goal,
                             "endPos": {"line": row, "column": 9}}], "env": 1,
                "messages": [{"severity": "warning", "pos": {"line": 1, "column": 8},
                              "endPos": {"line": 1, "column": 9}, "data": "declaration uses `sorry`"}]}
    script = write_script(tmp_path / "script.json", [({"cmd": command}, response)])
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--script", str(script), "--fallback", "synthetic", "--log", str(log)))
    # the stand-in's world: `close...` completes a goal, another tactic turns `g` into `g ▸ tactic`
    proposer = ScriptedProposer({goal: [("fail_rfl", -0.1), ("intro_x", -0.2)], goal + " ▸ intro_x": [("close_it", -0.1)]})
    backends = LeanReplBackends(prover, proposer)
    try:
        outcome = await prove_target(target, backends, CONFIG)
    finally:
        await backends.close()
    assert outcome.proved, outcome.reason
    assert outcome.steps == ("intro_x", "close_it")
    assert outcome.edit.new_text == "intro_x\n    close_it"
    # the final check compiled the whole declaration with the hole filled, as it will stand in the file
    assert outcome.checked_text == text.replace("· sorry", "· intro_x\n    close_it")
    requests = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert requests[0] == {"cmd": command}  # the sketch went to Lean once
    assert {"tactic": "intro_x", "proofState": 0} in requests


async def test_real_sketch_adapter_two_holes_from_lean_positions(tmp_path, no_leftover_children):
    """Two sorrys of one declaration through the real Lean sketch adapter: each hole gets the goal the
    REPL reports at its position, and one final check compiles the declaration with both filled."""
    from llemma_prove.editor.session import prove_declaration

    text = "theorem t (a : ℕ) : a = a ∧ True := by\n  constructor\n  · sorry\n  · sorry\n"
    targets = list(lean(text).targets)
    assert [t.holes for t in targets] == [2, 2]
    command, _ = sketch_command(targets[0].theorem, targets[0].sketch_body)
    rows = [i + 1 for i, line in enumerate(command.split("\n")) if line == "  · sorry"]
    first, second = "a : ℕ\n⊢ a = a", "a : ℕ\n⊢ True"
    response = {"sorries": [
        {"proofState": 0, "pos": {"line": rows[0], "column": 4}, "goal": first, "endPos": {"line": rows[0], "column": 9}},
        {"proofState": 1, "pos": {"line": rows[1], "column": 4}, "goal": second, "endPos": {"line": rows[1], "column": 9}},
    ], "env": 1, "messages": [{"severity": "warning", "pos": {"line": 1, "column": 8},
                                "endPos": {"line": 1, "column": 9}, "data": "declaration uses `sorry`"}]}
    script = write_script(tmp_path / "script.json", [({"cmd": command}, response)])
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--script", str(script), "--fallback", "synthetic", "--log", str(log)))
    proposer = ScriptedProposer({first: [("close_a", -0.1)], second: [("close_b", -0.1)]})
    backends = LeanReplBackends(prover, proposer)
    try:
        outcomes = await prove_declaration(targets, backends, CONFIG)
    finally:
        await backends.close()
    assert [o.status for o in outcomes] == ["proved", "proved"], [o.reason for o in outcomes]
    assert [o.steps for o in outcomes] == [("close_a",), ("close_b",)]
    assert outcomes[0].checked_text == text.replace("· sorry\n  · sorry", "· close_a\n  · close_b")
    requests = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert requests[0] == {"cmd": command}  # elaborated once; each hole's proof state from Lean's answer
    assert {"tactic": "close_a", "proofState": 0} in requests and {"tactic": "close_b", "proofState": 1} in requests


# ------------------------------------------------------------------------------------------- CLI, LSP


def test_cli_diff_and_write_on_a_nested_sorry(tmp_path, capsys):
    path = tmp_path / "Nested.lean"
    path.write_text(NESTED_LEAN, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        main(["prove", str(path), "--theorem", "with_have", "--diff", "--backends", "test-nested"])
    out, _ = capsys.readouterr()
    assert exit_info.value.code == 0
    assert "\n-  have h' : b = a := by sorry\n+  have h' : b = a := by exact h.symm\n" in out
    assert path.read_text(encoding="utf-8") == NESTED_LEAN
    with pytest.raises(SystemExit) as exit_info:
        main(["prove", str(path), "--write", "--json", "--backends", "test-nested"])
    out, _ = capsys.readouterr()
    assert exit_info.value.code == 0
    data = json.loads(out)
    assert [(r["kind"], r["status"], r["proof"]) for r in data["results"]] == [
        ("nested", "proved", "exact h.symm"), ("nested", "proved", "have hq' := hq\n    exact hq'")]
    assert path.read_text(encoding="utf-8") == NESTED_LEAN.replace(
        "by sorry", "by exact h.symm").replace("  · sorry\n", "  · have hq' := hq\n    exact hq'\n")


async def test_language_server_offers_and_applies_the_nested_proof(tmp_path):
    log = tmp_path / "events.log"
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")
    try:
        await client.initialize({"backends": "test-nested",
                                 "backendOptions": {"log": str(log)}, "expansions": 10, "candidates": 4}, tmp_path)
        doc = client.open(tmp_path / "Nested.lean", NESTED_LEAN)
        start = NESTED_LEAN.index("sorry")
        (action, _suggest) = await client.code_actions(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=doc.uri),
            range=lsp.Range(utf16_position(NESTED_LEAN, start), utf16_position(NESTED_LEAN, start + 5)),
            context=lsp.CodeActionContext(diagnostics=[])))
        assert action.title == "Prove with LLEMMA" and action.disabled is None
        result = await asyncio.wait_for(client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments)), 30)
        assert result["status"] == "proved" and result["applied"] is True and result["proof"] == "exact h.symm"
        assert doc.text == NESTED_LEAN.replace("have h' : b = a := by sorry", "have h' : b = a := by exact h.symm")
        assert [d for _, e, d in read_events(log) if e == "open-sketch"] == ["with_have"]
    finally:
        assert await client.close() == 0


async def test_language_server_proves_all_sorrys_of_a_declaration_together(tmp_path):
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")
    try:
        await client.initialize({"backends": "test-lsp-two", "expansions": 10}, tmp_path)
        doc = client.open(tmp_path / "Two.lean", TWO)
        start = TWO.index("sorry")
        position = utf16_position(TWO, start)
        (action, _suggest) = await client.code_actions(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=doc.uri), range=lsp.Range(position, position),
            context=lsp.CodeActionContext(diagnostics=[])))
        result = await asyncio.wait_for(client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments)), 30)
        assert result["status"] == "proved" and result["applied"] is True
        assert doc.text == TWO.replace("by sorry", "by exact h.symm").replace("    sorry", "    exact h")
        assert len(client.applied) == 1  # one edit for both
    finally:
        await client.close()


def pending_proofs(client, uri: str) -> list:
    """The diagnostics that hold found proofs (with their quick fix)."""
    return [d for d in client.diagnostics.get(uri, []) if d.code == "llemma-proof"]


async def code_actions_at(client, uri: str, text: str, offset: int):
    position = utf16_position(text, offset)
    return await client.code_actions(lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri), range=lsp.Range(position, position),
        context=lsp.CodeActionContext(diagnostics=[])))


async def run_action(client, action):
    return await asyncio.wait_for(client.workspace_execute_command_async(lsp.ExecuteCommandParams(
        command=action.command.command, arguments=action.command.arguments)), 30)


async def test_language_server_keeps_the_proofs_of_a_declaration_that_cannot_go_in(tmp_path):
    """Both sorrys proved, but the edit is refused: the proofs stay (a message, and a diagnostic on the
    declaration with a quick fix). The quick fix re-locates the pieces in the text as it is then,
    runs the final check of the whole declaration again when the text changed, and offers the edit
    only if it passes."""
    log = tmp_path / "events.log"
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")

    def verified():
        return [d for _, e, d in read_events(log) if e == "verify-sketch"]

    try:
        await client.initialize({"backends": "test-lsp-two", "backendOptions": {"log": str(log)},
                                 "expansions": 10}, tmp_path)
        doc = client.open(tmp_path / "Two.lean", TWO)
        client.refuse_edits = "the buffer is read-only"
        (action, _suggest) = await code_actions_at(client, doc.uri, TWO, TWO.index("sorry"))
        result = await run_action(client, action)
        assert result["status"] == "proved" and result["applied"] is False
        assert result["reason"] == "the buffer is read-only" and doc.text == TWO
        assert result["proofs"] == ["exact h.symm", "exact h"]
        proofs = "line 2: exact h.symm, line 4: exact h"
        assert any(proofs in m.message for m in client.messages)  # nothing lost
        (diagnostic,) = await client.wait_for(lambda: pending_proofs(client, doc.uri))
        head = TWO.split("\n")[0]
        assert diagnostic.range == lsp.Range(lsp.Position(0, 0), utf16_position(head, len(head)))
        assert proofs in diagnostic.message and "Insert LLEMMA proofs of two" in diagnostic.message
        assert len(verified()) == 1

        # The text before the declaration changes: the diagnostic follows the declaration.
        moved = "def pad : ℕ := 1\n\n" + TWO
        client.change(doc, moved)
        await client.wait_for(lambda: [d for d in pending_proofs(client, doc.uri) if d.range.start.line == 2])
        # Inside the declaration but not on a sorry: the quick fix is offered there too.
        inside = moved.index("exact ⟨h', h''⟩")
        actions = await code_actions_at(client, doc.uri, moved, inside)
        (insert,) = [a for a in actions if a.title == "Insert LLEMMA proofs of two (2 sorrys)"]
        client.refuse_edits = ""

        # The declaration itself changed: the pieces are found again, but the final check of the
        # declaration as it stands now refuses them, so no edit is offered.
        edited = moved.replace("exact ⟨h', h''⟩", "exact (⟨h', h''⟩)")
        client.change(doc, edited)
        applied_before = len(client.applied)
        refused = await run_action(client, insert)
        assert refused["applied"] is False and "does not check in it now" in refused["reason"]
        assert len(client.applied) == applied_before and doc.text == edited
        assert len(verified()) == 2
        await client.wait_for(lambda: [d for d in pending_proofs(client, doc.uri) if "does not check" in d.message])

        # Back to a text where they hold: re-located, checked again (the text before the declaration is
        # not what the search saw), then applied as one edit.
        client.change(doc, moved)
        result = await run_action(client, insert)
        assert result == {"status": "proved", "applied": True, "reason": None}
        assert doc.text == moved.replace("by sorry", "by exact h.symm").replace("    sorry", "    exact h")
        assert len(client.applied) == applied_before + 1
        checks = verified()
        assert len(checks) == 3 and checks[2] == checks[0]
        await client.wait_for(lambda: not pending_proofs(client, doc.uri))
    finally:
        await client.close()


async def test_language_server_keeps_a_partial_result_as_a_quick_fix(tmp_path):
    """Only the first of two sorrys is proved: nothing is applied unasked; the piece stays as a
    diagnostic on the declaration with a quick fix that follows the declaration, runs the check
    `prove --write --partial` writes with (Lean elaborates the declaration with the piece in and the
    other sorry left open) when the text changed, and inserts only the proved piece."""
    log = tmp_path / "events.log"
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")

    def events(kind: str):
        return [d for _, e, d in read_events(log) if e == kind]

    title = "Insert the 1 proved sorry of two (1 remains)"
    try:
        await client.initialize({"backends": "test-lsp-two", "expansions": 10,
                                 "backendOptions": {"log": str(log), "secondProvable": False}}, tmp_path)
        doc = client.open(tmp_path / "Two.lean", TWO)
        (action, _suggest) = await code_actions_at(client, doc.uri, TWO, TWO.index("sorry"))
        result = await run_action(client, action)
        assert result["status"] == "partial" and result["partial"] == [{"line": 2, "steps": ["exact h.symm"]}]
        assert doc.text == TWO and client.applied == []  # a partial result is not applied unasked
        assert any("line 2: exact h.symm" in m.message and title in m.message for m in client.messages)
        (diagnostic,) = await client.wait_for(lambda: pending_proofs(client, doc.uri))
        head = TWO.split("\n")[0]
        assert diagnostic.range == lsp.Range(lsp.Position(0, 0), utf16_position(head, len(head)))
        assert diagnostic.message.startswith("LLEMMA proved 1 of the 2 sorrys of two")
        assert "line 2: exact h.symm" in diagnostic.message and f"Quick fix: {title}" in diagnostic.message
        # The weaker guarantee is said where the piece is offered.
        assert "the final check has not run, the declaration is not proved" in diagnostic.message
        # The search opened the sketch, then checked the piece with the other sorry left open; the
        # final check of the declaration never ran (it cannot pass while a sorry stays).
        assert len(events("open-sketch")) == 2 and events("verify-sketch") == []

        # Text added above the declaration: the diagnostic follows it, the quick fix is offered inside it.
        moved = "def pad : ℕ := 1\n\n" + TWO
        client.change(doc, moved)
        await client.wait_for(lambda: [d for d in pending_proofs(client, doc.uri) if d.range.start.line == 2])
        (insert,) = [a for a in await code_actions_at(client, doc.uri, moved, moved.index("exact ⟨h', h''⟩")) if a.title == title]

        # The declaration itself changed: the piece is found again, but Lean does not elaborate the
        # declaration as it stands now with it, so nothing is applied.
        edited = moved.replace("exact ⟨h', h''⟩", "exact (⟨h', h''⟩)")
        client.change(doc, edited)
        refused = await run_action(client, insert)
        assert refused["status"] == "partial" and refused["applied"] is False
        assert "does not check in it now" in refused["reason"] and "does not elaborate" in refused["reason"]
        assert client.applied == [] and doc.text == edited
        assert len(events("open-sketch")) == 3
        await client.wait_for(lambda: [d for d in pending_proofs(client, doc.uri) if "does not check" in d.message])

        # Back to a text where it holds: found again, checked again (the text before the declaration is
        # not what the search saw), and only the proved piece goes in; the other sorry stays.
        client.change(doc, moved)
        result = await run_action(client, insert)
        assert result == {"status": "partial", "applied": True, "reason": None}
        assert doc.text == moved.replace("by sorry", "by exact h.symm") and "    sorry\n" in doc.text
        assert len(client.applied) == 1
        assert len(events("open-sketch")) == 4 and events("verify-sketch") == []
        await client.wait_for(lambda: not pending_proofs(client, doc.uri))
    finally:
        await client.close()


async def test_a_partial_result_in_an_unchanged_text_goes_in_as_checked(tmp_path):
    """Nothing changed since the search: the quick fix inserts the piece as the partial check passed it
    (no new check, as `prove --write --partial` writes an unchanged file); the other sorry stays."""
    log = tmp_path / "events.log"
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")
    try:
        await client.initialize({"backends": "test-lsp-two", "expansions": 10,
                                 "backendOptions": {"log": str(log), "secondProvable": False}}, tmp_path)
        doc = client.open(tmp_path / "Two.lean", TWO)
        position = utf16_position(TWO, TWO.index("sorry"))
        params = lsp.CodeActionParams(text_document=lsp.TextDocumentIdentifier(uri=doc.uri),
                                      range=lsp.Range(position, position), context=lsp.CodeActionContext(diagnostics=[]))
        (action, _suggest) = await client.code_actions(params)
        await asyncio.wait_for(client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments)), 30)
        (insert,) = [a for a in await client.code_actions(params) if a.title.startswith("Insert the")]
        opened = len([e for _, e, _ in read_events(log) if e == "open-sketch"])
        result = await asyncio.wait_for(client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command=insert.command.command, arguments=insert.command.arguments)), 30)
        assert result == {"status": "partial", "applied": True, "reason": None}
        assert doc.text == TWO.replace("by sorry", "by exact h.symm")
        assert len([e for _, e, _ in read_events(log) if e == "open-sketch"]) == opened == 2
    finally:
        await client.close()


async def test_a_piece_that_brings_its_own_sorry_is_never_a_partial_write():
    """The partial check counts the sorrys left: a piece that adds one is refused before Lean is asked."""
    from llemma_prove.editor.session import recheck_declaration

    first, _second = lean(TWO).targets
    backends = two_backends(second_provable=False)
    (outcome, ) = await recheck_declaration([first], [("skip", "sorry")], backends, remaining=1)
    assert outcome.status == "rejected" and outcome.edit is None and not outcome.partial
    assert "it would keep 2 sorrys where 1 were left open" in outcome.reason
    assert backends.prover_double.sketches == []
    # Without `remaining`, the count of sorrys must match the pieces: a partial set is refused.
    (outcome, ) = await recheck_declaration([first], [("exact h.symm",)], backends)
    assert outcome.status == "rejected" and "now has 2 sorrys and the proofs are for 1" in outcome.reason


def lsp_two_backends(config: EditorConfig):
    """Option `secondProvable` (default true): false makes the second sorry of `TWO` unprovable."""
    return two_backends(second_provable=bool(config.backend_options.get("secondProvable", True)), config=config)


LSP_TWO_BACKENDS = EditorBackendsPlugin("test-lsp-two", lsp_two_backends, "tests only (tests/plugin_dist)")
