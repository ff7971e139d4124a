"""Hammer steps: DSP heuristics in order, then `normalhammer`; the found tactic replaces the hammer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from llemma_prove.provers.isabelle.hammer import HEURISTIC_TACTICS, hammer_prefix, is_hammer_step
from llemma_prove.types import OutcomeKind, Proof
from tests.doubles.fake_pisa import Reply, closes, goes_to, step_error

from .conftest import ROOT_STATE, prover_on_fake, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

METIS = "by (metis add_right_imp_eq numeral_plus_numeral)"


def applied_steps(commands: list[str]) -> list[str]:
    """The STEP part of every `<apply to top level state>` command the fake received."""
    out = []
    for command in commands:
        parts = command.split("<apply to top level state>")
        if len(parts) == 4:
            out.append(parts[2].strip().removeprefix("<allow more time>").strip())
    return out


def test_hammer_step_recognition() -> None:
    assert hammer_prefix("normalhammer") == ""
    assert hammer_prefix("sledgehammer") == ""
    assert hammer_prefix('have "x = 4" normalhammer') == 'have "x = 4"'
    assert hammer_prefix("by simp") is None
    assert not is_hammer_step("apply (simp add: mynormalhammer)")
    assert HEURISTIC_TACTICS[0] == "by auto" and HEURISTIC_TACTICS[-1] == "by (auto simp: field_simps)"


async def test_heuristics_run_in_order_and_the_first_success_is_recorded(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "by auto", step_error("Failed to finish proof"))
    script.add(ROOT_STATE, "by simp", step_error("Failed to finish proof"))
    script.add(ROOT_STATE, "by blast", closes())
    script.add(ROOT_STATE, "by fastforce", closes())
    async with prover_on_fake(script, context_files) as (prover, fake):
        theorem = toy_theorem()
        session = await prover.open(theorem)
        root = await session.initial_state()
        outcome = await session.step(root, "normalhammer")
        assert outcome.kind is OutcomeKind.PROVED and outcome.message == "hammer: by blast"
        assert applied_steps(fake.commands)[1:] == ["by auto", "by simp", "by blast"]  # stops at the first success
        resolved = prover.resolve(theorem, Proof(("normalhammer",)))
        assert resolved.tactics == ("by blast",)
        rendered = prover.render(theorem, Proof(("normalhammer",)))
        assert "by blast" in rendered and "normalhammer" not in rendered
        verdict = await prover.verify(theorem, Proof(("normalhammer",)))
        assert verdict.accepted, verdict.reason
        assert verdict.details["tactics"] == ["by blast"]
        await session.close()


async def test_sledgehammer_after_the_heuristics_and_its_tactic_is_recorded(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "normalhammer", Reply("hammer", "", 0, tactic=METIS))
    script.add(ROOT_STATE, METIS, closes())  # Isabelle accepts the found tactic on replay
    async with prover_on_fake(script, context_files) as (prover, fake):
        theorem = toy_theorem()
        session = await prover.open(theorem)
        root = await session.initial_state()
        outcome = await session.step(root, "normalhammer")
        assert outcome.kind is OutcomeKind.PROVED
        steps = applied_steps(fake.commands)[1:]
        assert steps == list(HEURISTIC_TACTICS) + ["normalhammer"]
        assert prover.resolve(theorem, Proof(("normalhammer",))).tactics == (METIS,)
        verdict = await prover.verify(theorem, Proof(("normalhammer",)))
        assert verdict.accepted and METIS in verdict.checked_text and "normalhammer" not in verdict.checked_text
        await session.close()


async def test_hammer_after_an_isar_prefix(context_files) -> None:
    after_have = "proof (state)\nthis:\n  x = 4\ngoal (1 subgoal):\n 1. x = 4"
    have_open = 'proof (prove)\ngoal (1 subgoal):\n 1. x = 4'
    script = toy_script()
    script.add(ROOT_STATE, 'have "x = 4"', goes_to(have_open, level=2))
    script.add(have_open, "normalhammer", Reply("hammer", after_have, 1, tactic="using h0 by linarith"))
    async with prover_on_fake(replace(script), replace(context_files, use_heuristics=False)) as (prover, fake):
        theorem = toy_theorem()
        session = await prover.open(theorem)
        root = await session.initial_state()
        outcome = await session.step(root, 'have "x = 4" normalhammer')
        assert outcome.kind is OutcomeKind.GOALS and outcome.state is not None
        assert outcome.state.text == after_have
        assert outcome.state.handle.path == ('have "x = 4" using h0 by linarith',)
        assert applied_steps(fake.commands)[1:] == ['have "x = 4"', "normalhammer"]
        assert prover.resolve(theorem, Proof(('have "x = 4" normalhammer',))).tactics == (
            'have "x = 4" using h0 by linarith',
        )
        await session.close()


async def test_hammer_failure(context_files) -> None:
    async with prover_on_fake(toy_script(), context_files) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, "normalhammer")  # nothing closes the goal; Sledgehammer finds nothing
        assert outcome.kind is OutcomeKind.ERROR and "hammer found no proof" in outcome.message
        assert "identifier error" in outcome.message  # PISA runs the word `error` as a step (hammer_actual_step)
        await session.close()


async def test_hammer_timeout_in_server_and_on_the_budget(context_files) -> None:
    script = toy_script(hammer_limit_s=0.2)
    script.add(ROOT_STATE, "normalhammer", Reply("hammer", "", 0, delay_s=5.0, tactic=METIS))
    options = replace(context_files, use_heuristics=False)
    async with prover_on_fake(script, options) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, "normalhammer")
        # PISA hands the ML timeout's message to `step` as Isar text (hammer_actual_step): an outer
        # syntax error about the word `Timeout`, an error outcome that names it
        assert outcome.kind is OutcomeKind.ERROR and "identifier Timeout" in outcome.message

    script = toy_script()
    script.add(ROOT_STATE, "normalhammer", Reply("hang"))
    options = replace(context_files, use_heuristics=False, hammer_timeout_s=0.3, rpc_grace_s=0.2)
    async with prover_on_fake(script, options) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, "normalhammer")
        assert outcome.kind is OutcomeKind.TIMEOUT and outcome.elapsed_s < 3.0
