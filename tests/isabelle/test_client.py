"""PISA client and sessions against the fake PISA server (test double) on loopback."""

from __future__ import annotations

import grpc
import pytest

from llemma_prove.errors import ProverError, ProverUnavailable
from llemma_prove.provers.isabelle.client import (
    PisaClient,
    PisaRpcError,
    ReplyKind,
    apply_command,
    classify_reply,
    outcome_for_reply,
    outcome_for_rpc_error,
)
from llemma_prove.provers.isabelle.prover import PisaHandle
from llemma_prove.types import OutcomeKind
from tests.doubles.fake_pisa import FakePisa, Reply, closes, goes_to, step_error

from .conftest import OPEN_TEXT, ROOT_STATE, handshake_for, prover_on_fake, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

AFTER_HAVE = 'proof (state)\nthis:\n  x = 4\ngoal (1 subgoal):\n 1. x = 4'


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Step error: Failed to apply initial proof method", ReplyKind.STEP_ERROR),
        ("Unknown error: key not found: s0_1", ReplyKind.UNKNOWN_ERROR),
        # PISA's per-command ML timeout (PisaOS.scala `Timeout.apply`, timeout.ML `print`): item 8
        ("Step error: Timeout after 10.003s", ReplyKind.TIMEOUT),
        ("Step error: Timeout after 30.0s", ReplyKind.TIMEOUT),
        ('Step error: Undefined fact: "Timeout_after"', ReplyKind.STEP_ERROR),
        ("Didn't find top level state of given name: s3_7", ReplyKind.NO_SUCH_STATE),
        ("Unrecognised operation.", ReplyKind.UNRECOGNISED),
        (ROOT_STATE, ReplyKind.STATE),
        ("", ReplyKind.STATE),
    ],
)
def test_every_documented_reply_is_classified(text: str, kind: ReplyKind) -> None:
    reply = classify_reply(text)
    assert reply.kind is kind
    outcome = outcome_for_reply(reply, 0.1)
    if kind is ReplyKind.STATE:
        assert outcome is None
    elif kind is ReplyKind.TIMEOUT:
        assert outcome is not None and outcome.kind is OutcomeKind.TIMEOUT
    else:
        assert outcome is not None and outcome.kind is OutcomeKind.ERROR


def test_rpc_errors_map_to_outcomes() -> None:
    assert outcome_for_rpc_error(PisaRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "late"), 1.0).kind is OutcomeKind.TIMEOUT
    err = outcome_for_rpc_error(PisaRpcError(grpc.StatusCode.INTERNAL, "boom"), 1.0)
    assert err.kind is OutcomeKind.ERROR and "INTERNAL" in err.message


def test_apply_command_format() -> None:
    assert apply_command("a", "by simp", "b") == (
        "<apply to top level state> a <apply to top level state> by simp <apply to top level state> b"
    )
    assert "<allow more time> by simp" in apply_command("a", "by simp", "b", more_time=True)


async def test_handshake_and_raw_commands(context_files) -> None:
    script = toy_script()
    async with FakePisa(script) as fake:
        client = PisaClient("127.0.0.1", fake.port)
        cfg = handshake_for(context_files)
        messages = await client.handshake(cfg.isabelle_home, cfg.working_dir, cfg.theory_file, 5.0)
        assert fake.servicer.handshake == [
            ("InitialiseIsabelle", cfg.isabelle_home),
            ("IsabelleWorkingDirectory", cfg.working_dir),
            ("IsabelleContext", cfg.theory_file),
        ]
        assert "ready" in messages[-1]
        reply = await client.apply("default", OPEN_TEXT, "r", 5.0)
        assert reply.ok and reply.text == ROOT_STATE
        assert await client.is_finished("r") is False
        assert await client.proof_level("r") == 1
        assert (await client.get_state("r")).text == ROOT_STATE
        await client.clone("r", "r2")
        assert set(await client.list_states()) == {"default", "r", "r2"}
        assert await client.delete("r2") is True
        assert await client.delete("r2") is False
        assert (await client.get_state("r2")).kind is ReplyKind.NO_SUCH_STATE
        assert await client.parse_text("have \"x = 4\"\n  using h0 by simp") == ['have "x = 4"', "  using h0 by simp"]
        assert await client.command("<no such command>", 5.0) == "Unrecognised operation."
        await client.close()


