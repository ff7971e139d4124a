"""The final check: only a proof Isabelle accepts for the benchmark's own statement is ACCEPTED.

The fake PISA is scripted the way PISA behaves under quick_and_dirty: it happily accepts `sorry`
and reports proof level 0 after `oops`. Every rejection below comes from the prover's own checks.
"""

from __future__ import annotations

import pytest

from llemma_prove.provers.isabelle.theory import forbidden_reason, header_theory_name
from llemma_prove.types import OutcomeKind, Proof, Verdict
from tests.doubles.fake_pisa import closes, goes_to

from .conftest import ROOT_STATE, prover_on_fake, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

MID = "proof (prove)\ngoal (1 subgoal):\n 1. 4 = 4"
OTHER_HEADER = "theory toy_add imports Complex_Main\nbegin"
OTHER_STATEMENT = 'theorem toy_add:\n  fixes x :: nat\n  assumes h0: "x + 3 = 8"\n  shows "x = 4"'
OTHER_ROOT = "proof (prove)\ngoal (1 subgoal):\n 1. x = 4 (other)"


def quick_and_dirty_script():
    script = toy_script()
    script.add(ROOT_STATE, "using h0 by simp", closes())
    script.add(ROOT_STATE, "apply (simp add: h0)", goes_to(MID))
    script.add(MID, "done", closes())
    script.add(ROOT_STATE, "sorry", closes())  # quick_and_dirty: accepted
    script.add(ROOT_STATE, "oops", closes())  # drops to proof level 0 without a theorem
    script.add(ROOT_STATE, "by (tactic \\<open>Skip_Proof.cheat_tac @{context} 1\\<close>)", closes())
    script.add("", 'lemma extra: "True" by simp', closes())  # a theory-level command after the proof
    script.add("", f"{OTHER_HEADER}\n\n{OTHER_STATEMENT}", goes_to(OTHER_ROOT))
    return script


async def test_a_correct_proof_is_accepted_after_a_fresh_replay(context_files) -> None:
    async with prover_on_fake(quick_and_dirty_script(), context_files) as (prover, fake):
        theorem = toy_theorem()
        verdict = await prover.verify(theorem, Proof(("apply (simp add: h0)", "done")))
        assert verdict.verdict is Verdict.ACCEPTED, verdict.reason
        assert verdict.details["pisa_replay"] == "ok"
        assert verdict.checked_text.startswith("theory toy_add imports Complex_Main\nbegin\n\ntheorem toy_add:")
        assert verdict.checked_text.rstrip().endswith("apply (simp add: h0)\ndone\n\nend")
        assert any(c.startswith("<parse text>") for c in fake.commands)
        # nothing of the check is left on the server
        assert set(fake.states) == {"default"}


@pytest.mark.parametrize(
    "steps, why",
    [
        (("sorry",), "sorry"),
        (("oops",), "oops"),
        (("by (tactic \\<open>Skip_Proof.cheat_tac @{context} 1\\<close>)",), "ML tactic"),
        (("apply (simp add: h0)", "sorry"), "sorry"),
    ],
)
async def test_cheats_are_rejected_even_though_pisa_accepts_them(context_files, steps, why) -> None:
    async with prover_on_fake(quick_and_dirty_script(), context_files) as (prover, fake):
        verdict = await prover.verify(toy_theorem(), Proof(steps))
        assert verdict.verdict is Verdict.REJECTED
        assert why in verdict.reason


async def test_pisa_itself_would_have_called_sorry_finished(context_files) -> None:
    """Why the checks above matter: the raw server reports `sorry` and `oops` as finished proofs."""
    async with prover_on_fake(quick_and_dirty_script(), context_files) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        client = session.worker.client
        for cheat in ("sorry", "oops"):
            reply = await client.apply(root.handle.name, cheat, f"cheat_{cheat}", 5.0)
            assert reply.ok and await client.is_finished(f"cheat_{cheat}")
            await client.delete(f"cheat_{cheat}")
        await session.close()


async def test_a_proof_of_a_different_statement_is_rejected(context_files) -> None:
    async with prover_on_fake(quick_and_dirty_script(), context_files) as (prover, fake):
        proof = Proof(("using h0 by simp",))
        assert (await prover.verify(toy_theorem(), proof)).accepted
        other = toy_theorem(statement=OTHER_STATEMENT)
        verdict = await prover.verify(other, proof)
        assert verdict.verdict is Verdict.REJECTED
        assert "fails on replay" in verdict.reason
        assert OTHER_STATEMENT in verdict.checked_text  # the check ran on the other theorem's own text


