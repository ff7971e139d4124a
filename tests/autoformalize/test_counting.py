"""What counts: DSP proofs of the right statement only, oracle proofs apart, errors in every denominator,
errors retried and never another outcome, and a run's identity checked on resume."""

from __future__ import annotations

import json

import pytest

from llemma_prove.autoformalize.config import AutoformalizeConfig, Mode, Parts
from llemma_prove.autoformalize.dsp import DspVerdict, draft_sketch_prove
from llemma_prove.autoformalize.oracles import oracle_use, oracle_words
from llemma_prove.autoformalize.problems import InformalProblem
from llemma_prove.autoformalize.prompts import default_prompts
from llemma_prove.autoformalize.report import to_markdown
from llemma_prove.autoformalize.run import run_autoformalize
from llemma_prove.autoformalize.store import read_records
from llemma_prove.autoformalize.target import target_for
from llemma_prove.errors import ProverError
from llemma_prove.store import StoreError
from llemma_prove.types import Language, Verdict, Verification
from tests.autoformalize.doubles import ScriptedLanguageModel, ScriptedSketchProver, automation, proves

ISA = Language.ISABELLE
VACUOUS = 'theorem t5:\n  assumes h: "False"\n  shows "(5^30) mod 7 = (2::nat)"'
RIGHT = 'theorem t5:\n  "(5^30) mod 7 = (1::nat)"'
PROBLEM = InformalProblem("t5", "What is the remainder of 5^30 divided by 7? Show that it is 1.",
                          "Powers of 5 mod 7 repeat every 6 steps.")


def _parts(model, prover, language=ISA) -> Parts:
    return Parts(model=model, prover=prover, target=target_for(language), prompts=default_prompts(language),
                 sketcher=prover)


def _model(statement: str, sketch: str) -> ScriptedLanguageModel:
    head = statement.removeprefix("theorem t5:")
    return ScriptedLanguageModel([(statement, [sketch]), ("Formal:\ntheorem t5:", [head])])


async def test_a_vacuous_dsp_statement_does_not_count_as_proved():
    """The model states `assumes "False"` and proves it: accepted by the check, never counted."""
    model = _model(VACUOUS, "\n  using h by simp")
    prover = ScriptedSketchProver(ISA, well_formed=[VACUOUS])
    outcome = await draft_sketch_prove(PROBLEM, AutoformalizeConfig(target=ISA, mode=Mode.DSP), _parts(model, prover))
    assert outcome.statement == VACUOUS and outcome.statement_source == "autoformalized"
    assert outcome.sketches[0].accepted  # the prover does accept a proof from False
    assert not outcome.proved and outcome.verdict() is DspVerdict.UNVERIFIED
    assert "not shown equivalent" in outcome.reason


@pytest.mark.parametrize("statement", [VACUOUS, RIGHT])
async def test_a_statement_not_shown_equivalent_to_the_reference_stays_unverified(statement):
    """With a reference and --formalize-statement: the vacuous statement is not equivalent; the right one,
    restated, is not shown equivalent either, because the reference is a closed computation that the
    automation proves without any hypothesis (BEq's rule then cannot credit the hypothesis): a known
    false negative, never a false positive."""
    reference = 'theorem t5:\n  "(5 ^ 30) mod 7 = (1::nat)"'  # not the same text: equivalence must be proved
    problem = InformalProblem(PROBLEM.name, PROBLEM.informal_statement, PROBLEM.informal_proof, reference)
    prover = ScriptedSketchProver(ISA, well_formed=[statement], proves_equivalence=automation())
    config = AutoformalizeConfig(target=ISA, mode=Mode.DSP, formalize_statement=True)
    outcome = await draft_sketch_prove(problem, config, _parts(_model(statement, "\n  by simp"), prover))
    assert outcome.sketches[0].accepted
    assert outcome.statement_outcome.candidates[0].equivalence.value == "not-equivalent"
    assert outcome.verdict() is DspVerdict.UNVERIFIED and not outcome.proved


async def test_with_a_reference_and_formalize_statement_an_equivalent_statement_counts():
    reference = "theorem q (x : ℕ) (h : x = 2) : x * 1 = 2 := by sorry"
    candidate = "theorem q (x : ℕ) (h : x = 2) : 1 * x = 2 := by sorry"
    problem = InformalProblem("q", "If x = 2, show x = 2.", "Trivial.", reference)
    model = ScriptedLanguageModel([("1 * x = 2", ["\n  omega"]), ("Formal:\ntheorem q", [candidate.removeprefix("theorem q")])])
    prover = ScriptedSketchProver(Language.LEAN4, well_formed=[candidate],
                                  proves_equivalence=automation(lambda h, c: h != "True"))
    config = AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP, formalize_statement=True, hole_search=False)
    outcome = await draft_sketch_prove(problem, config, _parts(model, prover, Language.LEAN4))
    assert outcome.statement == candidate and outcome.statement_verified
    assert outcome.proved and outcome.verdict() is DspVerdict.PROVED


# -- oracles ------------------------------------------------------------------------------------------


