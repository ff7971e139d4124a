"""Real Lean (marker `lean`): run where `lake` is found and the Lake project is built, skipped elsewhere.

`llemma-prove setup lean` builds the project; LLEMMA_PROVE_LEAN_PROJECT points at another one.
"""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from llemma_prove.provers.lean import LeanOptions, LeanReplProver
from llemma_prove.provers.lean.options import MINIF2F_HEADER
from llemma_prove.provers.lean.render import split_tactics
from llemma_prove.types import OutcomeKind, Proof, Theorem, Verdict
from tests.conftest import require_built_lean, require_shared

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900), pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def prover():
    require_built_lean()
    lean = LeanReplProver(LeanOptions(workers=1, step_timeout_s=120, check_timeout_s=300))
    await lean.start()
    yield lean
    await lean.close()


def _published(name: str) -> tuple[Theorem, tuple[str, ...]]:
    solutions = require_shared("minif2f/lean4/solutions/yangky11_valid_442f415.jsonl")
    statements = require_shared("minif2f/lean4/valid.jsonl")
    row = next(json.loads(line) for line in solutions.read_text().splitlines() if json.loads(line)["name"] == name)
    stmt = next(json.loads(line) for line in statements.read_text().splitlines() if json.loads(line)["name"] == name)
    theorem = Theorem(name, stmt["formal_statement"], header=stmt["header"], split="valid")
    return theorem, tuple(split_tactics(row["proof"]))


async def test_trivial_theorem_by_norm_num(prover: LeanReplProver) -> None:
    theorem = Theorem("two_plus_two", "theorem two_plus_two : (2 : ℕ) + 2 = 4 := by sorry", header=MINIF2F_HEADER)
    session = await prover.open(theorem)
    root = await session.initial_state()
    assert root.text == "⊢ 2 + 2 = 4"
    outcome = await session.step(root, "norm_num")
    assert outcome.kind is OutcomeKind.PROVED
    verification = await prover.verify(theorem, Proof(("norm_num",)))
    assert verification.verdict is Verdict.ACCEPTED, verification.reason
    assert set(verification.details["axioms"]) <= {"propext", "Classical.choice", "Quot.sound"}
    await session.close()


async def test_published_minif2f_proof_replays_and_is_accepted(prover: LeanReplProver) -> None:
    theorem, tactics = _published("mathd_algebra_462")
    session = await prover.open(theorem)
    state = await session.initial_state()
    for i, tactic in enumerate(tactics):
        outcome = await session.step(state, tactic)
        if i < len(tactics) - 1:
            assert outcome.kind is OutcomeKind.GOALS, (tactic, outcome)
            state = outcome.state
        else:
            assert outcome.kind is OutcomeKind.PROVED, (tactic, outcome)
    verification = await prover.verify(theorem, Proof(tactics))
    assert verification.verdict is Verdict.ACCEPTED, verification.reason
    await session.close()


async def test_the_same_proof_with_sorry_is_rejected(prover: LeanReplProver) -> None:
    theorem, tactics = _published("mathd_algebra_462")
    with_sorry = Proof((*tactics[:-1], "sorry"))
    verification = await prover.verify(theorem, with_sorry)
    assert verification.verdict is Verdict.REJECTED and "sorry" in verification.reason
    # and Lean itself objects, not only the text rules: check the declaration without them
    from llemma_prove.provers.lean.messages import CommandRequest
    from llemma_prove.provers.lean.render import render_declaration
    from llemma_prove.provers.lean.soundness import judge_declaration

    async def ask(repl):
        env = await repl.env_for_header(theorem.header, 300)
        return await repl.request(CommandRequest(render_declaration(theorem, with_sorry), env=env), 300)

    pool = prover.pool
    response = await pool.run(pool.least_loaded(), ask)
    assert any("sorry" in reason for reason in judge_declaration(response))


# -- the kernel final check against the real `lean` and lean4checker (issue 10) ---------------------------


async def test_kernel_check_accepts_a_genuine_proof_and_the_reference_matches(prover: LeanReplProver) -> None:
    theorem = Theorem("two_plus_two_k", "theorem two_plus_two_k : (2 : ℕ) + 2 = 4 := by sorry", header=MINIF2F_HEADER)
    result = await prover.kernel.check_proof(theorem, Proof(("norm_num",)))
    assert result.verdict is Verdict.ACCEPTED, result.reason
    assert result.details["layers"] == ["text", "compile", "type", "axioms", "replay"]
    assert result.details["type"] and "two_plus_two_k" in result.details["type"]


async def test_kernel_check_rejects_a_changed_statement_by_type(prover: LeanReplProver,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from llemma_prove.provers.lean import final_check

    monkeypatch.setattr(final_check, "split_source", lambda theorem, source: (source, []))
    theorem = Theorem("weak_k", "theorem weak_k : (2 : ℕ) + 2 = 5 := by sorry", header=MINIF2F_HEADER)
    source = MINIF2F_HEADER + "theorem weak_k : (2 : ℕ) + 2 = 5 ∨ True := by\n  right\n  trivial\n"
    result = await prover.kernel.check_source(theorem, source)
    assert result.verdict is Verdict.REJECTED and result.details["layer"] == "type", result


async def test_kernel_check_replays_what_skipKernelTC_let_through(prover: LeanReplProver,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """With the text filter out, a false statement tried under `debug.skipKernelTC` is still rejected by a
    kernel-side layer (the elaborator's own `decide` refuses it, or the replay does)."""
    from llemma_prove.provers.lean import final_check
    from llemma_prove.provers.lean.lexer import FilterResult

    monkeypatch.setattr(final_check, "filter_text", lambda text, name=None: FilterResult(()))
    theorem = Theorem("skip_k", "theorem skip_k : 2 + 2 = 5 := by sorry", header=MINIF2F_HEADER)
    result = await prover.kernel.check_body(theorem, " by\n  set_option debug.skipKernelTC true in\n  decide")
    assert result.verdict is Verdict.REJECTED and result.details["layer"] != "text", result
