"""The Lean sketch adapter on the stand-in REPL (a test double speaking the REPL protocol).

The sketch command's answer is recorded in the shape real Lean gives (one `sorries` entry per hole,
positions relative to the command); tactics on the holes' proof states and the final check are
answered by the stand-in's small synthetic world (`close...` completes a goal, `fail...` errs, any
other tactic leaves a changed goal; `#print axioms` lists the standard axioms).
"""

from __future__ import annotations

import json

import pytest

from llemma_prove.autoformalize.config import AutoformalizeConfig, Mode, Parts
from llemma_prove.autoformalize.dsp import draft_sketch_prove
from llemma_prove.autoformalize.holes import parse_sketch
from llemma_prove.autoformalize.lean import LeanTarget
from llemma_prove.autoformalize.problems import InformalProblem
from llemma_prove.autoformalize.prompts import default_prompts
from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.sketch import HoleHandle, LeanSketchProver, sketch_command, to_sketch_position
from llemma_prove.types import GoalState, Language, Theorem, Verdict
from tests.autoformalize.doubles import ScriptedLanguageModel
from tests.doubles.scripted import ScriptedProposer
from tests.lean.conftest import fake_options, write_script

STATEMENT = "theorem t (a b : ℝ) (h₁ : a + b = 35) (h₂ : a = 2 / 5 * b) : b - a = 15 := by sorry"
BODY = "\n  have hb : b = 25 := by\n    sorry\n  have ha : a = 10 := by sorry\n  sorry"
GOALS = ["a b : ℝ\n⊢ b = 25", "a b : ℝ\nhb : b = 25\n⊢ a = 10", "a b : ℝ\nhb : b = 25\nha : a = 10\n⊢ b - a = 15"]


def sketch_response(command: str) -> dict:
    """What Lean answers to the sketch command: a sorry per hole, at its position in the command."""
    lines = command.split("\n")
    sorries = []
    seen = 0
    for row, line in enumerate(lines, start=1):
        column = line.find("sorry")
        while column != -1:
            sorries.append({"proofState": seen, "pos": {"line": row, "column": column}, "goal": GOALS[seen],
                            "endPos": {"line": row, "column": column + 5}})
            seen += 1
            column = line.find("sorry", column + 1)
    return {"sorries": sorries, "env": 1,
            "messages": [{"severity": "warning", "pos": {"line": 1, "column": 8}, "endPos": {"line": 1, "column": 9},
                          "data": "declaration uses `sorry`"}]}


class ScriptedTacticsLean(LeanTarget):
    hole_tactics = ("fail_norm_num", "close_by_linarith")
    default_header = ""  # the stand-in REPL imports nothing


def theorem() -> Theorem:
    return Theorem("t", STATEMENT, header="", language=Language.LEAN4)


def test_positions_in_the_command_map_back_to_the_sketch():
    command, offset = sketch_command(theorem(), BODY)
    assert command == STATEMENT[: -len(" sorry")] + BODY
    sketch = parse_sketch(BODY, Language.LEAN4)
    for hole in sketch.holes:
        cmd_line = hole.line + command[:offset].count("\n")
        cmd_col = hole.column + (offset if hole.line == 1 else 0)
        assert command.split("\n")[cmd_line - 1][cmd_col : cmd_col + 5] == "sorry"
        assert to_sketch_position(command, offset, cmd_line, cmd_col) == (hole.line, hole.column)


async def test_holes_get_their_proof_states_and_the_assembled_proof_is_checked(tmp_path, no_leftover_children):
    command, _ = sketch_command(theorem(), BODY)
    script = write_script(tmp_path / "script.json", [({"cmd": command}, sketch_response(command))])
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--script", str(script), "--fallback", "synthetic", "--log", str(log)))
    sketcher = LeanSketchProver(prover)
    try:
        sketch = parse_sketch(BODY, Language.LEAN4)
        session = await sketcher.open_sketch(theorem(), sketch)
        goals = [await session.hole_goal(h.index, ()) for h in sketch.holes]
        assert [g.state.text for g in goals] == GOALS
        failed = await session.step(goals[0].state, "fail_simp")
        assert failed.kind.value == "error"
        moved = await session.step(goals[1].state, "intro_x")
        assert moved.kind.value == "goals" and moved.state.text == GOALS[1] + " ▸ intro_x"
        closed = await session.step(moved.state, "close_it")
        assert closed.kind.value == "proved"
        await session.close()

        filled = sketch.fill(["close_a", "close_b", "close_c"])
        verdict = await sketcher.verify_sketch(theorem(), filled)
        assert verdict.verdict is Verdict.ACCEPTED, verdict.reason
        assert verdict.checked_text == STATEMENT[: -len(" sorry")] + filled + "\n"
        # the final check refuses a hole left in place, whatever the sessions said
        refused = await sketcher.verify_sketch(theorem(), sketch.fill(["close_a"]))
        assert refused.verdict is Verdict.REJECTED and "sorry" in refused.reason
    finally:
        await prover.close()
    requests = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert requests[0] == {"cmd": command}
    assert {"tactic": "intro_x", "proofState": 1} in requests


