"""Lean's own view of a file's `sorry`s decides which are tactic holes; the text scanner is only the
fallback. Lean here is the stand-in REPL (a test double, `tests/doubles/fake_repl.py`) in its
synthetic mode, which reports `sorries` and, with `allTactics`, `tactics` as REPL v4.24.0 does."""

from __future__ import annotations

import json

import pytest

from llemma_prove.editor.backends import EditorConfig
from llemma_prove.plugins import EditorBackendsPlugin
from llemma_prove.editor.lean_syntax import LineIndex
from llemma_prove.editor.lean_view import LeanView, SorryRole, lean_view, view_from_response
from llemma_prove.editor.prove_file import prove_file
from llemma_prove.editor.targets import HoleKind, locate
from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.messages import CommandResponse
from llemma_prove.types import Language
from tests.doubles.scripted import ScriptedProposer
from tests.lean.conftest import fake_options
from tests.editor.doubles import LeanReplBackends

CONFIG = EditorConfig(expansions=10, candidates=4, time_limit_s=30)

# One declaration per case, so that no case is a sibling of another.
CASES = {
    "succ_alt": "theorem succ_alt (n : Nat) : n + 0 = n := by\n  induction n with\n  | zero => rfl\n  | succ m ih => sorry\n",
    "bullet_comment": "theorem bullet_comment (p : Prop) (hp : p) : p ∧ p := by\n  constructor\n  · -- the left one\n    sorry\n  · exact hp\n",
    "try_braces": "theorem try_braces (p : Prop) (hp : p) : p := by\n  try { sorry }\n  exact hp\n",
    "after_seq": "theorem after_seq (p : Prop) (hp : p) : p ∧ p := by\n  constructor <;>\n    sorry\n",
    "all_goals": "theorem all_goals_case (p : Prop) (hp : p) : p ∧ p := by\n  constructor\n  all_goals sorry\n",
    "simp_term": "theorem simp_term (a b : Nat) (h : a = b) : b = a := by\n  simp [h,\n    sorry]\n  rfl\n",
    # The scanner misjudges these two; Lean does not.
    "first_alt": "theorem first_alt (p : Prop) (hp : p) : p := by\n  first | exact hp | sorry\n  done\n",
    "exact_next_line": "theorem exact_next_line (p : Prop) : p := by\n  intro\n  exact\n  sorry\n",
}


def lean_backends(*extra: str, proposer: ScriptedProposer | None = None) -> LeanReplBackends:
    prover = LeanReplProver(fake_options("--synthetic", *extra))
    return LeanReplBackends(prover, proposer or ScriptedProposer({}))


async def view_of(text: str, *extra: str) -> LeanView:
    backends = lean_backends(*extra)
    try:
        view = await lean_view(text, locate(text, Language.LEAN4).header, backends)
    finally:
        await backends.close()
    assert view is not None
    return view


def kinds(text: str, view: LeanView | None) -> dict[str, HoleKind]:
    return {t.declaration.name: t.kind for t in locate(text, Language.LEAN4, view).targets}


# --------------------------------------------------------------------------------- positions


def test_repl_positions_map_to_offsets_by_code_points_and_lf_only():
    text = "a\r\nβ𝔽 x sorry\u2028y\nz"
    lines = LineIndex(text)
    assert lines.starts == [0, 3, text.index("z")]  # `\u2028` is no line break for Lean's FileMap
    at = lines.checked_offset(2, 5)
    assert text[at:at + 5] == "sorry"  # column 5: β, 𝔽 (one code point, two UTF-16 units), space, x, space
    assert lines.checked_offset(4, 0) is None and lines.checked_offset(1, 9) is None


