"""The LeanDojo adapter against small fake lean_dojo classes (tests/lean/fake_lean_dojo.py, a test double)."""

from __future__ import annotations

import sys

import pytest

from llemma_prove.errors import ProverError, ProverUnavailable
from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.dojo import DojoTarget, LeanDojoProver, map_result, target_from_theorem
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
    crashed = await session.step(root, "boom")
    assert crashed.kind is OutcomeKind.ERROR and "crashed" in crashed.message and world.exits == 1
    # the Dojo is entered again and the state rebuilt by replaying its path
    proved = await session.step(opened.state, "all_goals norm_num")
    assert proved.kind is OutcomeKind.PROVED
    assert len(world.entered) == 2 and world.calls[-2:] == [(world.root, "rw [abs_of_nonneg]"),
                                                             (opened.state.text, "all_goals norm_num")]
    await prover.close()


async def test_a_timed_out_tactic_does_not_answer_the_next_one(world) -> None:
    """lean-dojo 4.20 leaves Lean running after a timeout; its late answer is the next line it reads."""
    world.script[world.root]["slow"] = fake.Late(fake.ProofFinished(7))
    prover = LeanDojoProver(dojo_module=fake)
    session = await prover.open(THEOREM)
    root = await session.initial_state()
    timed_out = await session.step(root, "slow")
    assert timed_out.kind is OutcomeKind.TIMEOUT and world.exits == 1  # the Dojo was left
    after = await session.step(root, "linarith")
    assert after.kind is OutcomeKind.ERROR and "linarith failed" in after.message
    assert len(world.entered) == 2 and session.restarts == 1
    await prover.close()


async def test_the_repository_is_resolved_once_off_the_event_loop(world) -> None:
    prover = LeanDojoProver(dojo_module=fake)
    for _ in range(2):
        session = await prover.open(THEOREM)
        await session.initial_state()
    assert world.repos_built == 1 and world.repo_threads == [False]
    await prover.close()


@pytest.mark.parametrize("error", [ValueError("Invalid tag or branch: `v9` for lean-dojo-mew"),
                                   AssertionError("Invalid commit hash: v9"), ConnectionError("network down")])
async def test_repository_errors_are_prover_errors(world, error) -> None:
    world.repo_error = error
    session = await LeanDojoProver(dojo_module=fake).open(THEOREM)
    with pytest.raises(ProverError, match="could not resolve the repository .*" + type(error).__name__):
        await session.initial_state()


async def test_an_invalid_url_is_a_prover_error(world) -> None:
    theorem = Theorem(THEOREM.name, THEOREM.statement, header=THEOREM.header, source="lean-dojo-mew@d00c776:MiniF2F/Test.lean")
    session = await LeanDojoProver(dojo_module=fake).open(theorem)
    with pytest.raises(ProverError, match="is not a valid URL"):
        await session.initial_state()


async def test_lean_dojo_assertions_are_prover_errors(world) -> None:
    # Theorem.__post_init__: the file must end in `.lean` (our pointer check says so first)
    with pytest.raises(ProverError, match=r"`\.lean` file"):
        target_from_theorem(Theorem("x", "theorem x : True := by sorry", source="https://github.com/a/b@d00c776:Test"))
    prover = LeanDojoProver(dojo_module=fake, locate=lambda t: DojoTarget("https://github.com/a/b", "d00c776", "Test", t.name))
    with pytest.raises(ProverError, match="File extension must be .lean"):
        await (await prover.open(THEOREM)).initial_state()
    # Dojo.__enter__: the traced repository must hold Lean4Repl.lean
    world.missing_repl = True
    with pytest.raises(ProverError, match="could not start the theorem: Unable to find Lean4Repl.lean"):
        await (await LeanDojoProver(dojo_module=fake).open(THEOREM)).initial_state()


async def test_goals_are_parsed_as_lean_dojo_parses_them(world) -> None:
    world.script[world.root]["constructor"] = "2 goals\n⊢ 0 ≤ 1\n\nx : ℝ\n⊢ x = x"
    world.script[world.root]["weird"] = "⊢ 0 ≤ 1\n⊢ 1 ≤ 2"  # two goals without the blank line between them
    prover = LeanDojoProver(dojo_module=fake)
    session = await prover.open(THEOREM)
    root = await session.initial_state()
    split = await session.step(root, "constructor")
    assert split.kind is OutcomeKind.GOALS and split.state.text == "⊢ 0 ≤ 1\n\nx : ℝ\n⊢ x = x"
    with pytest.raises(ProverError, match="LeanDojo failed on 'weird'"):
        await session.step(root, "weird")
    await prover.close()


def test_the_dojo_extra_pins_the_version_the_test_double_models() -> None:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert pyproject["project"]["optional-dependencies"]["dojo"] == [f"lean-dojo=={fake.__version__}"]


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


async def test_opt_in_replay_check_is_unchecked_when_lean_dojo_fails(world) -> None:
    world.missing_repl = True
    result = await LeanDojoProver(dojo_module=fake, trust_dojo_replay=True).verify(THEOREM, Proof(("norm_num",)))
    assert result.verdict is Verdict.UNCHECKED and "Lean4Repl.lean" in result.reason
