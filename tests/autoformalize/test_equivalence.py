"""Equivalence as BEq defines it: a direction counts only when its proof needs the other statement.

The prover double's automation (`doubles.automation`) proves what `decide`, `norm_num`, `simp_all`
and `tauto` prove on these shapes: true closed computations, `True`, `n = n`, anything from `False`.
With the old check (each direction a closed implication tried by that automation) all three vacuous
candidates below came out "equivalent" to `(5^30) % 7 = 1`.
"""

from __future__ import annotations

import pytest

from llemma_prove.autoformalize.config import AutoformalizeConfig, Mode, Parts
from llemma_prove.autoformalize.problems import InformalProblem
from llemma_prove.autoformalize.prompts import default_prompts
from llemma_prove.autoformalize.statement import (
    DirectionStatus,
    Equivalence,
    autoformalize_statement,
    check_candidate,
)
from llemma_prove.autoformalize.target import target_for
from llemma_prove.errors import ProverError
from llemma_prove.types import Language
from tests.autoformalize.doubles import (
    ScriptedLanguageModel,
    ScriptedSketchProver,
    automation,
    automation_proves,
    implication_parts,
)

LEAN_REF = "theorem mathd_numbertheory_5 : (5^30) % 7 = 1 := by sorry"
LEAN_VACUOUS = [
    "theorem mathd_numbertheory_5 : True := by sorry",
    "theorem mathd_numbertheory_5 (h : False) : (5^30) % 7 = 2 := by sorry",
    "theorem mathd_numbertheory_5 (n : ℕ) : n = n := by sorry",
]
ISA_REF = 'theorem mathd_numbertheory_5:\n  "(5^30) mod 7 = (1::nat)"'
ISA_VACUOUS = [
    'theorem mathd_numbertheory_5:\n  "True"',
    'theorem mathd_numbertheory_5:\n  assumes h: "False"\n  shows "(5^30) mod 7 = (2::nat)"',
    'theorem mathd_numbertheory_5:\n  fixes n :: nat\n  shows "n = n"',
]


def _parts(language, prover, model=None):
    return Parts(model=model or ScriptedLanguageModel([]), prover=prover, target=target_for(language),
                 prompts=default_prompts(language))


def test_the_automation_double_proves_what_made_the_old_check_wrong():
    """The double is as strong as the real automation on these shapes (else the test below proves nothing)."""
    target = target_for(Language.LEAN4)
    for candidate in LEAN_VACUOUS:
        cand, ref = target.propositions(candidate, LEAN_REF)
        for hyp, concl in ((cand, ref), (ref, cand)):
            parts = implication_parts(target.implication("t", hyp, concl))
            assert parts == (hyp, concl) and automation_proves(*parts)
    assert not automation_proves("True", "∀ (x : ℝ) (h : 2 * x = 6), x = 3")


@pytest.mark.parametrize("language, reference, candidates", [
    (Language.LEAN4, LEAN_REF, LEAN_VACUOUS), (Language.ISABELLE, ISA_REF, ISA_VACUOUS)])
async def test_vacuous_candidates_are_not_equivalent(language, reference, candidates):
    problem = InformalProblem("mathd_numbertheory_5", "What is the remainder of 5^30 mod 7? Show that it is 1.",
                              formal_statement=reference)
    prover = ScriptedSketchProver(language, well_formed=candidates, proves_equivalence=automation())
    config = AutoformalizeConfig(target=language, mode=Mode.STATEMENT)
    for index, candidate in enumerate(candidates):
        result = await check_candidate(problem, candidate, -1.0, config, _parts(language, prover), index)
        assert result.well_formed and result.exact_match is False
        assert result.equivalence is Equivalence.NOT_EQUIVALENT and result.equivalent is False, candidate
        # both directions were tried, and each was refused because its target holds on its own
        assert result.forward.status is DirectionStatus.TARGET_ALONE
        assert result.backward.status is DirectionStatus.TARGET_ALONE
        assert result.forward.alone_tactic and "without the hypothesis" in result.forward.message


async def test_a_real_equivalence_counts_and_each_proof_passes_the_final_check():
    reference = "theorem mathd_algebra_10 (x : ℝ) (h₀ : 2 * x = 6) : x = 3 := by sorry"
    candidate = "theorem mathd_algebra_10 (y : ℝ) (h : y * 2 = 6) : y = 3 := by sorry"
    target = target_for(Language.LEAN4)
    pair = set(target.propositions(candidate, reference))

    prover = ScriptedSketchProver(Language.LEAN4, well_formed=[candidate],
                                  proves_equivalence=automation(lambda hyp, concl: {hyp, concl} == pair))
    problem = InformalProblem("mathd_algebra_10", "If 2x = 6, show x = 3.", formal_statement=reference)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT)
    result = await check_candidate(problem, candidate, -1.0, config, _parts(Language.LEAN4, prover), 0)
    assert result.equivalence is Equivalence.EQUIVALENT and result.equivalent is True
    assert result.forward.status is result.backward.status is DirectionStatus.PROVED
    verified = [name for name, _ in prover.verified]
    assert verified == ["mathd_algebra_10_c0_cand_imp_ref", "mathd_algebra_10_c0_ref_imp_cand"]
    # the checks without the hypothesis ran first, on the same shape with `True` in its place
    alone = [name for name, _ in prover.equivalence_steps if name.endswith("_alone")]
    assert alone and all("True" in s for s in [target.implication("x", "True", "y")])