def test_term_and_tactic_sorries_are_told_apart_by_the_tactics_list():
    """The recorded `dup_sorries` (term `:= sorry`) and `tactic_sorry` (`by sorry`) transcripts report
    the two alike in `sorries`; only `allTactics` lists the `sorry` tactic, with the same range."""
    text = "theorem a : 1 = 1 := by\n  have h : 2 = 2 := sorry\n  sorry\n"
    response = CommandResponse.from_json({
        "sorries": [
            {"proofState": 0, "pos": {"line": 3, "column": 2}, "goal": "h : 2 = 2\n⊢ 1 = 1",
             "endPos": {"line": 3, "column": 7}},
            {"proofState": 1, "pos": {"line": 2, "column": 20}, "goal": "⊢ 2 = 2", "endPos": {"line": 2, "column": 25}}],
        "tactics": [
            {"usedConstants": [], "tactic": "have h : 2 = 2 := sorry", "proofState": 2, "goals": "⊢ 1 = 1",
             "pos": {"line": 2, "column": 2}, "endPos": {"line": 2, "column": 25}},
            {"usedConstants": [], "tactic": "sorry", "proofState": 3, "goals": "h : 2 = 2\n⊢ 1 = 1",
             "pos": {"line": 3, "column": 2}, "endPos": {"line": 3, "column": 7}}],
        "messages": [{"severity": "warning", "pos": {"line": 1, "column": 8}, "endPos": {"line": 1, "column": 9},
                      "data": "declaration uses 'sorry'"}],
        "env": 1})
    view = view_from_response(text, 0, response, locate(text, Language.LEAN4).declarations)
    (decl_text,) = view.roles
    roles = {text[off:off + 5] + str(off): s.role for off, s in view.roles[decl_text].items()}
    assert sorted(roles.values()) == [SorryRole.TACTIC, SorryRole.TERM]
    assert view.role(decl_text, text.index("sorry")) is SorryRole.TERM
    assert view.role(decl_text, text.rindex("sorry")) is SorryRole.TACTIC
    targets = locate(text, Language.LEAN4, view).targets
    assert [t.kind for t in targets] == [HoleKind.UNSUPPORTED, HoleKind.UNSUPPORTED]
    assert "Lean elaborates this sorry as a term" in targets[0].reason
    assert "stands for a term" in targets[1].reason  # its sibling is a term: the final check needs both filled


def test_a_declaration_with_an_error_is_left_to_the_scanner():
    text = "theorem a (p : Prop) (hp : p) : p := by\n  first | exact hp | sorry\n"
    response = CommandResponse.from_json({
        "sorries": [{"proofState": 0, "pos": {"line": 2, "column": 21}, "goal": "⊢ p", "endPos": {"line": 2, "column": 26}}],
        "tactics": [{"tactic": "sorry", "proofState": 1, "goals": "⊢ p", "pos": {"line": 2, "column": 21},
                     "endPos": {"line": 2, "column": 26}}],
        "messages": [{"severity": "error", "pos": {"line": 1, "column": 8}, "endPos": {"line": 1, "column": 9},
                      "data": "unknown identifier"}],
        "env": 1})
    view = view_from_response(text, 0, response, locate(text, Language.LEAN4).declarations)
    assert view.roles == {}
    assert locate(text, Language.LEAN4, view).targets[0].kind is HoleKind.UNSUPPORTED


# ------------------------------------------------------------------- the stand-in REPL as Lean


async def test_the_issue_cases_are_decided_by_lean(no_leftover_children):
    text = "".join(CASES[name] + "\n" for name in CASES)
    scanner = kinds(text, None)
    lean = kinds(text, await view_of(text))
    expected = {"succ_alt": HoleKind.NESTED, "bullet_comment": HoleKind.NESTED, "try_braces": HoleKind.NESTED,
                "after_seq": HoleKind.NESTED, "all_goals": HoleKind.NESTED, "simp_term": HoleKind.UNSUPPORTED,
                "first_alt": HoleKind.NESTED, "exact_next_line": HoleKind.UNSUPPORTED}
    assert lean == {("all_goals_case" if k == "all_goals" else k): v for k, v in expected.items()}
    # where the scanner guessed wrong: `first | ... | sorry` is a tactic, the line after `exact` a term
    assert scanner["first_alt"] is HoleKind.UNSUPPORTED and scanner["exact_next_line"] is HoleKind.LAST_STEP
    reasons = {t.declaration.name: t.reason for t in locate(text, Language.LEAN4, await view_of(text)).targets}
    assert reasons["simp_term"].startswith("Lean elaborates this sorry as a term")
    assert reasons["exact_next_line"].startswith("Lean elaborates this sorry as a term")