def test_oracle_filter_reads_code_not_comments_or_strings():
    assert oracle_words('have "x = 1" by eval', ISA) == ["eval"]
    assert oracle_words('using [[smt_oracle]] by smt', ISA) == ["smt_oracle"]
    assert oracle_words('(* by eval *) have "eval x = 1" by simp', ISA) == []
    assert oracle_words("by native_decide -- not decide", Language.LEAN4) == ["native_decide"]
    checked = Verification(Verdict.ACCEPTED, details={"oracles": ["Code_Evaluation"]})
    assert oracle_use("by simp", ISA, checked) == ["the final check reports oracles: Code_Evaluation"]
    axioms = Verification(Verdict.ACCEPTED, details={"axioms": ["propext", "Lean.ofReduceBool"]})
    assert oracle_use("by decide", Language.LEAN4, axioms) == ["the proof depends on Lean.ofReduceBool"]


ISA_STATEMENT = 'theorem t6:\n  fixes x :: nat\n  assumes h: "x = 2"\n  shows "x * x = 4"'
ISA_SKETCH = "\nproof -\n  show ?thesis\n    using h sledgehammer\nqed"


@pytest.mark.parametrize("allow", [False, True])
async def test_a_hole_closed_by_eval_is_rejected_by_default_and_apart_where_allowed(allow):
    problem = InformalProblem("t6", "If x = 2, show x * x = 4.", "Compute.", ISA_STATEMENT)
    model = ScriptedLanguageModel([("Formal:\ntheorem t6", [ISA_SKETCH])])
    prover = ScriptedSketchProver(ISA, hole_script={"using h": {"by eval": proves()}})
    config = AutoformalizeConfig(target=ISA, mode=Mode.DSP, allow_oracles=allow)
    outcome = await draft_sketch_prove(problem, config, _parts(model, prover))
    tried = [tactic for _, tactic in prover.steps]
    assert ("by eval" in tried) == allow
    if allow:
        (sketch,) = outcome.sketches
        assert sketch.accepted and sketch.oracles and not sketch.proved
        assert outcome.verdict() is DspVerdict.ORACLE and not outcome.proved
    else:
        assert outcome.verdict() is DspVerdict.NOT_PROVED and prover.hammer_calls == ["using h"]


async def test_a_model_written_eval_step_is_not_a_proof_by_default():
    sketch = '\nproof -\n  have "(2::nat) * 2 = 4" by eval\n  show ?thesis\n    using h sledgehammer\nqed'
    problem = InformalProblem("t6", "If x = 2, show x * x = 4.", "Compute.", ISA_STATEMENT)
    model = ScriptedLanguageModel([("Formal:\ntheorem t6", [sketch])])
    prover = ScriptedSketchProver(ISA, hole_script={"using h": {"by simp": proves()}})
    outcome = await draft_sketch_prove(problem, AutoformalizeConfig(target=ISA, mode=Mode.DSP), _parts(model, prover))
    assert outcome.sketches[0].accepted and outcome.sketches[0].oracles == ("the proof text uses `eval`",)
    assert outcome.verdict() is DspVerdict.NOT_PROVED and outcome.proof_text is None


# -- denominators, errors, identity -------------------------------------------------------------------

LEAN = Language.LEAN4
PROBLEMS = [InformalProblem(f"mathd_algebra_9{i}", f"Show that {i} = {i}.",
                            formal_statement=f"theorem mathd_algebra_9{i} : ({i} : ℕ) = {i} := by sorry", split="valid")
            for i in range(3)]


class FlakyProver(ScriptedSketchProver):
    """The statement check of one problem crashes (as a dead REPL raises) until `healed`."""

    healed = False

    async def check_statement(self, theorem):
        if "mathd_algebra_92" in theorem.statement and not self.healed:
            raise ProverError("the REPL process exited")
        return await super().check_statement(theorem)


def _lean_setup(model_name="m1"):
    completions = [(p.informal_statement, [p.formal_statement.removeprefix(p.name.join(("theorem ", "")))])
                   for p in PROBLEMS]
    model = ScriptedLanguageModel(completions)
    prover = FlakyProver(LEAN, well_formed=[p.formal_statement for p in PROBLEMS])
    config = AutoformalizeConfig(target=LEAN, mode=Mode.STATEMENT, model=model_name)
    return model, prover, config


