"""Statement mode: candidate clean-up, normal forms, equivalence theorems, and the checking logic."""

from __future__ import annotations

from llemma_prove.autoformalize.config import AutoformalizeConfig, Mode, Parts
from llemma_prove.autoformalize.isabelle import IsabelleTarget, parse_statement as parse_isabelle, split_statement
from llemma_prove.autoformalize.lean import LeanTarget, parse_statement as parse_lean
from llemma_prove.autoformalize.problems import InformalProblem
from llemma_prove.autoformalize.prompts import default_prompts
from llemma_prove.autoformalize.statement import autoformalize_statement
from llemma_prove.types import DecodingMethod, Language
from tests.autoformalize.doubles import ScriptedLanguageModel, ScriptedSketchProver

LEAN_REF = "theorem mathd_algebra_10 (x : ℝ) (h₀ : 2 * x = 6) : x = 3 := by sorry"


def test_lean_candidate_is_cut_at_its_own_assignment():
    target = LeanTarget()
    raw = "theorem t (f : ℕ → ℕ) (h : ∀ n, f n = n := by simp) : f 2 = 2 := by\n  simp [h]\n  done"
    assert target.clean_statement(raw) == "theorem t (f : ℕ → ℕ) (h : ∀ n, f n = n := by simp) : f 2 = 2 := by sorry"
    assert target.clean_statement("theorem t : 1 = 1") == "theorem t : 1 = 1 := by sorry"
    assert target.statement_head(LEAN_REF) == "theorem mathd_algebra_10 (x : ℝ) (h₀ : 2 * x = 6) : x = 3 := by"


def test_lean_normal_form_ignores_name_spacing_and_proof():
    target = LeanTarget()
    other = "theorem renamed  ( x : ℝ )\n    (h₀ : 2 * x = 6) :\n  x = 3 := by\n  linarith"
    assert target.normalise(other) == target.normalise(LEAN_REF)
    assert target.normalise("theorem a : ∑ k in Finset.range 3, k = 3 := by sorry") == target.normalise(
        "theorem b : ∑ k ∈ Finset.range 3, k = 3 := by sorry")
    assert target.normalise(LEAN_REF) != target.normalise(LEAN_REF.replace("x = 3", "x = 4"))


def test_lean_equivalence_theorems_restate_both_statements_as_propositions():
    parsed = parse_lean(LEAN_REF)
    assert parsed.name == "mathd_algebra_10" and parsed.conclusion.strip() == "x = 3"
    assert parsed.proposition() == "∀ (x : ℝ) (h₀ : 2 * x = 6), x = 3"
    target = LeanTarget()
    a, b = target.propositions("theorem p (y : ℝ) (h : y * 2 = 6) : y = 3 := by sorry", LEAN_REF)
    forward, backward = target.implication("p_cand_imp_ref", a, b), target.implication("p_ref_imp_cand", b, a)
    assert forward == ("theorem p_cand_imp_ref : (∀ (y : ℝ) (h : y * 2 = 6), y = 3) → "
                       "(∀ (x : ℝ) (h₀ : 2 * x = 6), x = 3) := by sorry")
    assert backward.startswith("theorem p_ref_imp_cand : (∀ (x : ℝ) (h₀ : 2 * x = 6), x = 3) → (∀ (y : ℝ)")
    assert parse_lean("theorem q : 2 ^ 8 % 5 = 1 := by sorry").proposition() == "2 ^ 8 % 5 = 1"


ISA_REF = 'theorem mathd_algebra_37:\n  fixes x y :: real\n  assumes h0 : "x+y=7"\n    and h1 : "3 * x + y = 45"\n  shows "x^2 - y^2 = 217"'