async def test_crlf_and_unicode_before_the_sorry(no_leftover_children):
    text = ("open Nat\r\n\r\n/-- ∀ε: 𝔽 -/\r\ntheorem uni (α : Type) (a : α) (p : Prop) (hp : p) : p := by\r\n"
            "  -- 𝔽 and ∀ε, written before the hole\r\n"
            "  first | exact (hp : p) /- 𝔽𝔾 -/ | sorry\r\n  done\r\n")
    assert locate(text, Language.LEAN4).header == "open Nat\r\n\r\n"  # elaborated first, on its own
    view = await view_of(text)
    (decl_text,) = view.roles
    (entry,) = view.roles[decl_text].values()
    assert text[entry.start:entry.end] == "sorry" and entry.start == text.index("sorry")
    assert entry.role is SorryRole.TACTIC
    (target,) = locate(text, Language.LEAN4, view).targets
    assert target.kind is HoleKind.NESTED and target.start == text.index("sorry")
    assert target.insertion.newline == "\r\n" and target.insertion.single_tactic


async def test_a_sorry_only_lean_sees_as_a_tactic_is_proved_and_checked(tmp_path, no_leftover_children):
    """End to end: `prove FILE` asks Lean, searches the hole the scanner refused, from the goal Lean
    reports there, and keeps the edit only after the final check of the filled declaration."""
    text = "theorem first_alt (p : Prop) (hp : p) : p := by\n  first | exact hp | sorry\n  done\n"
    path = tmp_path / "First.lean"
    path.write_bytes(text.encode("utf-8"))
    log = tmp_path / "requests.jsonl"
    # the stand-in's world: `close...` completes a goal
    backends = lean_backends("--log", str(log), proposer=ScriptedProposer({"⊢ first_alt": [("close_it", -0.1)]}))
    try:
        report = await prove_file(path, CONFIG, backends=backends)
    finally:
        await backends.close()
    (outcome,) = report.outcomes
    assert outcome.proved, outcome.reason
    assert outcome.target.kind is HoleKind.NESTED
    assert report.new_text == text.replace("| sorry", "| close_it")
    assert outcome.checked_text.endswith("first | exact hp | close_it\n  done\n")
    requests = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert requests[0] == {"cmd": text, "allTactics": True}  # the file went to Lean once, whole
    assert path.read_text(encoding="utf-8") == text  # not asked to write


async def test_without_lean_the_scanner_decides(tmp_path):
    """No Lean REPL (the scripted doubles): the scanner's verdicts stand, and a refused sorry asked
    for by line is a one-line error before any search."""
    from llemma_prove.editor.errors import UnsupportedTarget
    from tests.editor.doubles import sample_backends

    text = CASES["first_alt"] + "\n" + CASES["succ_alt"]
    path = tmp_path / "NoLean.lean"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UnsupportedTarget, match="tactic position"):
        await prove_file(path, CONFIG, line=2, backends=sample_backends(CONFIG))
    report = await prove_file(path, CONFIG, backends=sample_backends(CONFIG))
    assert [o.target.kind for o in report.outcomes][0] is HoleKind.UNSUPPORTED


