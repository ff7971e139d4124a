"""Draft, Sketch, Prove against the doubles: hole filling, the assembled text, the final check."""

from __future__ import annotations

from llemma_prove.autoformalize.config import AutoformalizeConfig, Mode, Parts
from llemma_prove.autoformalize.dsp import draft_sketch_prove
from llemma_prove.autoformalize.problems import InformalProblem
from llemma_prove.autoformalize.prompts import default_prompts
from llemma_prove.autoformalize.target import target_for
from llemma_prove.types import DecodingMethod, Language, Verdict, Verification
from tests.autoformalize.doubles import ScriptedLanguageModel, ScriptedSketchProver, goes_to, proves
from tests.doubles.scripted import ScriptedProposer

LEAN_STATEMENT = "theorem p_lean (a b : ℝ) (h₁ : a + b = 35) (h₂ : a = 2 / 5 * b) : b - a = 15 := by sorry"
LEAN_HEAD = "theorem p_lean (a b : ℝ) (h₁ : a + b = 35) (h₂ : a = 2 / 5 * b) : b - a = 15 := by"
LEAN_SKETCH = (
    "\n  -- b is 25\n"
    "  have hb : b = 25 := by\n"
    "    sorry\n"
    "  have ha : a = 10 := by sorry\n"
    "  sorry"
)
LEAN_PROBLEM = InformalProblem("p_lean", "Two amounts add up to 35 and one is two fifths of the other.",
                               formal_statement=LEAN_STATEMENT)
DRAFT = "Substitute: 7b/5 = 35 so b = 25, then a = 10."

LEAN_HOLES = {
    "have hb : b = 25 := by": {"linarith": proves()},
    # nothing in the tactic list closes this one; the search does, in two steps
    "have ha : a = 10 := by": {"rw [hb] at h₁": goes_to("h₁ : a + 25 = 35 ⊢ a = 10")},
    "h₁ : a + 25 = 35 ⊢ a = 10": {"linarith": proves()},
    "have ha : a = 10 := by sorry": {"nlinarith": proves()},
}
PROPOSALS = {
    "have ha : a = 10 := by": [("rw [hb] at h₁", -0.1), ("ring", -0.9)],
    "h₁ : a + 25 = 35 ⊢ a = 10": [("linarith", -0.2)],
}


def lean_parts(model, prover, proposer=None) -> Parts:
    return Parts(model=model, prover=prover, target=target_for(Language.LEAN4),
                 prompts=default_prompts(Language.LEAN4), sketcher=prover, proposer=proposer)


def lean_model(sketches=(LEAN_SKETCH + "\n\n\nInformal:\nnext problem",), drafts=(DRAFT + " -/ trailing",)):
    return ScriptedLanguageModel([("Formal:\ntheorem p_lean", list(sketches)), ("Two amounts", list(drafts))])


async def test_lean_dsp_drafts_sketches_closes_holes_and_passes_the_final_check():
    model = lean_model()
    prover = ScriptedSketchProver(Language.LEAN4, hole_script=LEAN_HOLES)
    proposer = ScriptedProposer(PROPOSALS)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP)
    outcome = await draft_sketch_prove(LEAN_PROBLEM, config, lean_parts(model, prover, proposer))

    assert outcome.drafted and outcome.statement_source == "reference"
    draft_prompt, sketch_prompt = model.prompts
    assert draft_prompt.endswith("### Solution\n\n")
    assert sketch_prompt.endswith(DRAFT + " -/\n\nFormal:\n" + LEAN_HEAD)  # the draft, cut at `-/`, guides the sketch
    assert all(p.method is DecodingMethod.GREEDY and p.n == 1 for p in model.params)

    (sketch,) = outcome.sketches
    assert sketch.draft == DRAFT and sketch.sketch == LEAN_SKETCH
    assert [(h.method, h.steps) for h in sketch.holes] == [
        ("tactic", ("linarith",)),
        ("search", ("rw [hb] at h₁", "linarith")),
        ("tactic", ("nlinarith",)),
    ]
    assert sketch.holes[2].attempts == 3  # norm_num, linarith, then nlinarith
    expected_body = (
        "\n  -- b is 25\n"
        "  have hb : b = 25 := by\n"
        "    linarith\n"
        "  have ha : a = 10 := by rw [hb] at h₁\n"
        "                         linarith\n"
        "  nlinarith"
    )
    assert sketch.assembled == LEAN_HEAD + expected_body
    assert sketch.verification.verdict is Verdict.ACCEPTED
    assert prover.verified == [("p_lean", expected_body)]
    assert outcome.proved and outcome.proof_text
    assert all(s.closed for s in prover.sessions)


