"""The Isabelle sketch adapter on the fake PISA server (a test double speaking PISA's gRPC protocol)."""

from __future__ import annotations

from pathlib import Path

from llemma_prove.autoformalize.config import AutoformalizeConfig, Mode, Parts
from llemma_prove.autoformalize.dsp import draft_sketch_prove
from llemma_prove.autoformalize.holes import parse_sketch
from llemma_prove.autoformalize.isabelle import IsabelleTarget
from llemma_prove.autoformalize.problems import InformalProblem
from llemma_prove.autoformalize.prompts import default_prompts
from llemma_prove.provers.isabelle.options import IsabelleOptions
from llemma_prove.provers.isabelle.sketch import IsabelleSketchProver
from llemma_prove.types import Verdict
from tests.autoformalize.doubles import ScriptedLanguageModel
from tests.doubles.fake_pisa import FakeScript, Reply, closes, goes_to, norm
from tests.isabelle.conftest import HEADER, OPEN_TEXT, ROOT_STATE, STATEMENT, install_fake_isabelle, prover_on_fake, toy_theorem

BODY = ('\nproof -\n  (* x is 4 *)\n  have c0: "x = 4"\n    using h0 sledgehammer\n  then show ?thesis\n'
        '    using c0 sledgehammer\nqed')
FILLED = ('\nproof -\n  (* x is 4 *)\n  have c0: "x = 4"\n    using h0 by simp\n  then show ?thesis\n'
          '    using c0 by (metis c0)\nqed')
S = {k: f"proof (state)\ngoal: step {k}" for k in range(1, 8)}


def script() -> FakeScript:
    """The toy theorem's proof as scripted Isabelle: states and the proof level after each command."""
    s = FakeScript()
    s.add("", OPEN_TEXT, goes_to(ROOT_STATE, level=1))
    s.add(ROOT_STATE, "proof -", goes_to(S[1], level=2))
    s.add(S[1], "(* x is 4 *)", goes_to(S[1], level=2))
    s.add(S[1], 'have c0: "x = 4"', goes_to(S[2], level=3))
    s.add(S[2], "using h0", goes_to(S[3], level=3))
    s.add(S[3], "by simp", goes_to(S[4], level=2))  # `by auto` is not scripted: it fails
    s.add(S[4], "then show ?thesis", goes_to(S[5], level=3))
    s.add(S[5], "using c0", goes_to(S[6], level=3))
    s.add(S[6], "normalhammer", Reply("hammer", S[7], 2, tactic="by (metis c0)"))
    s.add(S[6], "by (metis c0)", goes_to(S[7], level=2))
    s.add(S[7], "qed", closes())
    # how Isabelle's parser splits the filled proof into commands
    s.parse[norm(FILLED.strip())] = ["proof -", "(* x is 4 *)", 'have c0: "x = 4"', "using h0", "by simp",
                                     "then show ?thesis", "using c0", "by (metis c0)", "qed"]
    return s


def options(tmp_path: Path) -> IsabelleOptions:
    home = tmp_path / "Isabelle2022"
    (home / "bin").mkdir(parents=True)
    install_fake_isabelle(home)
    work = tmp_path / "work"
    work.mkdir()
    theory = work / "Interactive.thy"
    theory.write_text("theory Interactive imports Complex_Main begin end\n")
    return IsabelleOptions(isabelle_home=home, working_dir=work, theory_file=theory, official_check=True,
                           rpc_grace_s=0.5, ping_timeout_s=0.5, watchdog_interval_s=0.1, startup_timeout_s=20.0)


async def test_holes_are_reached_in_order_and_closed_by_heuristics_then_sledgehammer(tmp_path):
    async with prover_on_fake(script(), options(tmp_path)) as (prover, fake):
        sketcher = IsabelleSketchProver(prover)
        sketch = parse_sketch(BODY, IsabelleTarget.language)
        session = await sketcher.open_sketch(toy_theorem(), sketch)
        first = await session.hole_goal(0, ())
        assert first.state.text == S[3]
        assert (await session.step(first.state, "by auto")).kind.value == "error"
        assert (await session.step(first.state, "by simp")).kind.value == "proved"  # level 3 -> 2
        second = await session.hole_goal(1, ("by simp",))
        assert second.state.text == S[6]
        found = await session.hammer(second.state, 5.0)
        assert found.text == "by (metis c0)"
        await session.close()
        verdict = await sketcher.verify_sketch(toy_theorem(), sketch.fill(["by simp", "by (metis c0)"]))
        assert verdict.verdict is Verdict.ACCEPTED, verdict.reason
        refused = await sketcher.verify_sketch(toy_theorem(), sketch.fill(["by simp"]))
        assert refused.verdict is Verdict.REJECTED and "hammer" in refused.reason


async def test_a_step_that_leaves_the_goal_open_does_not_close_the_hole(tmp_path):
    s = script()
    s.add(S[3], "apply simp", goes_to("proof (prove)\ngoal: still open", level=3))
    async with prover_on_fake(s, options(tmp_path)) as (prover, _):
        session = await IsabelleSketchProver(prover).open_sketch(toy_theorem(), parse_sketch(BODY, IsabelleTarget.language))
        goal = await session.hole_goal(0, ())
        outcome = await session.step(goal.state, "apply simp")
        assert outcome.kind.value == "error" and "did not close" in outcome.message
        broken = await session.hole_goal(1, ("by blast",))  # a fill that does not check
        assert broken.state is None and "the fill of hole 0 does not check" in broken.error
        await session.close()


async def test_dsp_end_to_end_on_the_fake_pisa(tmp_path):
    model = ScriptedLanguageModel([("Formal:\ntheorem toy_add", [BODY + "\n\n\n\nInformal: more"])])
    async with prover_on_fake(script(), options(tmp_path)) as (prover, _):
        parts = Parts(model=model, prover=prover, target=IsabelleTarget(), prompts=default_prompts(IsabelleTarget.language),
                      sketcher=IsabelleSketchProver(prover))
        problem = InformalProblem("toy_add", "If x + 3 = 7 then x = 4.", "Subtract 3.", STATEMENT, header=HEADER)
        outcome = await draft_sketch_prove(problem, AutoformalizeConfig(target=IsabelleTarget.language, mode=Mode.DSP),
                                           parts)
    (sketch,) = outcome.sketches
    assert [(h.method, h.steps) for h in sketch.holes] == [("tactic", ("by simp",)), ("hammer", ("by (metis c0)",))]
    # every heuristic but `by eval` (an oracle, not tried by default), then the hammer
    assert sketch.holes[1].attempts == len(IsabelleTarget.hole_tactics) - 1 + 1
    assert outcome.proved, sketch.reason
    assert sketch.assembled == STATEMENT + FILLED