async def test_closing_the_theorem_before_the_proof_ends_is_rejected(context_files) -> None:
    """Level 0 is not enough: after the target closes, nothing else may run (it could prove anything)."""
    async with prover_on_fake(quick_and_dirty_script(), context_files) as (prover, fake):
        theorem = toy_theorem()
        for steps in (("using h0 by simp", 'lemma extra: "True" by simp'), ('using h0 by simp\nlemma extra: "True" by simp',)):
            verdict = await prover.verify(theorem, Proof(steps))
            assert verdict.verdict is Verdict.REJECTED
            assert "closed at command 1/2" in verdict.reason


async def test_an_unfinished_proof_is_rejected(context_files) -> None:
    async with prover_on_fake(quick_and_dirty_script(), context_files) as (prover, fake):
        verdict = await prover.verify(toy_theorem(), Proof(("apply (simp add: h0)",)))
        assert verdict.verdict is Verdict.REJECTED and "open" in verdict.reason
        assert (await prover.verify(toy_theorem(), Proof(()))).verdict is Verdict.REJECTED


async def test_text_the_parser_did_not_read_is_rejected(context_files) -> None:
    script = quick_and_dirty_script()
    script.parse["apply (simp add: h0) done"] = ["apply (simp add: h0)"]  # `done` silently lost
    async with prover_on_fake(script, context_files) as (prover, fake):
        verdict = await prover.verify(toy_theorem(), Proof(("apply (simp add: h0) done",)))
        assert verdict.verdict is Verdict.REJECTED and "parser" in verdict.reason


async def test_a_search_never_reports_proved_for_a_cheat(context_files) -> None:
    async with prover_on_fake(quick_and_dirty_script(), context_files) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        for cheat in ("sorry", "oops", "  sorry  "):
            assert (await session.step(root, cheat)).kind is OutcomeKind.ERROR
        await session.close()


def test_forbidden_words_are_found_outside_comments_only() -> None:
    assert forbidden_reason("by simp") is None
    assert forbidden_reason("(* no sorry here *) by simp") is None
    assert forbidden_reason("sorry") is not None
    assert forbidden_reason("proof -\n  show ?thesis oops") is not None
    assert forbidden_reason("apply (tactic \\<open>Skip_Proof.cheat_tac @{context} 1\\<close>)") is not None
    assert forbidden_reason("apply (tactic ‹Skip_Proof.cheat_tac ctxt 1›)") is not None
    assert forbidden_reason("using [[quick_and_dirty]] by simp") is not None
    assert forbidden_reason("ML_prf \\<open>error \"x\"\\<close>") is not None
    assert forbidden_reason("normalhammer") is not None
    assert forbidden_reason("normalhammer", allow_hammer=True) is None
    assert forbidden_reason("by simp <apply to top level state> x") is not None


def test_theory_name_from_header() -> None:
    assert header_theory_name("theory toy_add imports Complex_Main\nbegin") == "toy_add"
    assert header_theory_name('(* c *)\ntheory "Foo" imports Main begin') == "Foo"
    assert header_theory_name("imports Main begin") is None


@pytest.mark.parametrize(
    "text",
    [
        "txt \\<open>@{ML_type \\<open>unit) option; val _ = 1; val _ = NONE : (unit\\<close>}\\<close>",
        "txt ‹@{ML_op ‹+); val _ = 1; fn _ => (op +›}›",
        "\\<comment> \\<open>\\<^ML_structure>\\<open>struct end\\<close>\\<close> by simp",
        "txt {* @{ML_functor Foo} *}",
        "ML_val \\<open>1\\<close>",
        "SML_import \\<open>val x = 1\\<close>",
        'simproc_setup foo ("x") = \\<open>K (K (K NONE))\\<close>',
        "compile_generated_files \\<open>x.ML\\<close> where \\<open>fn _ => ()\\<close>",
        'code_printing constant True \\<rightharpoonup> (SML) "(print 1; true)"',
        "by simp …",  # non-ASCII outside strings: PIDE decodes it into a symbol, PISA does not
    ],
)
def test_every_route_to_ml_is_refused(text) -> None:
    """Issue 10: no text that makes Isabelle run ML passes (document antiquotations run ML in txt and in
    formal comments; see tests/isabelle/test_attacks.py for what that ML can do)."""
    assert forbidden_reason(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        'have "x\\<^sup>2 = y\\<^sub>1" by simp',
        "have ‹x ≤ y› using `x < y` by simp",
        'have "x ≤ y" by simp',
        "txt \\<open>the usual case\\<close> by simp",
        "(* @{ML_type foo} in a comment does nothing *) by simp",
    ],
)
def test_ordinary_proof_text_is_not_refused(text) -> None:
    assert forbidden_reason(text) is None