async def test_errors_stay_in_the_denominator_and_are_retried_with_retry_errors(tmp_path):
    model, prover, config = _lean_setup()
    run_dir = tmp_path / "run"
    first = await run_autoformalize(PROBLEMS, config, _parts(model, prover, LEAN), run_dir, "valid")
    records = {r.name: r for r in read_records(run_dir / "results.jsonl")}
    assert records["mathd_algebra_92"].verdict == "error" and "REPL" in records["mathd_algebra_92"].error
    assert all(r.model == "m1" for r in records.values())
    overall = first.summary["overall"]
    assert overall["well_formed_any"] == {"count": 2, "of": 3}  # the error is a failure, not left out
    assert overall["equivalent_any"] == {"count": 2, "of": 3} and overall["errors"] == {"count": 1, "of": 3}
    assert "| all | 3 | 66.7% (2/3) |" in first.markdown and "ended in an error" in first.markdown
    assert overall["directions"] == {}  # all exact matches: no direction needed proving
    # resuming without --retry-errors keeps the error; with it, only that problem runs again
    again = await run_autoformalize(PROBLEMS, config, _parts(model, prover, LEAN), run_dir, "valid")
    assert again.ran == ()
    prover.healed = True
    retried = await run_autoformalize(PROBLEMS, config, _parts(model, prover, LEAN), run_dir, "valid",
                                      retry_errors=True)
    assert retried.ran == ("mathd_algebra_92",)
    assert retried.summary["overall"]["equivalent_any"] == {"count": 3, "of": 3}
    assert retried.summary["overall"]["errors"]["count"] == 0
    kept = [json.loads(line) for line in (run_dir / "retried-errors.jsonl").read_text().splitlines()]
    assert [r["name"] for r in kept] == ["mathd_algebra_92"]


async def test_a_run_with_another_model_or_input_is_refused_naming_the_difference(tmp_path):
    model, prover, config = _lean_setup()
    prover.healed = True
    run_dir = tmp_path / "run"
    await run_autoformalize(PROBLEMS[:1], config, _parts(model, prover, LEAN), run_dir)
    from dataclasses import replace

    for changed, name in ((replace(config, model="m2"), "model"), (replace(config, input_sha256="ff"), "input_sha256"),
                          (replace(config, equivalence_timeout_s=5.0), "equivalence_timeout_s")):
        with pytest.raises(StoreError, match=f"{name}: .* -> .*--force"):
            await run_autoformalize(PROBLEMS[:1], changed, _parts(model, prover, LEAN), run_dir)
    # another prompt changes the prompt hash
    other = _parts(model, prover, LEAN)
    other = replace(other, prompts=other.prompts.with_examples(other.prompts.examples[:2]))
    with pytest.raises(StoreError, match="prompt_sha256"):
        await run_autoformalize(PROBLEMS[:1], config, other, run_dir)
    # --force starts over (the old files are moved aside, not deleted)
    result = await run_autoformalize(PROBLEMS[:1], replace(config, model="m2"), _parts(model, prover, LEAN), run_dir,
                                     force=True)
    assert result.ran == ("mathd_algebra_90",) and result.summary["models"] == ["m2"]
    assert len(list(run_dir.glob("superseded-*/results.jsonl"))) == 1


def test_the_report_names_the_metric_and_what_each_published_number_was():
    from llemma_prove.autoformalize.report import summarise

    text = to_markdown(summarise(AutoformalizeConfig(target=LEAN, mode=Mode.STATEMENT, model="x"), []))
    assert "BEq" in text and "Liu et al." in text and "typecheck" in text
    dsp = to_markdown(summarise(AutoformalizeConfig(target=ISA, mode=Mode.DSP, model="x", sketches=100), []))
    assert "100 sketches per problem" in dsp and "Codex (code-davinci-002), 100 attempts per problem" in dsp
    assert "One greedy proof per problem" in dsp and "proved, statement unverified" in dsp
    assert "proved with an oracle" in dsp


@pytest.mark.parametrize("allow", [False, True])
async def test_a_final_check_that_refuses_for_oracles_alone_is_counted_apart_only_where_allowed(allow):
    """The Isabelle prover's official check rejects a proof whose theorem depends on an oracle, with
    details {"isabelle_server": "oracles", "oracles": listing} (provers/isabelle/official.py); a clean
    acceptance reports oracles "none"."""
    class OracleReporting(ScriptedSketchProver):
        async def verify_sketch(self, theorem, body):
            if "by eval" in body:
                return Verification(Verdict.REJECTED, "Isabelle server: t6 depends on 1 oracle(s): Code_Evaluation",
                                    body, details={"isabelle_server": "oracles", "oracles": "Code_Evaluation"})
            return Verification(Verdict.ACCEPTED, "", body, details={"isabelle_server": "ok", "oracles": "none"})

    problem = InformalProblem("t6", "If x = 2, show x * x = 4.", "Compute.", ISA_STATEMENT)
    for script, expected in (({"by eval": proves()}, DspVerdict.ORACLE if allow else DspVerdict.NOT_PROVED),
                             ({"by simp": proves()}, DspVerdict.PROVED)):
        model = ScriptedLanguageModel([("Formal:\ntheorem t6", [ISA_SKETCH])])
        prover = OracleReporting(ISA, hole_script={"using h": script})
        config = AutoformalizeConfig(target=ISA, mode=Mode.DSP, allow_oracles=allow)
        outcome = await draft_sketch_prove(problem, config, _parts(model, prover))
        if script == {"by eval": proves()} and not allow:
            assert "by eval" not in [t for _, t in prover.steps]  # not even tried by default
            continue
        assert outcome.verdict() is expected, (script, allow)
        assert not outcome.sketches[0].oracles or expected is DspVerdict.ORACLE