async def test_handshake_with_missing_theory_file_is_reported(context_files, tmp_path) -> None:
    from dataclasses import replace

    options = replace(context_files, theory_file=tmp_path / "nowhere" / "Interactive.thy")
    with pytest.raises(ProverUnavailable, match="NoSuchFileException"):
        async with prover_on_fake(toy_script(), options):
            pass


async def test_session_steps_succeed_fail_and_prove(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, 'have "x = 4" using h0 by simp', goes_to(AFTER_HAVE))
    script.add(ROOT_STATE, "by auto", step_error("Failed to finish proof"))
    script.add(AFTER_HAVE, "then show ?thesis .", closes())
    async with prover_on_fake(script, context_files) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        assert root.text == ROOT_STATE
        assert isinstance(root.handle, PisaHandle) and root.handle.path == ()
        assert fake.commands[0] == "<initialise>"
        assert fake.commands[1].startswith("<apply to top level state> default <apply to top level state> <allow more time> theory toy_add")

        failed = await session.step(root, "by auto")
        assert failed.kind is OutcomeKind.ERROR and failed.message.startswith("Step error: Failed to finish proof")

        mid = await session.step(root, 'have "x = 4" using h0 by simp')
        assert mid.kind is OutcomeKind.GOALS and mid.state is not None
        assert mid.state.text == AFTER_HAVE
        assert mid.state.handle.path == ('have "x = 4" using h0 by simp',)

        done = await session.step(mid.state, "then show ?thesis .")
        assert done.kind is OutcomeKind.PROVED
        await session.close()
        assert set(fake.states) == {"default"}  # closing deleted every state of the session


async def test_branching_from_one_state_and_deletion(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "apply simp", goes_to("proof (prove)\ngoal (1 subgoal):\n 1. x = 4 \\<or> False"))
    script.add(ROOT_STATE, "using h0", goes_to("proof (prove)\nusing this:\n  x + 3 = 7\ngoal (1 subgoal):\n 1. x = 4"))
    async with prover_on_fake(script, context_files) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        a = await session.step(root, "apply simp")
        b = await session.step(root, "using h0")
        assert a.state is not None and b.state is not None
        assert a.state.handle.name != b.state.handle.name
        assert {a.state.handle.name, b.state.handle.name} <= set(fake.states)
        await session.release(a.state)
        assert a.state.handle.name not in fake.states
        assert any(c.startswith("<delete> ") for c in fake.commands)
        # a released state is rebuilt by replay when the search comes back to it
        again = await session.step(a.state, "apply simp")
        assert again.kind is OutcomeKind.ERROR  # the script has no `apply simp` at that state...
        assert a.state.handle.name in fake.states  # ...but the state itself was rebuilt first
        await session.close()


async def test_step_timeouts_in_server_and_past_the_deadline(context_files) -> None:
    from dataclasses import replace

    script = toy_script(step_limit_s=0.2)
    script.add(ROOT_STATE, "by (induct x)", Reply("state", "x", 1, delay_s=5.0))  # PISA's own limit fires
    script.add(ROOT_STATE, "by presburger", Reply("hang"))  # the server never answers
    script.add(ROOT_STATE, "by simp", closes())
    options = replace(context_files, step_timeout_s=0.3, rpc_grace_s=1.0, ping_timeout_s=0.3)
    async with prover_on_fake(script, options) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        slow = await session.step(root, "by (induct x)")
        assert slow.kind is OutcomeKind.TIMEOUT and slow.message.startswith("Step error: Timeout after 0.2")
        hung = await session.step(root, "by presburger")
        assert hung.kind is OutcomeKind.TIMEOUT
        assert "deadline" in hung.message