async def test_a_sketch_with_an_error_reports_it_at_the_sketch_position(tmp_path, no_leftover_children):
    body = "\n  have hb : b = 25 := by\n    sorry\n  exact bogus"
    command, _ = sketch_command(theorem(), body)
    response = sketch_response(command)
    response["messages"].append({"severity": "error", "pos": {"line": 4, "column": 8},
                                 "endPos": {"line": 4, "column": 13}, "data": "unknown identifier 'bogus'"})
    script = write_script(tmp_path / "script.json", [({"cmd": command}, response)])
    prover = LeanReplProver(fake_options("--script", str(script)))
    try:
        session = await LeanSketchProver(prover).open_sketch(theorem(), parse_sketch(body, Language.LEAN4))
        goal = await session.hole_goal(0, ())
        await session.close()
    finally:
        await prover.close()
    assert goal.state is None
    assert goal.error == "the sketch does not elaborate (sketch line 4, column 8): unknown identifier 'bogus'"


async def dsp_on_the_sum_problem(parts, prover):
    """DSP on the two-amounts problem with `parts`; the prover is closed afterwards."""
    problem = InformalProblem("t", "Two amounts add up to 35.", "b = 25, a = 10.", STATEMENT, header="")
    try:
        return await draft_sketch_prove(problem, AutoformalizeConfig(target=Language.LEAN4, mode=Mode.DSP), parts)
    finally:
        await prover.close()



async def test_dsp_end_to_end_on_the_stand_in_repl(tmp_path, no_leftover_children):
    command, _ = sketch_command(theorem(), BODY)
    script = write_script(tmp_path / "script.json", [({"cmd": command}, sketch_response(command))])
    prover = LeanReplProver(fake_options("--script", str(script), "--fallback", "synthetic"))
    model = ScriptedLanguageModel([("Formal:\ntheorem t", [BODY + "\n\n\nInformal: more"])])
    # the tactic list fails on every hole; the search closes each in two steps
    table = {}
    for goal in GOALS:
        table[goal] = [("intro_x", -0.1)]
        table[goal + " ▸ intro_x"] = [("close_it", -0.2)]
    proposer = ScriptedProposer(table)

    class ListFails(ScriptedTacticsLean):
        hole_tactics = ("fail_norm_num",)

    parts = Parts(model=model, prover=prover, target=ListFails(), prompts=default_prompts(Language.LEAN4),
                  sketcher=LeanSketchProver(prover), proposer=proposer)
    outcome = await dsp_on_the_sum_problem(parts, prover)
    (sketch,) = outcome.sketches
    # every hole: the tactic list fails, the search finds `intro_x` then `close_it`
    assert [h.method for h in sketch.holes] == ["search", "search", "search"]
    assert sketch.holes[1].steps == ("intro_x", "close_it")
    assert outcome.proved, sketch.reason
    assert sketch.assembled == STATEMENT[: -len(" sorry")] + (
        "\n  have hb : b = 25 := by\n    intro_x\n    close_it\n  have ha : a = 10 := by intro_x\n"
        + " " * len("  have ha : a = 10 := by ") + "close_it\n  intro_x\n  close_it")


async def test_a_sketch_or_a_hole_tactic_refused_by_the_text_filter_never_reaches_lean(tmp_path, no_leftover_children):
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--synthetic", "--log", str(log)))
    sketcher = LeanSketchProver(prover)
    try:
        bad = "\n  set_option «debug».skipKernelTC true in\n  have hb : b = 25 := by\n    sorry\n  linarith"
        session = await sketcher.open_sketch(theorem(), parse_sketch(bad, Language.LEAN4))
        goal = await session.hole_goal(0, ())
        assert goal.state is None and "text filter" in goal.error
        await session.close()
        good = parse_sketch("\n  have hb : b = 25 := by\n    sorry\n  linarith", Language.LEAN4)
        session = await sketcher.open_sketch(theorem(), good)
        state = GoalState("b : ℝ\n⊢ b = 25", HoleHandle((0, 0), 0))
        refused = await session.step(state, "run_tac pure ()")
        assert refused.kind.value == "error" and "text filter" in refused.message
        await session.close()
    finally:
        await prover.close()
    sent = log.read_text(encoding="utf-8") if log.exists() else ""  # nothing was sent at all
    assert "skipKernelTC" not in sent and "run_tac" not in sent


