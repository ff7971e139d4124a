"""One `sorry` that Lean runs on several goals (`all_goals sorry`, `any_goals sorry`, `t <;> sorry`).

The REPL answers such a `sorry` with one `sorries` entry per goal, all at the same position (the
stand-in REPL, a test double, models this in its synthetic world: two goals, `case left` and
`case right`). The replacement text runs on every goal, so every goal is searched, each from its own
proof state; a proof found for one goal is tried on the next before searching it; distinct proofs are
combined with `first | (focus P1; done) | ...`; a goal left unproved leaves the `sorry` in place.
Driven through `prove FILE` (the real Lean REPL prover and sketch adapter on the stand-in REPL).
"""

from __future__ import annotations

import json

import pytest

from llemma_prove.autoformalize.holes import lean_every_goal_text
from llemma_prove.editor.backends import EditorConfig
from llemma_prove.editor.prove_file import prove_file
from llemma_prove.editor.session import PARTIAL
from tests.doubles.scripted import ScriptedProposer
from tests.editor.test_lean_view import lean_backends

CONFIG = EditorConfig(expansions=10, candidates=4, time_limit_s=30)


def requests_of(log) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def searched(proposer: ScriptedProposer) -> list[str]:
    return [r.state.text for r in proposer.requests]


async def run(tmp_path, text: str, table: dict, **kwargs):
    path = tmp_path / "Goals.lean"
    path.write_bytes(text.encode("utf-8"))
    log = tmp_path / "requests.jsonl"
    proposer = ScriptedProposer(table)
    backends = lean_backends("--log", str(log), proposer=proposer)
    try:
        report = await prove_file(path, CONFIG, backends=backends, **kwargs)
    finally:
        await backends.close()
    return report, proposer, requests_of(log), path


async def test_one_proof_that_closes_every_goal_is_used_as_it_is(tmp_path, no_leftover_children):
    """The proof found for the first goal is run on the second goal's own proof state and closes it:
    the second goal is never searched, and the `sorry` becomes that proof."""
    text = "theorem both (p : Prop) (hp : p) : p ∧ p := by\n  constructor\n  all_goals sorry\n"
    report, proposer, requests, _ = await run(tmp_path, text, {"case left\n⊢ both": [("close_it", -0.1)]})
    (outcome,) = report.outcomes
    assert outcome.proved, outcome.reason
    assert report.new_text == text.replace("all_goals sorry", "all_goals close_it")
    assert outcome.checked_text.endswith("  constructor\n  all_goals close_it\n")
    assert searched(proposer) == ["case left\n⊢ both"]
    # Both goals' proof states (one per `sorries` entry at the one position) ran the proof.
    sketch = next(r for r in requests if "cmd" in r and "constructor" in r["cmd"] and "allTactics" not in r)
    states = [r["proofState"] for r in requests if r.get("tactic") == "close_it"]
    assert len(states) == 2 and states[0] != states[1], (sketch, requests)


async def test_different_proofs_per_goal_are_combined_so_each_goal_gets_its_own(tmp_path, no_leftover_children):
    """`close_if left` closes only the left goal: it is tried on the right one, fails, and the right
    goal is searched from its own state. The `sorry` after `<;>` becomes one tactic that tries each
    proof in turn, each required to close its goal."""
    text = "theorem split (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor <;> sorry\n"
    table = {"case left\n⊢ split": [("close_if left", -0.1)], "case right\n⊢ split": [("close_if right", -0.1)]}
    report, proposer, requests, _ = await run(tmp_path, text, table, write=True)
    (outcome,) = report.outcomes
    assert outcome.proved, outcome.reason
    combined = "first | (focus close_if left; done) | (focus close_if right; done)"
    assert outcome.steps == (combined,)
    assert report.new_text == text.replace("<;> sorry", "<;> " + combined)
    assert report.written and (tmp_path / "Goals.lean").read_text(encoding="utf-8") == report.new_text
    assert searched(proposer) == ["case left\n⊢ split", "case right\n⊢ split"]
    tried = [(r["tactic"], r["proofState"]) for r in requests if "tactic" in r]
    left_state = next(s for t, s in tried if t == "close_if left")
    right_state = next(s for t, s in tried if t == "close_if right")
    assert left_state != right_state
    assert ("close_if left", right_state) in tried  # tried on the right goal before searching it
    # The final check ran on exactly the written text (the synthetic world accepts any sorry-free
    # text; what it saw is what is checked here).
    assert outcome.checked_text.endswith("  constructor <;> " + combined + "\n")