async def test_lean_hole_that_nothing_closes_leaves_the_problem_unproved_without_a_final_check():
    holes = dict(LEAN_HOLES)
    del holes["have hb : b = 25 := by"]
    model = lean_model()
    prover = ScriptedSketchProver(Language.LEAN4, hole_script=holes)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP)
    outcome = await draft_sketch_prove(LEAN_PROBLEM, config, lean_parts(model, prover, ScriptedProposer(PROPOSALS)))
    (sketch,) = outcome.sketches
    assert not outcome.proved and sketch.assembled is None and sketch.verification is None
    assert sketch.reason == "hole 0 (line 4) stayed open"
    assert len(sketch.holes) == 1 and not sketch.holes[0].closed
    assert sketch.holes[0].attempts == len(target_for(Language.LEAN4).hole_tactics)  # no proposals: no search steps
    assert prover.verified == []


async def test_a_sketch_that_does_not_elaborate_is_reported_as_such():
    model = lean_model(sketches=("\n  have := bad_lemma\n  sorry",))
    prover = ScriptedSketchProver(Language.LEAN4, hole_script=LEAN_HOLES, skeleton_errors=["bad_lemma"])
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP)
    outcome = await draft_sketch_prove(LEAN_PROBLEM, config, lean_parts(model, prover))
    assert not outcome.proved
    assert outcome.sketches[0].reason.startswith("the sketch does not check up to hole 0")


async def test_final_check_rejection_means_not_proved():
    class RejectingProver(ScriptedSketchProver):
        async def verify(self, theorem, proof):
            self.verified.append((theorem.name, proof.tactics[0]))
            return Verification(Verdict.REJECTED, "uses sorryAx")

    prover = RejectingProver(Language.LEAN4, hole_script=LEAN_HOLES)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP)
    outcome = await draft_sketch_prove(LEAN_PROBLEM, config, lean_parts(lean_model(), prover, ScriptedProposer(PROPOSALS)))
    (sketch,) = outcome.sketches
    assert all(h.closed for h in sketch.holes) and sketch.assembled is not None
    assert not outcome.proved and outcome.proof_text is None
    assert "uses sorryAx" in sketch.reason


async def test_sampled_sketches_stop_at_the_first_accepted_one():
    bad = "\n  have hb : b = 25 := by\n    sorry\n  exact absurd"
    model = lean_model(sketches=("\n  exact bogus", LEAN_SKETCH, bad))
    prover = ScriptedSketchProver(Language.LEAN4, hole_script=LEAN_HOLES, skeleton_errors=["bogus", "absurd"])
    problem = InformalProblem(LEAN_PROBLEM.name, LEAN_PROBLEM.informal_statement, DRAFT, LEAN_STATEMENT)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP, sketches=3)
    outcome = await draft_sketch_prove(problem, config, lean_parts(model, prover, ScriptedProposer(PROPOSALS)))
    assert not outcome.drafted and len(model.prompts) == 1
    assert model.params[0].n == 3 and model.params[0].method is DecodingMethod.SAMPLE
    first, second = outcome.sketches  # the third sample is never tried
    assert not first.holes and first.verification.verdict is Verdict.REJECTED  # no holes: straight to the check
    assert second.proved and outcome.proved


async def test_several_drafts_each_get_their_own_sketch():
    model = lean_model(sketches=("\n  exact bogus",), drafts=("first idea -/", "second idea -/"))
    prover = ScriptedSketchProver(Language.LEAN4, hole_script=LEAN_HOLES, skeleton_errors=["bogus"])
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP, sketches=2)
    outcome = await draft_sketch_prove(LEAN_PROBLEM, config, lean_parts(model, prover))
    assert model.params[0].n == 2  # two drafts sampled
    assert model.prompts[1].endswith("first idea -/\n\nFormal:\n" + LEAN_HEAD)
    assert model.prompts[2].endswith("second idea -/\n\nFormal:\n" + LEAN_HEAD)
    assert [s.draft for s in outcome.sketches] == ["first idea", "second idea"]