async def test_a_file_lean_cannot_take_falls_back_to_the_scanner(no_leftover_children):
    """A header the REPL processes do not import: no view, so `locate` keeps the scanner's reading."""
    text = "import Mathlib\n\n" + CASES["succ_alt"]
    backends = lean_backends()
    try:
        view = await lean_view(text, locate(text, Language.LEAN4).header, backends)
    finally:
        await backends.close()
    assert view is None
    assert kinds(text, view) == {"succ_alt": HoleKind.NESTED}


# ------------------------------------------------------------------------------- language server


def lsp_lean_backends(config: EditorConfig) -> LeanReplBackends:
    """For the language server (its own process): the real REPL prover on the stand-in REPL."""
    return lean_backends(proposer=ScriptedProposer({"⊢ first_alt": [("close_it", -0.1)]}))


LSP_LEAN_BACKENDS = EditorBackendsPlugin("test-lean-view", lsp_lean_backends, "tests only (tests/plugin_dist)")


async def test_language_server_asks_lean_before_refusing(tmp_path):
    """The scanner refuses `first | ... | sorry`; the server offers the action anyway (Lean may decide),
    elaborates the document once when it is run, and proves the hole Lean reports as a tactic."""
    from lsprotocol import types as lsp

    from tests.editor.lsp_client import EditorClient, utf16_position

    text = CASES["first_alt"]
    client = EditorClient()
    await client.start("llemma_prove.editor.lsp_server")
    try:
        await client.initialize({"backends": "test-lean-view", "expansions": 10}, tmp_path)
        doc = client.open(tmp_path / "First.lean", text)
        position = utf16_position(text, text.index("sorry"))
        actions = await client.code_actions(lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=doc.uri), range=lsp.Range(position, position),
            context=lsp.CodeActionContext(diagnostics=[])))
        (action,) = [a for a in actions if a.title == "Prove with LLEMMA"]
        assert action.disabled is None and action.command is not None
        import asyncio

        result = await asyncio.wait_for(client.workspace_execute_command_async(lsp.ExecuteCommandParams(
            command=action.command.command, arguments=action.command.arguments)), 60)
        assert result["status"] == "proved" and result["applied"] is True, result
        assert doc.text == text.replace("| sorry", "| close_it")
    finally:
        await client.close()


def test_a_sorry_lean_does_not_report_is_not_searched():
    """Lean elaborated the declaration without an error and reported no `sorry` at this one (the REPL
    drops a term `sorry` without an expected type): it is refused, whatever the layout suggests."""
    text = "theorem quiet (p : Prop) (hp : p) : p := by\n  have := sorry\n  sorry\n"
    last = text.rindex("sorry")
    response = CommandResponse.from_json({
        "sorries": [{"proofState": 0, "pos": {"line": 3, "column": 2}, "goal": "⊢ p", "endPos": {"line": 3, "column": 7}}],
        "tactics": [{"tactic": "sorry", "proofState": 1, "goals": "⊢ p", "pos": {"line": 3, "column": 2},
                     "endPos": {"line": 3, "column": 7}}],
        "env": 1})
    view = view_from_response(text, 0, response, locate(text, Language.LEAN4).declarations)
    first, second = locate(text, Language.LEAN4, view).targets
    assert first.kind is HoleKind.UNSUPPORTED and first.reason.startswith("Lean reports no goal")
    assert second.start == last and second.kind is HoleKind.UNSUPPORTED  # its sibling cannot be filled


def test_lean_is_asked_only_where_its_answer_can_differ():
    from llemma_prove.editor.lean_targets import lean_may_decide

    text = ("theorem a : True ∧ True := by\n  constructor\n  · exact sorry\n  · first | trivial | sorry\n\n"
            "theorem b : True := by sorry\n")
    exact_term, first_alt, whole = locate(text, Language.LEAN4).targets
    assert not lean_may_decide(exact_term, text)  # after `exact` the grammar expects a term
    assert lean_may_decide(first_alt, text)
    assert not lean_may_decide(whole, text)  # `:= by sorry` needs no view