def test_isabelle_statement_parsing_cut_and_equivalence_lemmas():
    statement, proof = split_statement(ISA_REF + "\nproof -\n  show ?thesis sledgehammer\nqed")
    assert statement == ISA_REF and proof.startswith("proof -")
    parsed = parse_isabelle(ISA_REF)
    assert parsed.fixes == (("x", "real"), ("y", "real"))
    assert parsed.assumes == ("x+y=7", "3 * x + y = 45") and parsed.shows == ("x^2 - y^2 = 217",)
    assert parsed.proposition() == "\\<And>(x::real) (y::real). (x+y=7) \\<Longrightarrow> (3 * x + y = 45) \\<Longrightarrow> (x^2 - y^2 = 217)"
    bare = parse_isabelle('theorem mathd_numbertheory_102:\n  "(2^8) mod 5 = (1::nat)"')
    assert bare.proposition() == "((2^8) mod 5 = (1::nat))"
    typed = parse_isabelle('theorem t:\n  fixes f :: "nat \\<Rightarrow> nat" and n\n  assumes "\\<forall>k. f k = k"\n  shows "f n = n"')
    assert typed.fixes == (("f", "nat \\<Rightarrow> nat"), ("n", ""))
    a, b = IsabelleTarget().propositions(ISA_REF.replace("h0 :", "a:"), ISA_REF)
    forward = IsabelleTarget().implication("p_cand_imp_ref", a, b)
    assert forward.startswith('lemma p_cand_imp_ref:\n  assumes h: "\\<And>(x::real)')


def test_isabelle_normal_form_drops_name_and_labels_only():
    target = IsabelleTarget()
    relabelled = ISA_REF.replace("mathd_algebra_37", "other").replace("h0 :", "a:").replace("h1 :", "b :")
    assert target.normalise(relabelled) == target.normalise(ISA_REF)
    assert target.normalise(ISA_REF.replace("217", "218")) != target.normalise(ISA_REF)
    assert target.clean_statement("theorem t:\n  \"x = x\"\n  by simp") == 'theorem t:\n  "x = x"'


def _parts(model, prover, language):
    from llemma_prove.autoformalize.target import target_for

    return Parts(model=model, prover=prover, target=target_for(language), prompts=default_prompts(language))


async def test_candidates_are_checked_compared_and_proved_equivalent():
    problem = InformalProblem("mathd_algebra_10", "If $2x = 6$, show that $x = 3$.", formal_statement=LEAN_REF)
    completions = [
        " (x : ℝ) (h₀ : 2 * x = 6) : x = 3 := by\n  linarith",  # exact match after normalisation
        " (y : ℝ) (h : y * 2 = 6) : y = 3 := by sorry",  # different text, equivalent
        " (x : ℝ) (h₀ : 2 * x = 6) : x = 4 := by sorry",  # well formed, not equivalent
        " (x : ℝ) (h₀ : 2 * x = 6 : x = 3",  # does not elaborate
    ]
    model = ScriptedLanguageModel([("If $2x = 6$", completions)])
    well_formed = [LeanTarget().clean_statement("theorem mathd_algebra_10" + c) for c in completions[:3]]

    def proves(theorem, tactic):  # the hypothesis is needed: with `True` in its place nothing proves it
        return ("y * 2 = 6" in theorem.statement and "(True) →" not in theorem.statement
                and tactic == "intro h; intros; simp_all")

    prover = ScriptedSketchProver(Language.LEAN4, well_formed=well_formed, proves_equivalence=proves)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT, candidates=4)
    outcome = await autoformalize_statement(problem, config, _parts(model, prover, Language.LEAN4))

    assert model.params[0].n == 4 and model.params[0].method is DecodingMethod.SAMPLE
    assert model.prompts[0].endswith("Formal:\ntheorem mathd_algebra_10")
    exact, equivalent, wrong, broken = outcome.candidates
    assert (exact.well_formed, exact.exact_match, exact.equivalent) == (True, True, True)
    assert (equivalent.well_formed, equivalent.exact_match, equivalent.equivalent) == (True, False, True)
    assert equivalent.forward.tactic == equivalent.backward.tactic == "intro h; intros; simp_all"
    assert (wrong.well_formed, wrong.exact_match, wrong.equivalent) == (True, False, False)
    # both directions are always tried and recorded
    assert wrong.forward.status.value == wrong.backward.status.value == "not-proved"
    assert wrong.equivalence.value == "not-equivalent"
    assert not broken.well_formed and "unexpected token" in broken.check_message
    assert broken.equivalent is None
    assert outcome.well_formed_first and outcome.well_formed_any and outcome.exact_any and outcome.equivalent_any
    assert outcome.best() is exact
    # each equivalence direction that the session proved was also re-checked by `verify`
    verified = [name for name, _ in prover.verified]
    assert verified.count("mathd_algebra_10_c1_cand_imp_ref") == 1
    assert verified.count("mathd_algebra_10_c1_ref_imp_cand") == 1