# ------------------------------------------------------------------- one sorry, several goals


def _roots():
    from tests.lean.conftest import transcript_roots

    return [pytest.param(root, id=version) for version, root in transcript_roots()] or [
        pytest.param(None, marks=pytest.mark.skip(reason="no REPL transcripts in the shared data"))]


@pytest.mark.parametrize("root", _roots())
async def test_a_sorry_on_two_goals_keeps_both_from_the_recorded_repl(root, tmp_path, no_leftover_children):
    """The recorded `H20231115_2` session (real Lean, REPL v4.24.0 and the newer one): `all_goals sorry`
    after `induction'` is answered with two `sorries` entries at the same position. The hole keeps
    both goals, in Lean's order, each with its own proof state; a tactic runs on the second one."""
    from tests.lean.conftest import transcript

    entry = transcript("H20231115_2", root)
    header = "import Mathlib.Tactic.Cases"
    thm = Theorem("H20231115_2", "example {x : Nat} : x + 1 > x := by sorry", header=header, language=Language.LEAN4)
    body = "\n  induction' x with x hx\n  all_goals sorry"
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options(*entry.pair_args, "--fallback", "synthetic", "--log", str(log), header=header))
    sketch = parse_sketch(body, Language.LEAN4)
    assert len(sketch.holes) == 1
    try:
        session = await LeanSketchProver(prover).open_sketch(thm, sketch)
        goal = await session.hole_goal(0, ())
        assert goal.ok and len(goal.states) == 2
        assert [s.text for s in goal.states] == ["case zero\n⊢ 0 + 1 > 0",
                                                 "case succ\nx : Nat\nhx : x + 1 > x\n⊢ x + 1 + 1 > x + 1"]
        handles = [s.handle for s in goal.states]
        assert all(isinstance(h, HoleHandle) for h in handles)
        assert handles[0].proof_state != handles[1].proof_state
        closed = await session.step(goal.more[0], "close_it")  # the second goal's own proof state
        assert closed.kind.value == "proved"
        await session.close()
    finally:
        await prover.close()
    requests = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert {"tactic": "close_it", "proofState": handles[1].proof_state} in requests


async def test_the_stand_in_reports_one_entry_per_goal_at_one_position(tmp_path, no_leftover_children):
    """The synthetic world models the same: `constructor <;> sorry` gives two entries at one position
    (so a driver that keeps one entry per position loses a goal)."""
    thm = Theorem("two", "theorem two (p : Prop) (hp : p) : p ∧ p := by sorry", header="", language=Language.LEAN4)
    body = "\n  constructor <;> sorry"
    prover = LeanReplProver(fake_options("--synthetic"))
    try:
        session = await LeanSketchProver(prover).open_sketch(thm, parse_sketch(body, Language.LEAN4))
        goal = await session.hole_goal(0, ())
        await session.close()
        raw = await prover.elaborate("", sketch_command(thm, body)[0])
    finally:
        await prover.close()
    assert [s.text for s in goal.states] == ["case left\n⊢ two", "case right\n⊢ two"]
    positions = [(e.pos.line, e.pos.column, e.end_pos.line, e.end_pos.column) for e in raw.sorries]
    assert len(positions) == 2 and positions[0] == positions[1]
    assert len({e.proof_state for e in raw.sorries}) == 2


async def test_dsp_closes_every_goal_of_a_sorry_on_two_goals(tmp_path, no_leftover_children):
    """DSP on the stand-in's synthetic world: `constructor <;> sorry` runs on `case left` and `case
    right`. The hole tactic that closes the first goal fails on the second, which gets its own; the
    fill tries both, each required to close its goal."""
    body = "\n  constructor <;> sorry"
    prover = LeanReplProver(fake_options("--synthetic"))
    model = ScriptedLanguageModel([("Formal:\ntheorem t", [body + "\n\n\nInformal: more"])])

    class PerGoal(ScriptedTacticsLean):
        hole_tactics = ("fail_norm_num", "close_if left", "close_if right")

    parts = Parts(model=model, prover=prover, target=PerGoal(), prompts=default_prompts(Language.LEAN4),
                  sketcher=LeanSketchProver(prover))
    outcome = await dsp_on_the_sum_problem(parts, prover)
    (sketch,) = outcome.sketches
    (hole,) = sketch.holes
    assert hole.closed and hole.steps == ("first | (focus close_if left; done) | (focus close_if right; done)",)
    assert outcome.proved, sketch.reason
    assert sketch.assembled == STATEMENT[: -len(" sorry")] + body.replace("sorry", hole.steps[0])