async def test_a_crash_or_a_time_limit_is_could_not_decide_not_not_equivalent():
    reference = "theorem p (x : ℕ) (h : x = 2) : x * 1 = 2 := by sorry"
    candidate = "theorem p (x : ℕ) (h : x = 2) : 1 * x = 2 := by sorry"
    problem = InformalProblem("p", "If x = 2, show x = 2.", formal_statement=reference)
    proves = automation(lambda hyp, concl: hyp != "True")
    for failure, config in (
        ("crash", AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT)),
        ("timeout", AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT)),
        ("hang", AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT, equivalence_timeout_s=0.05)),
    ):
        prover = ScriptedSketchProver(
            Language.LEAN4, well_formed=[candidate], proves_equivalence=proves,
            equivalence_failure=lambda t, tac, f=failure: f if "ref_imp_cand" in t.name else None)
        result = await check_candidate(problem, candidate, -1.0, config, _parts(Language.LEAN4, prover), 0)
        assert result.forward.status is DirectionStatus.PROVED, failure
        assert result.backward.status is DirectionStatus.UNDECIDED, failure
        assert result.equivalence is Equivalence.UNDECIDED and result.equivalent is False


@pytest.mark.parametrize("failure", ["raises", "unchecked"])
async def test_a_crash_while_checking_well_formedness_is_an_error_not_an_ill_formed_statement(failure):
    from llemma_prove.types import Verdict, Verification

    class Crashing(ScriptedSketchProver):
        async def check_statement(self, theorem):
            if failure == "raises":
                raise ProverError("the REPL exited")
            return Verification(Verdict.UNCHECKED, "time limit")  # the check could not run

    problem = InformalProblem("p", "Show that 1 = 1.")
    model = ScriptedLanguageModel([("Show that 1 = 1.", [" : (1 : ℕ) = 1 := by sorry"])])
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT)
    with pytest.raises(ProverError):
        await autoformalize_statement(problem, config, _parts(Language.LEAN4, Crashing(Language.LEAN4), model))


async def test_tactics_and_budget_are_settings():
    reference = "theorem p (x : ℕ) (h : x = 2) : x * 1 = 2 := by sorry"
    candidate = "theorem p (x : ℕ) (h : x = 2) : 1 * x = 2 := by sorry"
    problem = InformalProblem("p", "If x = 2, show x = 2.", formal_statement=reference)
    prover = ScriptedSketchProver(Language.LEAN4, well_formed=[candidate],
                                  proves_equivalence=lambda t, tac: tac == "omega" and "(True)" not in t.statement)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT, equivalence_tactics=("omega",))
    result = await check_candidate(problem, candidate, -1.0, config, _parts(Language.LEAN4, prover), 0)
    assert result.equivalence is Equivalence.EQUIVALENT
    assert {tac for _, tac in prover.equivalence_steps} == {"omega"}
    assert AutoformalizeConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError):
        AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT, equivalence_timeout_s=0)


async def test_the_report_counts_how_directions_ended(tmp_path):
    from llemma_prove.autoformalize.run import run_autoformalize

    problem = InformalProblem("mathd_numbertheory_5", "What is the remainder of 5^30 mod 7? Show that it is 1.",
                              formal_statement=LEAN_REF, split="valid")
    model = ScriptedLanguageModel([("5^30", [c.removeprefix("theorem mathd_numbertheory_5") for c in LEAN_VACUOUS])])
    prover = ScriptedSketchProver(Language.LEAN4, well_formed=LEAN_VACUOUS, proves_equivalence=automation())
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT, candidates=3)
    result = await run_autoformalize([problem], config, _parts(Language.LEAN4, prover, model), tmp_path / "run")
    overall = result.summary["overall"]
    assert overall["equivalent_any"] == {"count": 0, "of": 1} and overall["not_equivalent"] == {"count": 1, "of": 1}
    assert overall["well_formed_any"] == {"count": 1, "of": 1}
    assert overall["directions"] == {"target-alone": 6}
    assert "Equivalence directions: target-alone 6" in result.markdown
