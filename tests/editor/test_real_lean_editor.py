"""The editor paths on real Lean (marker `lean`; skipped where `lake` or the built project is absent):
tactic-position sorrys of the new kinds and two sorrys of one declaration, searched from the goals the
REPL reports, written only after the final check; a scripted proposer stands in for the model."""

from __future__ import annotations

import pytest

from llemma_prove.editor.backends import EditorConfig
from llemma_prove.editor.prove_file import prove_file
from llemma_prove.provers.lean import LeanOptions, LeanReplProver
from tests.conftest import require_built_lean
from tests.doubles.scripted import ScriptedProposer
from tests.editor.doubles import LeanReplBackends

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900)]

CONFIG = EditorConfig(expansions=5, candidates=4, time_limit_s=300)


class GoalTable(dict):
    """Proposer table keyed by a goal's conclusion (its `⊢` line), so that the exact way Lean prints
    the hypotheses and case names does not matter to the test."""

    def get(self, key, default=None):
        conclusion = key.strip().splitlines()[-1] if key.strip() else key
        return super().get(conclusion, default)


TEXT = """theorem two (a b : Nat) (h : a = b) : b = a ∧ a = b := by
  have h1 : b = a := by sorry
  have h2 : a = b := by
    -- the second one
    sorry
  exact ⟨h1, h2⟩

theorem alts (n : Nat) : n + 0 = n := by
  induction n with
  | zero => rfl
  | succ m ih => sorry
"""


async def prove_on_real_lean(path, table):
    """`prove FILE --write` on real Lean with scripted tactic candidates."""
    backends = LeanReplBackends(LeanReplProver(LeanOptions(workers=1, header="")), ScriptedProposer(GoalTable(table)))
    try:
        return await prove_file(path, CONFIG, write=True, backends=backends)
    finally:
        await backends.close()


async def test_two_sorrys_and_an_alternative_on_real_lean(tmp_path):
    require_built_lean()
    path = tmp_path / "Real.lean"
    path.write_text(TEXT, encoding="utf-8")
    table = {
        "⊢ b = a": [("rfl", -0.2), ("exact h.symm", -0.3)],
        "⊢ a = b": [("exact h", -0.1)],
        "⊢ m + 1 + 0 = m + 1": [("rfl", -0.1)],
    }
    report = await prove_on_real_lean(path, table)
    assert [o.status for o in report.outcomes] == ["proved"] * 3, [o.reason for o in report.outcomes]
    assert report.written
    text = path.read_text(encoding="utf-8")
    assert "have h1 : b = a := by exact h.symm" in text and "    exact h\n" in text
    assert "| succ m ih => rfl" in text and "sorry" not in text


GOALS_TEXT = """theorem split_goals (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  constructor <;> sorry

theorem same_goals (p : Prop) (hp : p) : p ∧ p := by
  constructor
  all_goals sorry
"""


async def test_a_sorry_on_two_goals_on_real_lean(tmp_path):
    """One `sorry` Lean runs on two goals: each goal searched from the REPL's own entry for it; distinct
    proofs go in as `first | (focus P1; done) | (focus P2; done)`, one proof for both as it is, and
    the final check of the file as written accepts both (the layout is Lean's to judge, not ours)."""
    require_built_lean()
    path = tmp_path / "Goals.lean"
    path.write_text(GOALS_TEXT, encoding="utf-8")
    table = {"⊢ p": [("exact hq", -0.1), ("exact hp", -0.2)], "⊢ q": [("exact hq", -0.1)]}
    report = await prove_on_real_lean(path, table)
    assert [o.status for o in report.outcomes] == ["proved"] * 2, [o.reason for o in report.outcomes]
    text = path.read_text(encoding="utf-8")
    assert "  constructor <;> first | (focus exact hp; done) | (focus exact hq; done)\n" in text
    assert "  all_goals exact hp\n" in text and "sorry" not in text