ISA_STATEMENT = ('theorem p_isa:\n  fixes a b :: real\n  assumes h1: "a + b = 35"\n    and h2: "a = 2 / 5 * b"\n'
                 '  shows "b - a = 15"')
ISA_SKETCH = ('\nproof -\n  (* b is 25 *)\n  have c0: "b = 25"\n    using h1 h2 sledgehammer\n  then show ?thesis\n'
              '    using h1 sledgehammer\nqed')


async def test_isabelle_dsp_uses_dsp_heuristics_then_sledgehammer():
    problem = InformalProblem("p_isa", "Two amounts add up to 35 and one is two fifths of the other.",
                              "b = 25 so the difference is 15.", ISA_STATEMENT)
    model = ScriptedLanguageModel([("Formal:\ntheorem p_isa", [ISA_SKETCH + "\n\n\n\nInformal:\n(*### more"])])
    prover = ScriptedSketchProver(
        Language.ISABELLE,
        hole_script={"using h1 h2": {"by (auto simp: field_simps)": proves()},
                     "using h1": {"by (smt (verit) c0)": proves()}},
        hammer_script={"using h1": "by (smt (verit) c0)"},
    )
    parts = Parts(model=model, prover=prover, target=target_for(Language.ISABELLE),
                  prompts=default_prompts(Language.ISABELLE), sketcher=prover)
    config = AutoformalizeConfig(target=Language.ISABELLE, mode=Mode.DSP)
    outcome = await draft_sketch_prove(problem, config, parts)

    assert not outcome.drafted and model.prompts[0].endswith("b = 25 so the difference is 15. *)\n\nFormal:\n" + ISA_STATEMENT)
    (sketch,) = outcome.sketches
    first, second = sketch.holes
    # DSP's heuristics less `by eval`, which rests on an oracle and is tried only where allowed
    assert (first.method, first.steps, first.attempts) == ("tactic", ("by (auto simp: field_simps)",), 10)
    assert ("using h1 h2", "by eval") not in prover.steps
    assert (second.method, second.steps) == ("hammer", ("by (smt (verit) c0)",))
    assert prover.hammer_calls == ["using h1"]  # Sledgehammer only after the heuristics failed
    # holes are asked for in order, with the texts that closed the earlier ones (PISA replays them)
    assert prover.sessions[0].fills_seen == [(), ("by (auto simp: field_simps)",)]
    assert sketch.assembled == ISA_STATEMENT + ISA_SKETCH.replace(
        "h1 h2 sledgehammer", "h1 h2 by (auto simp: field_simps)").replace("h1 sledgehammer", "h1 by (smt (verit) c0)")
    assert outcome.proved


async def test_dsp_without_a_reference_statement_autoformalizes_one_first():
    problem = InformalProblem("p_lean", LEAN_PROBLEM.informal_statement, DRAFT)
    model = ScriptedLanguageModel([
        ("Formal:\ntheorem p_lean (a b", [LEAN_SKETCH]),
        ("Formal:\ntheorem p_lean", [LEAN_STATEMENT.removeprefix("theorem p_lean")]),
    ])
    prover = ScriptedSketchProver(Language.LEAN4, well_formed=[LEAN_STATEMENT], hole_script=LEAN_HOLES)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP)
    outcome = await draft_sketch_prove(problem, config, lean_parts(model, prover, ScriptedProposer(PROPOSALS)))
    assert outcome.statement_source == "autoformalized" and outcome.statement == LEAN_STATEMENT
    # the proof is accepted, but with no reference its statement cannot be shown to be the problem's
    assert outcome.sketches[0].proved and not outcome.statement_verified
    assert not outcome.proved and outcome.verdict().value == "proved-statement-unverified"


async def test_draft_flag_replaces_a_given_informal_proof_with_the_models_draft():
    problem = InformalProblem(LEAN_PROBLEM.name, LEAN_PROBLEM.informal_statement, "the human proof", LEAN_STATEMENT)
    model = lean_model()
    prover = ScriptedSketchProver(Language.LEAN4, hole_script=LEAN_HOLES)
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP, always_draft=True)
    outcome = await draft_sketch_prove(problem, config, lean_parts(model, prover, ScriptedProposer(PROPOSALS)))
    assert outcome.drafted and outcome.sketches[0].draft == DRAFT
    assert "the human proof" not in model.prompts[1] and DRAFT in model.prompts[1]
