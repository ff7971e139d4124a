"""Issue 12 items 8, 9, 13, 15: the client against a stand-in PISA that answers as PISA main does."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from llemma_prove.provers.isabelle.client import PisaClient
from llemma_prove.types import OutcomeKind, Proof, Verdict
from tests.doubles.fake_pisa import FakePisa, Reply, closes, goes_to

from .conftest import ROOT_STATE, handshake_for, prover_on_fake, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

MID = "proof (prove)\ngoal (1 subgoal):\n 1. 4 = 4"


async def test_a_timeout_in_the_final_replay_is_unchecked_not_rejected(context_files) -> None:
    """Item 8: PISA's `Step error: Timeout after ...` is a timeout, in the search and in the replay."""
    script = toy_script(step_limit_s=0.2, more_time_limit_s=0.2)
    script.add(ROOT_STATE, "by (induct x)", Reply("state", "", 0, delay_s=5.0))
    async with prover_on_fake(script, replace(context_files, replay_timeout_s=0.2)) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, "by (induct x)")
        assert outcome.kind is OutcomeKind.TIMEOUT and outcome.message.startswith("Step error: Timeout after")
        await session.close()
        verdict = await prover.verify(toy_theorem(), Proof(("by (induct x)",)))
        assert verdict.verdict is Verdict.UNCHECKED and "timed out" in verdict.reason


async def test_a_proof_isabelle_cannot_parse_is_rejected_with_the_parse_error(context_files) -> None:
    """Item 9: `<parse text>` has no handler in PISA: the error arrives as a gRPC status."""
    script = toy_script()
    script.add(ROOT_STATE, 'by (simp add: h0', closes())  # the step alone would be accepted by the script
    script.unparsable['by (simp add: h0'] = "Outer syntax error: missing closing parenthesis"
    async with prover_on_fake(script, context_files) as (prover, fake):
        verdict = await prover.verify(toy_theorem(), Proof(('by (simp add: h0',)))
        assert verdict.verdict is Verdict.REJECTED
        assert "could not parse" in verdict.reason and "parenthesis" in verdict.reason


async def test_no_reply_to_parse_text_ends_at_the_deadline_unchecked(context_files) -> None:
    """Item 9: the other way PISA fails a parse is to never answer; the deadline decides."""
    script = toy_script()
    script.add(ROOT_STATE, "by simp", closes())
    script.unparsable["by simp"] = "hang"
    async with prover_on_fake(script, replace(context_files, parse_timeout_s=0.5)) as (prover, fake):
        start = time.monotonic()
        verdict = await prover.verify(toy_theorem(), Proof(("by simp",)))
        assert verdict.verdict is Verdict.UNCHECKED and "<parse text>" in verdict.reason
        assert time.monotonic() - start < 5.0


async def test_the_deadline_grows_with_the_commands_of_a_step(context_files) -> None:
    """Item 13: PISA limits each command; a 4-command step may take 4 limits. No restart, no loss."""
    from llemma_prove.provers.isabelle.theory import command_count

    step = "apply (simp add: h0)\napply arith\napply simp\ndone"
    assert command_count(step) == 4
    script = toy_script(step_limit_s=0.3)
    script.add(ROOT_STATE, step, Reply("state", "", 0, delay_s=4 * 0.25, commands=4))  # 0.25 s each
    script.add(ROOT_STATE, "apply (simp add: h0)", goes_to(MID))
    options = replace(context_files, step_timeout_s=0.3, rpc_grace_s=0.3)
    assert options.step_deadline_s(4) == pytest.approx(4 * 0.3 + 0.3)
    async with prover_on_fake(script, options) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, step)
        assert outcome.kind is OutcomeKind.PROVED, outcome.message
        assert session.worker.restarts == 0
        await session.close()


async def test_a_passed_deadline_keeps_the_session(context_files) -> None:
    """Item 13: past the client deadline Isabelle is still working on the step (PISA does not stop
    it), yet the server answers a ping, since PISA serves calls concurrently: it is not restarted and
    the session's states stay usable."""
    script = toy_script()
    script.add(ROOT_STATE, "by presburger", Reply("state", "", 0, delay_s=2.0))  # within PISA's 10 s
    script.add(ROOT_STATE, "apply (simp add: h0)", goes_to(MID))
    options = replace(context_files, step_timeout_s=0.2, rpc_grace_s=0.2, ping_timeout_s=0.5)
    async with prover_on_fake(script, options) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        assert (await session.step(root, "by presburger")).kind is OutcomeKind.TIMEOUT
        assert session.worker.restarts == 0
        assert (await session.step(root, "apply (simp add: h0)")).kind is OutcomeKind.GOALS
        await session.close()


async def test_the_stand_in_pisa_answers_concurrently(context_files) -> None:
    """Item 15: a slow step on one call does not hold back another call (zio-grpc serves both)."""
    script = toy_script()
    script.add(ROOT_STATE, "by auto", Reply("state", "", 0, delay_s=1.0))
    fake = FakePisa(script)
    port = await fake.start()
    a, b = PisaClient("127.0.0.1", port), PisaClient("127.0.0.1", port)
    try:
        await a.handshake(*[getattr(handshake_for(context_files), f) for f in ("isabelle_home", "working_dir", "theory_file")], 10.0)
        from .conftest import OPEN_TEXT

        assert (await a.apply("default", OPEN_TEXT, "root", 5.0)).ok
        slow = asyncio.create_task(a.apply("root", "by auto", "done1", 5.0))
        await asyncio.sleep(0.1)
        start = time.monotonic()
        states = await b.list_states(timeout_s=5.0)
        assert time.monotonic() - start < 0.5 and "root" in states
        assert (await slow).ok
    finally:
        await a.close()
        await b.close()
        await fake.stop()


async def test_the_client_serialises_commands_to_one_server(context_files) -> None:
    """Item 15: PISA's state map is unsynchronised (`top_level_state_map +=` in PisaOS.register_tls),
    so two searches on one server must not have commands in flight together; the concurrent stand-in
    would let such a race through, and counts it."""
    script = toy_script()
    script.add(ROOT_STATE, "apply auto", Reply("state", MID, 1, delay_s=0.3))
    async with prover_on_fake(script, context_files) as (prover, fake):
        sessions = [await prover.open(toy_theorem()) for _ in range(3)]
        roots = [await s.initial_state() for s in sessions]
        outcomes = await asyncio.gather(*(s.step(r, "apply auto") for s, r in zip(sessions, roots)))
        assert all(o.kind is OutcomeKind.GOALS for o in outcomes)
        assert fake.max_in_flight == 1
        for session in sessions:
            await session.close()
