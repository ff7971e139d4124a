"""Adversarial suite for the final check: proofs Lean would not accept from scratch must be rejected.

Each case is a proof (or a complete source text) plus the REPL responses real Lean gives to the
check's commands; the stand-in REPL (test double) plays them. Both layers are checked: the final
verdict through `verify`, and, where Lean itself objects, the recorded Lean answer judged alone
(so a case does not pass only because the text layer caught it first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.messages import parse_response
from llemma_prove.provers.lean.options import MINIF2F_HEADER
from llemma_prove.provers.lean.render import split_header
from llemma_prove.provers.lean.soundness import judge_axioms, judge_declaration, static_reasons
from llemma_prove.types import Proof, Theorem, Verdict

from .conftest import fake_options, write_script

NAME = "mathd_algebra_478"
STATEMENT = (
    "theorem mathd_algebra_478 (b h v : ℝ) (h₀ : 0 < b ∧ 0 < h ∧ 0 < v) (h₁ : v = 1 / 3 * (b * h))\n"
    "    (h₂ : b = 30) (h₃ : h = 13 / 2) : v = 65 := by sorry"
)
HEAD = STATEMENT[: -len(" by sorry")]
THEOREM = Theorem(NAME, STATEMENT, header=MINIF2F_HEADER)
GOOD = ("rw [h₂, h₃] at h₁", "rw [h₁]", "norm_num")
STANDARD = f"'{NAME}' depends on axioms: [propext, Classical.choice, Quot.sound]"


def pos(line: int, column: int) -> dict[str, int]:
    return {"line": line, "column": column}


def msg(severity: str, data: str, line: int = 1, column: int = 8) -> dict[str, Any]:
    return {"severity": severity, "pos": pos(line, column), "endPos": pos(line, column + 17), "data": data}


def clean(env: int) -> dict[str, Any]:
    return {"env": env}


def axioms(env: int, data: str = STANDARD) -> dict[str, Any]:
    return {"messages": [msg("info", data, 1, 0)], "env": env}


def decl(tactics: tuple[str, ...], head: str = HEAD) -> str:
    return head + " by\n" + "\n".join("  " + t.replace("\n", "\n  ") for t in tactics)


def header_pairs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rest = split_header(MINIF2F_HEADER).rest
    return [({"cmd": "import Mathlib"}, clean(0)), ({"cmd": rest, "env": 0}, clean(1))]


@dataclass
class Case:
    id: str
    reason: str  # fragment of the rejection reason
    tactics: tuple[str, ...] | None = None
    source: str | None = None  # a complete source text instead of tactics
    theorem: Theorem = THEOREM
    lean: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # check commands -> answers
    lean_objects: bool = False  # the recorded Lean answers reject the proof on their own


def _check(tactics: tuple[str, ...], declaration_answer: dict[str, Any], axioms_answer: dict[str, Any] | None = None,
           theorem_env: int = 1) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    pairs = [({"cmd": decl(tactics), "env": theorem_env}, declaration_answer)]
    if axioms_answer is not None:
        pairs.append(({"cmd": f"#print axioms {NAME}", "env": declaration_answer["env"]}, axioms_answer))
    return pairs


SORRY_WARNING = msg("warning", "declaration uses `sorry`")
OLD_SORRY_WARNING = msg("warning", "declaration uses 'sorry'")
PREAMBLE_AXIOM = Theorem(NAME, STATEMENT, header=MINIF2F_HEADER, preamble="axiom cheat : False")
PREAMBLE_SORRY = Theorem(NAME, STATEMENT, header=MINIF2F_HEADER, preamble="theorem helper : False := sorry")

REJECTED = [
    Case("sorry", "`sorry`", tactics=("rw [h₂, h₃] at h₁", "sorry"),
         lean=_check(("rw [h₂, h₃] at h₁", "sorry"),
                     {"sorries": [{"proofState": 0, "pos": pos(4, 2), "goal": "⊢ v = 65", "endPos": pos(4, 7)}],
                      "messages": [SORRY_WARNING], "env": 2}),
         lean_objects=True),
    Case("admit", "`admit`", tactics=("admit",),
         lean=_check(("admit",), {"messages": [OLD_SORRY_WARNING], "env": 2}), lean_objects=True),
    Case("apply?", "apply?", tactics=("apply?",),
         lean=_check(("apply?",), {"messages": [msg("info", "Try this:\n  [apply] refine Eq.symm ?_", 3, 2),
                                                SORRY_WARNING], "env": 2}), lean_objects=True),
    Case("exact?", "exact?", tactics=("exact?",),
         lean=_check(("exact?",), {"messages": [msg("info", "Try this:\n  [apply] exact foo", 3, 2)], "env": 2}),
         lean_objects=True),
    Case("native_decide", "`native_decide`", tactics=("subst h₂ h₃", "native_decide"),
         lean=_check(("subst h₂ h₃", "native_decide"), clean(2),
                     axioms(3, f"'{NAME}' depends on axioms: [propext,\n Classical.choice,\n Lean.ofReduceBool,\n Quot.sound]")),
         lean_objects=True),
    Case("user axiom in the preamble", "non-standard axioms: cheat", tactics=("exact cheat.elim",),
         theorem=PREAMBLE_AXIOM,
         lean=[({"cmd": "axiom cheat : False", "env": 1}, clean(2))]
         + _check(("exact cheat.elim",), clean(3), axioms(4, f"'{NAME}' depends on axioms: [cheat]"), theorem_env=2),
         lean_objects=True),
    Case("sorried lemma in the preamble", "sorryAx", tactics=("exact helper.elim",), theorem=PREAMBLE_SORRY,
         lean=[({"cmd": "theorem helper : False := sorry", "env": 1}, {"messages": [SORRY_WARNING], "env": 2})]
         + _check(("exact helper.elim",), clean(3), axioms(4, f"'{NAME}' depends on axioms: [sorryAx]"), theorem_env=2),
         lean_objects=True),
    Case("user axiom smuggled into the proof", "command `axiom`", tactics=("norm_num\naxiom cheat : False",)),
    Case("self-reference", "refers to the theorem", tactics=(f"exact {NAME} b h v h₀ h₁ h₂ h₃",),
         lean=_check((f"exact {NAME} b h v h₀ h₁ h₂ h₃",),
                     {"messages": [msg("error", f"fail to show termination for\n  {NAME}\nwith errors\nstructural recursion "
                                                "cannot be used")], "env": 2}),
         lean_objects=True),
    Case("an error closes the goal", "Unknown identifier", tactics=("exact my_fake_premise",),
         lean=_check(("exact my_fake_premise",),
                     {"messages": [msg("error", "Unknown identifier `my_fake_premise`", 3, 8)], "env": 2}),
         lean_objects=True),
    Case("an error after the goal is closed", "unknown tactic", tactics=(*GOOD, "linarith_bogus"),
         lean=_check((*GOOD, "linarith_bogus"), {"messages": [msg("error", "<input>:6:2: unknown tactic", 6, 2)],
                                                 "env": 2}),
         lean_objects=True),
    Case("changed statement", "not byte-identical",
         source=MINIF2F_HEADER + HEAD.replace("v = 65", "v = 65 ∨ True") + " by\n  right\n  trivial\n"),
    Case("changed hypothesis", "not byte-identical",
         source=MINIF2F_HEADER + HEAD.replace("(h₂ : b = 30)", "(h₂ : b = 30) (hx : False)") + " by\n  exact hx.elim\n"),
    Case("local notation before the statement", "only the header may precede",
         source=MINIF2F_HEADER + 'local notation "65" => v\n\n' + HEAD + " by\n  rfl\n"),
    Case("macro before the statement", "only the header may precede",
         source=MINIF2F_HEADER + "macro \"norm_num\" : tactic => `(tactic| sorry)\n\n" + decl(GOOD) + "\n"),
    Case("skipKernelTC before the statement", "only the header may precede",
         source=MINIF2F_HEADER + "set_option debug.skipKernelTC true\n\n" + decl(GOOD) + "\n"),
    Case("redefinition before the statement", "only the header may precede",
         source=MINIF2F_HEADER + "def Real.sqrt (x : ℝ) : ℝ := x\n\n" + decl(GOOD) + "\n"),
    Case("changed header", "header differs",
         source=MINIF2F_HEADER.replace("maxHeartbeats 0", "maxHeartbeats 0\nset_option debug.skipKernelTC true")
         + decl(GOOD) + "\n"),
    Case("local notation in the proof", "command `local`", tactics=("norm_num\nlocal notation \"False\" => True",)),
    Case("macro in the proof", "command `macro_rules`",
         tactics=("norm_num\nmacro_rules | `(tactic| norm_num) => `(tactic| sorry)",)),
    Case("skipKernelTC in the proof", "debug.skipKernelTC",
         tactics=("set_option debug.skipKernelTC true in\nnorm_num",)),
    Case("redefinition in the proof", "command `def`", tactics=("norm_num def Real.pi : ℝ := 3",)),
    Case("metaprogram in the proof", "run_tac", tactics=("run_tac Lean.Elab.admitGoal (← Lean.Elab.Tactic.getMainGoal)",)),
    Case("empty proof", "empty", tactics=()),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in REJECTED])
async def test_rejected(case: Case, tmp_path: Path, no_leftover_children) -> None:
    script = write_script(tmp_path / "check.json", header_pairs() + case.lean)
    prover = LeanReplProver(fake_options("--script", str(script), header=MINIF2F_HEADER))
    await prover.start()
    try:
        if case.source is not None:
            result = await prover.verify_source(case.theorem, case.source)
        else:
            result = await prover.verify(case.theorem, Proof(tuple(case.tactics or ())))
    finally:
        await prover.close()
    assert result.verdict is Verdict.REJECTED, result
    assert case.reason in result.reason, result.reason
    assert result.details["layer"] == ("lean" if case.lean and case.lean_objects and not static_reasons(
        case.theorem, " by\n" + "\n".join(case.tactics or ())) else "text")
    assert result.details["reasons"] and result.reason == "; ".join(result.details["reasons"])
    if case.lean_objects:  # Lean's own answer, judged alone, refuses the proof as well
        answers = {("decl" if q["cmd"].startswith(HEAD) else q["cmd"]): parse_response(r) for q, r in case.lean}
        lean_reasons = judge_declaration(answers["decl"])
        if not lean_reasons:
            lean_reasons = judge_axioms(NAME, answers[f"#print axioms {NAME}"])[0]
        assert lean_reasons, f"the recorded Lean answer alone would accept {case.id}"


@dataclass
class Accepted:
    id: str
    tactics: tuple[str, ...]
    declaration: str
    axioms: str = STANDARD


ACCEPTED = [
    Accepted("three-step rewrite proof", GOOD,
             HEAD + " by\n  rw [h₂, h₃] at h₁\n  rw [h₁]\n  norm_num"),
    Accepted("multi-line calc keeps its indentation",
             ("  calc v = 1 / 3 * (b * h) := h₁\n      _ = 65 := by rw [h₂, h₃]; norm_num",),
             HEAD + " by\n  calc v = 1 / 3 * (b * h) := h₁\n      _ = 65 := by rw [h₂, h₃]; norm_num"),
    Accepted("tactic-level set_option ... in and open ... in",
             ("subst h₂ h₃", "set_option maxRecDepth 2000 in\nopen Real in\n  norm_num [h₁]"),
             HEAD + " by\n  subst h₂ h₃\n  set_option maxRecDepth 2000 in\n  open Real in\n    norm_num [h₁]"),
    Accepted("comments mentioning sorry are fine", ("norm_num [h₁, h₂, h₃] -- no sorry needed",),
             HEAD + " by\n  norm_num [h₁, h₂, h₃] -- no sorry needed"),
    Accepted("no axioms at all", ("subst h₁", "rfl"), HEAD + " by\n  subst h₁\n  rfl",
             f"'{NAME}' does not depend on any axioms"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ACCEPTED])
async def test_accepted(case: Accepted, tmp_path: Path, no_leftover_children) -> None:
    lean = [({"cmd": case.declaration, "env": 1}, clean(2)),
            ({"cmd": f"#print axioms {NAME}", "env": 2}, axioms(3, case.axioms))]
    script = write_script(tmp_path / "check.json", header_pairs() + lean)
    prover = LeanReplProver(fake_options("--script", str(script), header=MINIF2F_HEADER))
    await prover.start()
    try:
        result = await prover.verify(THEOREM, Proof(case.tactics))
        rendered = prover.render(THEOREM, Proof(case.tactics))
    finally:
        await prover.close()
    assert result.verdict is Verdict.ACCEPTED, result
    assert result.checked_text == MINIF2F_HEADER + case.declaration + "\n" == rendered
    assert result.details["axioms"] is not None and set(result.details["axioms"]) <= {
        "propext", "Classical.choice", "Quot.sound"}


async def test_whole_source_with_the_exact_statement_is_accepted(tmp_path: Path, no_leftover_children) -> None:
    declaration = decl(GOOD)
    script = write_script(tmp_path / "check.json", header_pairs() + [
        ({"cmd": declaration, "env": 1}, clean(2)), ({"cmd": f"#print axioms {NAME}", "env": 2}, axioms(3))])
    prover = LeanReplProver(fake_options("--script", str(script), header=MINIF2F_HEADER))
    await prover.start()
    try:
        result = await prover.verify_source(THEOREM, MINIF2F_HEADER + declaration + "\n")
    finally:
        await prover.close()
    assert result.verdict is Verdict.ACCEPTED, result


async def test_check_past_its_time_budget_is_rejected(tmp_path: Path, no_leftover_children) -> None:
    script = write_script(tmp_path / "check.json", header_pairs())
    options = fake_options("--script", str(script), "--hang-on", "nlinarith", header=MINIF2F_HEADER,
                           check_timeout_s=0.5)
    prover = LeanReplProver(options)
    await prover.start()
    try:
        result = await prover.verify(THEOREM, Proof(("nlinarith [h₀.1, h₀.2.1]",)))
        repl = prover.pool.workers[0].repl
        assert not repl.alive  # the hung process group was killed
    finally:
        await prover.close()
    assert result.verdict is Verdict.REJECTED and "time budget" in result.reason


async def test_check_past_its_memory_budget_is_rejected(tmp_path: Path, no_leftover_children) -> None:
    script = write_script(tmp_path / "check.json", header_pairs())
    options = fake_options("--script", str(script), "--oom-on", "nlinarith", header=MINIF2F_HEADER,
                           memory_limit_mb=400)
    prover = LeanReplProver(options)
    await prover.start()
    try:
        result = await prover.verify(THEOREM, Proof(("nlinarith [h₀.1, h₀.2.1]",)))
    finally:
        await prover.close()
    assert result.verdict is Verdict.REJECTED and "memory budget of 400 MB" in result.reason


def test_text_rules_do_not_flag_ordinary_tactics() -> None:
    ordinary = (" by\n  simp only [List.prefix_append, Nat.succ_le_iff] at h ⊢\n  open Real in\n    nlinarith [sq_nonneg "
                "(b - h), end_lemma]\n  -- sorry, admit, apply? in a comment\n  /- theorem in a block comment -/\n  omega")
    assert static_reasons(THEOREM, ordinary) == []