async def test_multi_line_proofs_are_laid_out_as_blocks_at_the_sorry(tmp_path, no_leftover_children):
    text = "theorem lay (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  any_goals sorry\n  done\n"
    step = "have h := hp\n  exact h"  # a multi-line step, continuation relative to its first line
    table = {"case left\n⊢ lay": [(step, -0.1)], f"case left\n⊢ lay ▸ {step}": [("close_if left", -0.1)],
             "case right\n⊢ lay": [("close_if right", -0.1)]}
    report, _, _, _ = await run(tmp_path, text, table)
    (outcome,) = report.outcomes
    assert outcome.proved, outcome.reason
    assert report.new_text == text.replace("  any_goals sorry\n", (
        "  any_goals first\n"
        "              | (focus\n"
        "                  have h := hp\n"
        "                    exact h\n"
        "                  close_if left\n"
        "                  done)\n"
        "              | (focus close_if right; done)\n"))


async def test_a_goal_left_unproved_leaves_the_sorry_and_the_sibling_is_partial(tmp_path, no_leftover_children):
    """The left goal is proved, the right one is not: the `<;> sorry` is not filled (its replacement
    would run on the right goal too). Its sibling `have` is found, and with `--partial` only that one is
    written, as for any declaration with an unproved sorry."""
    text = ("theorem part (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n"
            "  have h : p := by sorry\n"
            "  constructor <;> sorry\n")
    table = {"⊢ part @2:19": [("close_it", -0.1)], "case left\n⊢ part @3:18": [("close_if left", -0.1)]}
    report, proposer, _, path = await run(tmp_path, text, table, write=True, partial=True)
    have, seq = report.outcomes
    assert have.status == PARTIAL and have.partial, have.reason
    assert not seq.proved and seq.edit is None
    assert seq.status == "exhausted", seq.reason
    assert "this sorry runs on 2 goals; goal 2 (`case right`)" in seq.reason
    assert "goal 1 was proved (by `close_if left`), but the sorry is replaced only when every goal is" in seq.reason
    assert searched(proposer)[-1] == "case right\n⊢ part @3:18"
    assert report.written
    assert path.read_text(encoding="utf-8") == text.replace("have h : p := by sorry", "have h : p := by close_it")


async def test_without_partial_a_partly_proved_sorry_writes_nothing(tmp_path, no_leftover_children):
    text = "theorem half (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  all_goals sorry\n"
    report, _, _, path = await run(tmp_path, text, {"case left\n⊢ half": [("close_if left", -0.1)]}, write=True)
    (outcome,) = report.outcomes
    assert not outcome.proved and "goal 2 (`case right`)" in outcome.reason
    assert not report.written and path.read_text(encoding="utf-8") == text


# ------------------------------------------------------------------------------------ layout


def test_one_distinct_proof_is_given_back_and_several_are_tried_in_turn():
    assert lean_every_goal_text([("simp",), ("simp",)]) == "simp"
    assert lean_every_goal_text([("intro h", "exact h"), ("simp",), ("intro h", "exact h")]) == (
        "first | (focus intro h; exact h; done) | (focus simp; done)")
    block = lean_every_goal_text([("have k : p := by\n  exact hp", "exact k"), ("simp",)])
    assert block == ("first\n"
                     "  | (focus\n"
                     "      have k : p := by\n"
                     "        exact hp\n"
                     "      exact k\n"
                     "      done)\n"
                     "  | (focus simp; done)")
    with pytest.raises(ValueError):
        lean_every_goal_text([("simp",), ()])
