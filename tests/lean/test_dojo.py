"""The LeanDojo adapter against small fake lean_dojo classes (tests/lean/fake_lean_dojo.py, a test double)."""

from __future__ import annotations

import sys

import pytest

from llemma_prove.errors import ProverError, ProverUnavailable
from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.dojo import LeanDojoProver, map_result, target_from_theorem
from llemma_prove.provers.lean.options import MINIF2F_HEADER
from llemma_prove.types import OutcomeKind, Proof, Theorem, Verdict

from . import fake_lean_dojo as fake
from .conftest import fake_options

SOURCE = "https://github.com/rah4927/lean-dojo-mew@d00c776260c77de7e70125ef0cd119de6c0ff1de:MiniF2F/Test.lean"
THEOREM = Theorem("mathd_algebra_10", "theorem mathd_algebra_10 : abs ((120 : ℝ) / 100 * 30 - 130 / 100 * 20) = 10 := by sorry",
                  header=MINIF2F_HEADER, source=SOURCE)


@pytest.fixture(autouse=True)
def world():
    fake.WORLD.__init__()
    fake.WORLD.root = "⊢ |120 / 100 * 30 - 130 / 100 * 20| = 10"
    fake.WORLD.script = {
        fake.WORLD.root: {
            "norm_num": fake.ProofFinished(1),
            "rw [abs_of_nonneg]": fake.TacticState("⊢ 120 / 100 * 30 - 130 / 100 * 20 = 10\n\n⊢ 0 ≤ 120 / 100 * 30 - 130 / 100 * 20"),
            "linarith": fake.LeanError("linarith failed to find a contradiction"),
            "sorry": fake.ProofGivenUp(),
            "slow": fake.DojoTacticTimeoutError("timeout"),
            "boom": fake.DojoCrashError("Lean died"),
        },
        "⊢ 120 / 100 * 30 - 130 / 100 * 20 = 10\n\n⊢ 0 ≤ 120 / 100 * 30 - 130 / 100 * 20": {"all_goals norm_num": fake.ProofFinished(2)},
    }
    return fake.WORLD


def test_results_map_onto_outcomes() -> None:
    assert map_result(fake, fake.TacticState("⊢ p", 3)).text == "⊢ p"
    assert map_result(fake, fake.ProofFinished(1)).kind is OutcomeKind.PROVED
    error = map_result(fake, fake.LeanError("unknown identifier 'foo'"))
    assert error.kind is OutcomeKind.ERROR and "unknown identifier" in error.message
    assert map_result(fake, fake.ProofGivenUp()).kind is OutcomeKind.ERROR


def test_theorem_pointer() -> None:
    target = target_from_theorem(THEOREM)
    assert (target.repo_url, target.commit[:7], target.file_path, target.full_name) == (
        "https://github.com/rah4927/lean-dojo-mew", "d00c776", "MiniF2F/Test.lean", "mathd_algebra_10")
    with pytest.raises(ProverError, match="URL@COMMIT:FILE_PATH"):
        target_from_theorem(Theorem("x", "theorem x : True := by sorry"))


async def test_session_outcomes_and_crash_recovery(world) -> None:
    prover = LeanDojoProver(dojo_module=fake)
    await prover.start()
    session = await prover.open(THEOREM)
    root = await session.initial_state()
    assert root.text == world.root and world.entered[0].full_name == "mathd_algebra_10"
    opened = await session.step(root, "rw [abs_of_nonneg]")
    assert opened.kind is OutcomeKind.GOALS and opened.state.text.startswith("⊢ 120")
    assert (await session.step(root, "linarith")).kind is OutcomeKind.ERROR
    given_up = await session.step(root, "sorry")
    assert given_up.kind is OutcomeKind.ERROR and "sorry" in given_up.message
    assert (await session.step(root, "slow")).kind is OutcomeKind.TIMEOUT
    crashed = await session.step(root, "boom")
    assert crashed.kind is OutcomeKind.ERROR and "crashed" in crashed.message and world.exits == 1
    # the Dojo is entered again and the state rebuilt by replaying its path
    proved = await session.step(opened.state, "all_goals norm_num")
    assert proved.kind is OutcomeKind.PROVED
    assert len(world.entered) == 2 and world.calls[-2:] == [(world.root, "rw [abs_of_nonneg]"),
                                                             (opened.state.text, "all_goals norm_num")]
    await prover.close()


async def test_init_error_is_a_prover_error(world) -> None:
    world.fail_init = True
    prover = LeanDojoProver(dojo_module=fake)
    session = await prover.open(THEOREM)
    with pytest.raises(ProverError, match="could not start"):
        await session.initial_state()


async def test_without_the_repl_the_final_check_never_accepts(world) -> None:
    prover = LeanDojoProver(dojo_module=fake)
    result = await prover.verify(THEOREM, Proof(("norm_num",)))
    assert result.verdict is Verdict.UNCHECKED and "REPL" in result.reason


async def test_opt_in_replay_check_rejects_but_never_accepts(world) -> None:
    prover = LeanDojoProver(dojo_module=fake, trust_dojo_replay=True)
    replayed = await prover.verify(THEOREM, Proof(("norm_num",)))  # not every layer ran: never ACCEPTED
    assert replayed.verdict is Verdict.UNCHECKED and replayed.details["axioms_checked"] is False
    assert replayed.details["dojo_replay"] == "passed" and "kernel check" in replayed.reason
    rejected = await prover.verify(THEOREM, Proof(("sorry",)))
    assert rejected.verdict is Verdict.REJECTED and "sorry" in rejected.reason
    unfinished = await prover.verify(THEOREM, Proof(("rw [abs_of_nonneg]",)))
    assert unfinished.verdict is Verdict.REJECTED and "goals remain" in unfinished.reason


async def test_final_check_goes_through_the_repl_when_given(world, no_leftover_children) -> None:
    """Same final check as the REPL backend: a `sorry` proof found through LeanDojo is rejected."""
    checker = LeanReplProver(fake_options("--synthetic", header=MINIF2F_HEADER))
    prover = LeanDojoProver(dojo_module=fake, checker=checker)
    await prover.start()
    try:
        assert (await prover.verify(THEOREM, Proof(("norm_num",)))).verdict is Verdict.ACCEPTED
        rejected = await prover.verify(THEOREM, Proof(("sorry",)))
        assert rejected.verdict is Verdict.REJECTED and "`sorry`" in rejected.reason
    finally:
        await prover.close()


async def test_missing_lean_dojo_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lean_dojo", None)
    with pytest.raises(ProverUnavailable, match=r"llemma-prove\[dojo\]"):
        await LeanDojoProver().start()