async def test_equivalence_counts_only_after_the_final_check():
    problem = InformalProblem("p", "If x = 2, show that x = 2.",
                              formal_statement="theorem p (x : ℕ) (h : x = 2) : x * 1 = 2 := by sorry")
    model = ScriptedLanguageModel([("If x = 2", [" (x : ℕ) (h : x = 2) : 1 * x = 2 := by sorry"])])
    candidate = "theorem p (x : ℕ) (h : x = 2) : 1 * x = 2 := by sorry"

    class SessionSaysYesCheckSaysNo(ScriptedSketchProver):
        async def verify(self, theorem, proof):
            from llemma_prove.types import Verdict, Verification

            self.verified.append((theorem.name, proof.tactics[0]))
            return Verification(Verdict.REJECTED, "kernel says no")

    prover = SessionSaysYesCheckSaysNo(Language.LEAN4, well_formed=[candidate],
                                       proves_equivalence=lambda t, tac: tac == "exact fun h => h"
                                       and "(True) →" not in t.statement)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.STATEMENT)
    outcome = await autoformalize_statement(problem, config, _parts(model, prover, Language.LEAN4))
    (only,) = outcome.candidates
    assert model.params[0].method is DecodingMethod.GREEDY
    assert only.well_formed and only.exact_match is False and only.equivalent is False
    assert "final check refused" in only.forward.message and "final check refused" in only.backward.message
    assert only.equivalence.value == "not-equivalent"


async def test_isabelle_statement_without_reference_reports_well_formedness_only():
    problem = InformalProblem("t1", "Show that two plus two is four.")
    model = ScriptedLanguageModel([("two plus two", ['\n  "(2::nat) + 2 = 4"\n  by simp'])])
    statement = 'theorem t1:\n  "(2::nat) + 2 = 4"'
    prover = ScriptedSketchProver(Language.ISABELLE, well_formed=[statement])
    config = AutoformalizeConfig(target=Language.ISABELLE, mode=Mode.STATEMENT)
    outcome = await autoformalize_statement(problem, config, _parts(model, prover, Language.ISABELLE))
    (only,) = outcome.candidates
    assert only.text == statement and only.well_formed
    assert only.exact_match is None and only.equivalent is None
    assert outcome.exact_any is None and outcome.equivalent_any is None
    assert prover.checked == [statement]
    assert model.prompts[0].endswith("Formal:\ntheorem t1:")


async def test_an_empty_candidate_is_ill_formed_without_asking_the_prover():
    problem = InformalProblem("p", "Show that 1 = 1.")
    for language, answer in ((Language.LEAN4, "\n\nInformal: next"), (Language.ISABELLE, "\n  proof -")):
        model = ScriptedLanguageModel([("Show that 1 = 1.", [answer])])
        prover = ScriptedSketchProver(language)
        config = AutoformalizeConfig(target=language, mode=Mode.STATEMENT)
        outcome = await autoformalize_statement(problem, config, _parts(model, prover, language))
        (only,) = outcome.candidates
        assert not only.well_formed and only.check_message == "the model wrote no statement"
        assert prover.checked == []


def test_every_minif2f_reference_statement_restates_as_a_proposition():
    """The equivalence check needs each benchmark statement as one proposition: all 488 per language."""
    import json

    from llemma_prove.provers.lean.render import statement_head
    from tests.conftest import require_shared

    for split in ("valid", "test"):
        for line in require_shared(f"minif2f/lean4/{split}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            parsed = parse_lean(row["formal_statement"])
            assert parsed is not None and parsed.name == row["name"] and parsed.conclusion.strip()
            # the sketch continues exactly the head the Lean backend's final check compiles
            assert LeanTarget().statement_head(row["formal_statement"]) == statement_head(row["formal_statement"]) + " by"
        for line in require_shared(f"minif2f/isabelle/{split}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            parsed = parse_isabelle(row["statement"])
            assert parsed is not None and parsed.name == row["name"] and parsed.shows, row["name"]