async def test_allow_more_time_is_sent_for_long_step_limits(context_files) -> None:
    from dataclasses import replace

    script = toy_script(step_limit_s=0.1, more_time_limit_s=2.0)
    script.add(ROOT_STATE, "by simp", Reply("state", "", 0, delay_s=0.3))  # needs more than the normal limit
    options = replace(context_files, step_timeout_s=20.0)
    async with prover_on_fake(script, options) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, "by simp")
        assert outcome.kind is OutcomeKind.PROVED
        assert "<allow more time> by simp" in fake.commands[-2]


async def test_grpc_error_becomes_an_error_outcome(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "by metis", Reply("grpc_error", "scala.MatchError", code="INTERNAL"))
    script.add(ROOT_STATE, "by simp", closes())
    async with prover_on_fake(script, context_files) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, "by metis")
        assert outcome.kind is OutcomeKind.ERROR and "INTERNAL" in outcome.message and "MatchError" in outcome.message
        assert (await session.step(root, "by simp")).kind is OutcomeKind.PROVED  # the server is still usable


async def test_forbidden_steps_never_reach_the_server(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "sorry", closes())  # PISA (quick_and_dirty) would accept it
    async with prover_on_fake(script, context_files) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        sent = len(fake.commands)
        for bad in ("sorry", "oops", "by (tactic \\<open>Skip_Proof.cheat_tac @{context} 1\\<close>)"):
            outcome = await session.step(root, bad)
            assert outcome.kind is OutcomeKind.ERROR and "rejected" in outcome.message
        assert len(fake.commands) == sent


async def test_statement_rejected_by_isabelle_is_a_prover_error(context_files) -> None:
    script = toy_script()
    bad = toy_theorem(statement='theorem toy_add:\n  shows "x = = 4"')
    async with prover_on_fake(script, context_files) as (prover, fake):
        session = await prover.open(bad)
        with pytest.raises(ProverError, match="did not accept the statement"):
            await session.initial_state()
        verdict = await prover.check_statement(bad)
        assert verdict.verdict.value == "rejected"
        assert (await prover.check_statement(toy_theorem())).accepted


async def test_states_lost_behind_our_back_are_rebuilt_by_replay(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "apply simp", goes_to("proof (prove)\ngoal (1 subgoal):\n 1. 4 = 4"))
    script.add("proof (prove)\ngoal (1 subgoal):\n 1. 4 = 4", "by simp", closes())
    async with prover_on_fake(script, context_files) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        mid = await session.step(root, "apply simp")
        assert mid.state is not None
        fake.states.clear()  # e.g. PISA restarted by someone else: even `default` is gone
        done = await session.step(mid.state, "by simp")
        assert done.kind is OutcomeKind.PROVED
        assert fake.commands.count("<initialise>") == 2  # `default` re-created, then root and path replayed
        other = await prover.open(toy_theorem())
        assert (await other.initial_state()).text == ROOT_STATE
        await session.close()
        await other.close()


async def test_replies_over_the_message_size_limit_are_errors(context_files) -> None:
    from dataclasses import replace

    huge = "proof (prove)\ngoal (1 subgoal):\n 1. " + " \\<and> ".join(["x = 4"] * 2000)
    script = toy_script()
    script.add(ROOT_STATE, "apply auto", goes_to(huge))
    script.add(ROOT_STATE, "by simp", closes())
    async with prover_on_fake(script, replace(context_files, max_message_bytes=4096)) as (prover, fake):
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, "apply auto")
        assert outcome.kind is OutcomeKind.ERROR and "RESOURCE_EXHAUSTED" in outcome.message
        assert (await session.step(root, "by simp")).kind is OutcomeKind.PROVED
        await session.close()
