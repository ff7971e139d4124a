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

from llemma_prove.cli import main
from llemma_prove.editor.backends import EditorConfig
from llemma_prove.editor.errors import UnsupportedTarget
from llemma_prove.editor.prove_file import prove_file
from llemma_prove.editor.session import UNSUPPORTED, prove_target
from llemma_prove.editor.targets import HoleKind, locate
from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.sketch import sketch_command
from llemma_prove.types import Language, Theorem
from tests.doubles.scripted import ScriptedProposer
from tests.editor.doubles import NESTED_LEAN, nested_backends, read_events, sample_backends
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


def test_term_position_and_several_sorrys_stay_unsupported_with_the_reason():
    text = (
        "theorem t1 (p : Prop) (hp : p) : p ∧ p := by\n  constructor\n  · exact sorry\n  · exact hp\n\n"
        "theorem t2 (x : ℕ) : x = x := by\n  have k : x = x := by sorry\n  have j : x = x := by sorry\n  exact k\n\n"
        "theorem t3 (x : ℕ) : x = x := by\n  simp; sorry\n"
    )
    term, first, second, chained = lean(text).targets
    assert term.kind is HoleKind.UNSUPPORTED and "nested inside the tactic `·` at line 3" in term.reason
    assert "only in tactic position" in term.reason
    assert first.kind is HoleKind.UNSUPPORTED and second.kind is HoleKind.UNSUPPORTED
    assert "the proof has other sorrys (line 8)" in first.reason
    assert "the proof has other sorrys (line 7)" in second.reason
    assert "only sorry left in its declaration" in first.reason
    with pytest.raises(UnsupportedTarget, match=r"sorry at line 7, column 24: this sorry is nested inside the tactic"):
        first.require_supported()
    assert chained.kind is HoleKind.UNSUPPORTED and "only in tactic position" in chained.reason


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


async def test_two_sorrys_are_refused_before_any_search(tmp_path):
    path = tmp_path / "Two.lean"
    path.write_text("theorem with_have (a b : ℕ) (h : a = b) : b = a := by\n"
                    "  have h' : b = a := by sorry\n  have h'' : a = b := by sorry\n  exact h'\n", encoding="utf-8")
    backends = nested_backends(CONFIG)
    with pytest.raises(UnsupportedTarget, match=r"the proof has other sorrys \(line 3\)"):
        await prove_file(path, CONFIG, line=2, backends=backends)
    report = await prove_file(path, CONFIG, backends=backends)
    assert [o.status for o in report.outcomes] == [UNSUPPORTED, UNSUPPORTED]
    assert backends.prover_double.sketches == [] and backends.prover_double.calls == []


async def test_a_prover_without_sketches_reports_why():
    (target,) = [t for t in lean(NESTED_LEAN).targets if t.declaration.name == "with_have"]
    outcome = await prove_target(target, sample_backends(CONFIG), CONFIG)
    assert outcome.status == UNSUPPORTED and "cannot open a proof sketch" in outcome.reason


# --------------------------------------------------------------- the real Lean adapter, stand-in REPL


class FakeReplBackends:
    """`Backends` with the real `LeanReplProver` on the stand-in REPL (a test double) and a scripted
    proposer: the sketch capability comes from `provers/lean/sketch.py`."""

    def __init__(self, prover: LeanReplProver, proposer: ScriptedProposer) -> None:
        self.lean = prover
        self.proposer_double = proposer

    async def prover(self, theorem: Theorem) -> LeanReplProver:
        await self.lean.start()
        return self.lean

    async def proposer(self, language: Language) -> ScriptedProposer:
        return self.proposer_double

    async def close(self) -> None:
        await self.lean.close()


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
    backends = FakeReplBackends(prover, proposer)
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
        (action,) = await client.code_actions(lsp.CodeActionParams(
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
