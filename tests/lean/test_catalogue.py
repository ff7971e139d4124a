"""The adversarial catalogue for the Lean final check (`final_check.KernelChecker`), by attack class.

Each attack is a false proof of `mathd_algebra_478` (or a tampered file) plus what the real tools
answer to it: the messages, axiom report and printed type of `lean --json -o` (played by
tests/doubles/fake_lean.py) and the output of lean4checker v4.24.0 (tests/doubles/fake_lean4checker.py).
`model` names the upstream file the answer is modelled on. Every attack is checked twice:

- the whole check rejects it (`layer`: the layer that answers first);
- with the text layer taken out (the lexer filter and the statement's byte comparison), a kernel-side
  layer still rejects it (`kernel`: compile, type, axioms or replay). `kernel=None` marks the attacks
  only the text layer stops; they are the reason the text layer exists (see docs/soundness.md and docs/lean.md).

The mutation tests at the end take out one layer at a time and show that some attack is then ACCEPTED:
no layer is dead weight.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llemma_prove.provers.lean import final_check
from llemma_prove.provers.lean.final_check import KernelChecker
from llemma_prove.provers.lean.lexer import FilterResult
from llemma_prove.provers.lean.options import MINIF2F_HEADER
from llemma_prove.types import Theorem, Verdict

from .conftest import fake_options

NAME = "mathd_algebra_478"
STATEMENT = (
    "theorem mathd_algebra_478 (b h v : ℝ) (h₀ : 0 < b ∧ 0 < h ∧ 0 < v) (h₁ : v = 1 / 3 * (b * h))\n"
    "    (h₂ : b = 30) (h₃ : h = 13 / 2) : v = 65 := by sorry"
)
HEAD = STATEMENT[: -len(" by sorry")]
THEOREM = Theorem(NAME, STATEMENT, header=MINIF2F_HEADER)
GOOD = " by\n  rw [h₂, h₃] at h₁\n  rw [h₁]\n  norm_num"
ALL_ARGS = "b h v h₀ h₁ h₂ h₃"

# Sources of the modelled answers (paths in their upstream repositories).
CHECKER_MAIN = "leanprover/lean4checker@v4.24.0:Main.lean"
CHECKER_REPLAY = "leanprover/lean4checker@v4.24.0:Lean4Checker/Replay.lean"
CHECKER_ADDFALSE = "leanprover/lean4checker@v4.24.0:Lean4CheckerTests/AddFalse.lean"
CHECKER_ADDCTOR = "leanprover/lean4checker@v4.24.0:Lean4CheckerTests/AddFalseConstructor.lean"
CHECKER_REPLACE = "leanprover/lean4checker@v4.24.0:test.sh + Lean4CheckerTests/ReplaceAxiom.lean"
LEAN_PRINT = "leanprover/lean4:src/Lean/Elab/Print.lean (printAxiomsOf)"
LEAN_CHECK = "leanprover/lean4:src/Lean/Elab/BuiltinCommand.lean (elabCheckCore)"
LEAN_SHELL = "leanprover/lean4:src/util/shell.cpp"
LEAN_PARSER = "leanprover/lean4:src/Lean/Parser/Basic.lean (tokenFnAux, charLitFnAux, rawStrLitFnAux)"
LEAN_OPTIONS = "leanprover/lean4:src/Lean/Elab/SetOption.lean + src/Lean/AddDecl.lean (debug.skipKernelTC)"
REPL_SELF = "leanprover-community/repl@v4.24.0:test/self_proof_*.in (termination error)"
REPL_SORRY = "leanprover-community/repl@v4.24.0:test/*sorry*.expected.out"

REPLACED_PROPEXT = ("application type mismatch\n  False.elim @propext\nargument has type\n"
                    "  ∀ {a b : Prop}, Iff a b → Eq a b\nbut function has type\n  False → Eq v 65")
AUX_MISMATCH = (f"declaration type mismatch, '{NAME}._proof_1' has type\n  Eq v 65\n"
                "but it is expected to have type\n  Eq v 64")
FALSE_DECL = "declaration type mismatch, 'false' has type\n  Prop\nbut it is expected to have type\n  False"
SORRY_WARNING = {"severity": "warning", "data": "declaration uses 'sorry'"}
SKIPPED = [{"name": NAME}, {"name": f"{NAME}._proof_1", "kernel_error": AUX_MISMATCH}]
FORGED = {"severity": "information", "data": f"'{NAME}' depends on axioms: [propext]"}


def error(text: str) -> dict[str, Any]:
    return {"severity": "error", "data": text}


@dataclass
class Attack:
    id: str
    cls: str
    layer: str  # the layer of the whole check that rejects it
    kernel: str | None  # the layer that rejects it without the text layer (None: only the text layer)
    model: str
    body: str | None = None  # what follows the statement's `:=`
    source: str | None = None  # or a whole file
    lean: dict[str, Any] = field(default_factory=dict)  # the real `lean`'s answer (fake_lean world rule)
    theorem: Theorem = THEOREM

    def rules(self) -> list[dict[str, Any]]:
        text = (self.body if self.body is not None else self.source or "").strip()
        return [{"match": text, **self.lean}]


def skip_kernel(prefix: str) -> str:
    return f" by\n  {prefix} true in\n  norm_num [h₁, h₂, h₃]"


ATTACKS: list[Attack] = [
    # -- other spellings of options and identifiers ---------------------------------------------------
    Attack("skipKernelTC", "spelling", "text", "replay", LEAN_OPTIONS + "; " + CHECKER_REPLAY,
           body=skip_kernel("set_option debug.skipKernelTC"), lean={"constants": SKIPPED}),
    Attack("skipKernelTC «debug».x", "spelling", "text", "replay", LEAN_OPTIONS,
           body=skip_kernel("set_option «debug».skipKernelTC"), lean={"constants": SKIPPED}),
    Attack("skipKernelTC debug.«x»", "spelling", "text", "replay", LEAN_OPTIONS,
           body=skip_kernel("set_option debug.«skipKernelTC»"), lean={"constants": SKIPPED}),
    Attack("skipKernelTC «debug».«x»", "spelling", "text", "replay", LEAN_OPTIONS,
           body=skip_kernel("set_option «debug».«skipKernelTC»"), lean={"constants": SKIPPED}),
    Attack("skipKernelTC one-part «debug.x»", "spelling", "text", "compile", LEAN_OPTIONS,
           body=skip_kernel("set_option «debug.skipKernelTC»"),
           lean={"messages": [error("unknown option 'debug.skipKernelTC'")]}),
    Attack("skipKernelTC _root_ prefix", "spelling", "text", "compile", LEAN_OPTIONS,
           body=skip_kernel("set_option _root_.debug.skipKernelTC"),
           lean={"messages": [error("unknown option '_root_.debug.skipKernelTC'")]}),
    Attack("skipKernelTC split over lines", "spelling", "text", "replay", LEAN_OPTIONS,
           body=" by\n  set_option\n    debug.skipKernelTC\n    true in\n  norm_num [h₁, h₂, h₃]", lean={"constants": SKIPPED}),
    Attack("skipKernelTC behind open ... in", "spelling", "text", "replay", LEAN_OPTIONS,
           body=" by\n  open Real in set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃]",
           lean={"constants": SKIPPED}),
    Attack("decide +native", "spelling", "text", "axioms", LEAN_PRINT,
           body=" by\n  subst h₂ h₃\n  decide +native", lean={"axioms": ["propext", "Classical.choice", "Lean.ofReduceBool", "Quot.sound"]}),
    Attack("decide (config := {native := true})", "spelling", "text", "axioms", LEAN_PRINT,
           body=" by\n  subst h₂ h₃\n  decide (config := {native := true})",
           lean={"axioms": ["propext", "Lean.ofReduceBool"]}),
    Attack("Lean.ofReduceBool by name", "spelling", "text", "axioms", LEAN_PRINT,
           body=" by\n  exact absurd (Lean.ofReduceBool _ _ rfl) (by simp)", lean={"axioms": ["Lean.ofReduceBool"]}),
    Attack("«native_decide» escaped", "spelling", "text", "compile", LEAN_PARSER,
           body=" by\n  «native_decide»", lean={"messages": [error("unknown tactic")]}),
    # -- lexer desynchronisation ----------------------------------------------------------------------
    Attack("char literal '\"' opens no string", "lexer", "text", "replay", LEAN_PARSER,
           body=" by\n  have _c : Char := '\"'\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃] -- \"",
           lean={"constants": SKIPPED}),
    Attack("escaped quote char literal '\\''", "lexer", "text", "replay", LEAN_PARSER,
           body=" by\n  have _c : Char := '\\''\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃]",
           lean={"constants": SKIPPED}),
    Attack("raw string holding a comment opener", "lexer", "text", "replay", LEAN_PARSER,
           body=' by\n  have _s : String := r"/-"\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃]\n  -- -/',
           lean={"constants": SKIPPED}),
    Attack("raw string with hashes and quotes", "lexer", "text", "replay", LEAN_PARSER,
           body=' by\n  have _s : String := r#"a"b-/"#\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃]',
           lean={"constants": SKIPPED}),
    Attack("string holding a comment opener", "lexer", "text", "replay", LEAN_PARSER,
           body=' by\n  have _s : String := "/-"\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃]\n  -- -/',
           lean={"constants": SKIPPED}),
    Attack("string holding a line comment", "lexer", "text", "replay", LEAN_PARSER,
           body=' by\n  have _s : String := "--"; set_option debug.skipKernelTC true in norm_num [h₁, h₂, h₃]',
           lean={"constants": SKIPPED}),
    Attack("escaped backslash ends the string", "lexer", "text", "replay", LEAN_PARSER,
           body=' by\n  have _s : String := "\\\\"\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃] -- "',
           lean={"constants": SKIPPED}),
    Attack("interpolated string with a string inside", "lexer", "text", "replay",
           "leanprover/lean4:src/Lean/Parser/StrInterpolation.lean",
           body=' by\n  have _s : String := s!"{"}"}"\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃] -- "',
           lean={"constants": SKIPPED}),
    Attack("«name» holding a quote", "lexer", "text", "replay", LEAN_PARSER,
           body=' by\n  have «a\"b» : True := trivial\n  set_option debug.skipKernelTC true in\n  norm_num [h₁, h₂, h₃] -- "',
           lean={"constants": SKIPPED}),
    Attack("nested comment hides nothing", "lexer", "text", "compile", LEAN_PARSER,
           body=" by\n  /- outer /- inner -/ still comment -/ sorry",
           lean={"messages": [SORRY_WARNING]}),
    Attack("unterminated comment swallows the queries", "lexer", "text", "compile", LEAN_PARSER,
           body=" by\n  norm_num [h₁, h₂, h₃]\n/-", lean={"messages": [error("unterminated comment")], "queries_run": False}),
    Attack("#exit keeps the queries from running", "lexer", "text", "type", LEAN_SHELL,
           body=" by\n  norm_num [h₁, h₂, h₃]\n#exit", lean={"queries_run": False}),
    # -- metaprogramming in tactic position -----------------------------------------------------------
    Attack("run_tac adds an unchecked declaration", "meta", "text", "replay", CHECKER_ADDFALSE,
           body=" by\n  run_tac do\n    modifyEnv fun env => env\n  norm_num [h₁, h₂, h₃]",
           lean={"constants": [{"name": NAME}, {"name": "false", "kernel_error": FALSE_DECL}]}),
    Attack("run_tac replaces propext", "meta", "text", "replay", CHECKER_REPLACE,
           body=" by\n  run_tac Lean.modifyEnv id\n  exfalso\n  exact propext",
           lean={"axioms": ["propext"], "constants": [{"name": NAME, "kernel_error": REPLACED_PROPEXT}]}),
    Attack("run_tac adds a constructor of False", "meta", "text", "replay", CHECKER_ADDCTOR,
           body=" by\n  run_tac pure ()\n  exact False.elim (False.intro)",
           lean={"constants": [{"name": NAME}, {"name": "False.intro", "replay_error": "No such constructor False.intro"}]}),
    Attack("run_tac admits the goal", "meta", "text", "compile", REPL_SORRY,
           body=" by\n  run_tac Lean.Elab.admitGoal (← Lean.Elab.Tactic.getMainGoal)",
           lean={"messages": [SORRY_WARNING], "axioms": ["sorryAx"]}),
    Attack("by_elab term", "meta", "text", "replay", CHECKER_ADDFALSE,
           body=" by\n  exact (by_elab do return Lean.mkConst ``False.elim)",
           lean={"constants": [{"name": NAME, "kernel_error": "type mismatch"}]}),
    Attack("unsafe term", "meta", "text", "compile", "leanprover/lean4:src/Lean/Elab/BuiltinNotation.lean (unsafe)",
           body=" by\n  exact unsafe (unsafeCast ())",
           lean={"messages": [error("(kernel) invalid declaration, it uses unsafe declaration")]}),
    Attack("syntax quotation in a tactic", "meta", "text", "replay", CHECKER_ADDFALSE,
           body=" by\n  run_tac Lean.Elab.Tactic.evalTactic (← `(tactic| norm_num))",
           lean={"constants": [{"name": NAME, "kernel_error": "type mismatch"}]}),
    Attack("native_decide", "meta", "text", "axioms", LEAN_PRINT,
           body=" by\n  subst h₂ h₃\n  native_decide", lean={"axioms": ["propext", "Lean.ofReduceBool"]}),
    # -- environment tampering ------------------------------------------------------------------------
    # A tactic-position metaprogram adds an axiom (the kernel accepts axioms, so the replay passes) and
    # a command after the proof redefines `#print axioms`, whose forged answer lands on the query's line.
    Attack("forged axiom report by macro_rules", "environment", "text", None, LEAN_PRINT + "; " + CHECKER_REPLAY,
           body=(" by\n  run_tac Lean.addDecl (.axiomDecl {name := `cheat, levelParams := [], "
                 "type := .const ``False [], isUnsafe := false})\n  exact cheat.elim\n\n"
                 "macro_rules | `(#print axioms $x) => `(#eval IO.println \"'mathd_algebra_478' depends on axioms: [propext]\")"),
           lean={"axioms": None, "messages": [{**FORGED, "at": "queries"}],
                 "constants": [{"name": NAME}, {"name": "cheat"}]}),
    Attack("skipKernelTC before the statement", "environment", "text", "replay", LEAN_OPTIONS,
           source=MINIF2F_HEADER + "set_option debug.skipKernelTC true\n\n" + HEAD + " by\n  norm_num [h₁, h₂, h₃]\n",
           lean={"constants": SKIPPED}),
    Attack("redefined constant before the statement", "environment", "text", "compile", LEAN_SHELL,
           source=MINIF2F_HEADER + "def Real.sqrt (x : ℝ) : ℝ := x\n\n" + HEAD + GOOD + "\n",
           lean={"messages": [{"line": 7, **error("'Real.sqrt' has already been declared")}]}),
    Attack("changed header", "environment", "text", "replay", LEAN_OPTIONS,
           source=MINIF2F_HEADER.replace("maxHeartbeats 0", "maxHeartbeats 0\nset_option debug.skipKernelTC true")
           + HEAD + " by\n  norm_num [h₁, h₂, h₃]\n", lean={"constants": SKIPPED}),
    Attack("macro redefines norm_num before the statement", "environment", "text", "compile", REPL_SORRY,
           source=MINIF2F_HEADER + "macro \"norm_num\" : tactic => `(tactic| sorry)\n\n" + HEAD + GOOD + "\n",
           lean={"messages": [SORRY_WARNING]}),
    # -- statement tampering --------------------------------------------------------------------------
    Attack("weaker conclusion", "statement", "text", "type", LEAN_CHECK,
           source=MINIF2F_HEADER + HEAD.replace("v = 65", "v = 65 ∨ True") + " by\n  right\n  trivial\n"),
    Attack("extra hypothesis", "statement", "text", "type", LEAN_CHECK,
           source=MINIF2F_HEADER + HEAD.replace("(h₂ : b = 30)", "(h₂ : b = 30) (hx : False)") + " by\n  exact hx.elim\n"),
    Attack("local notation changes the meaning", "statement", "text", "type", LEAN_CHECK,
           source=MINIF2F_HEADER + 'local notation "65" => v\n\n' + HEAD + " by\n  rfl\n",
           lean={"type": f"@{NAME} : ∀ (b h v : Real), ... → @Eq.{{1}} Real v v"}),
    Attack("extra universe parameter", "statement", "text", "type", LEAN_CHECK,
           source=MINIF2F_HEADER + HEAD.replace(NAME, NAME + ".{u}", 1) + GOOD + "\n",
           lean={"type": f"@{NAME}.{{u}} : ∀ (b h v : Real), ... → @Eq.{{1}} Real v 65"}),
    Attack("theorem in another namespace", "statement", "text", "compile", LEAN_PRINT,
           source=MINIF2F_HEADER + "namespace Foo\n" + HEAD + GOOD + "\nend Foo\n",
           lean={"messages": [{"at": "queries", **error(f"unknown constant '{NAME}'")}], "axioms": None}),
    Attack("private theorem", "statement", "text", "compile", LEAN_PRINT,
           source=MINIF2F_HEADER + "private " + HEAD + GOOD + "\n",
           lean={"messages": [{"at": "queries", **error(f"unknown constant '{NAME}'")}], "axioms": None}),
    Attack("example instead of the theorem", "statement", "text", "compile", LEAN_PRINT,
           source=MINIF2F_HEADER + HEAD.replace("theorem " + NAME, "example") + GOOD + "\n",
           lean={"messages": [{"at": "queries", **error(f"unknown identifier '{NAME}'")}], "axioms": None}),
    # -- self-reference -------------------------------------------------------------------------------
    Attack("exact itself", "self", "text", "compile", REPL_SELF, body=f" by\n  exact {NAME} {ALL_ARGS}",
           lean={"messages": [error(f"fail to show termination for\n  {NAME}\nwith errors\nstructural recursion cannot be used")]}),
    Attack("_root_ itself", "self", "text", "compile", REPL_SELF, body=f" by\n  exact _root_.{NAME} {ALL_ARGS}",
           lean={"messages": [error(f"fail to show termination for\n  {NAME}")]}),
    Attack("«itself»", "self", "text", "compile", REPL_SELF, body=f" by\n  exact «{NAME}» {ALL_ARGS}",
           lean={"messages": [error(f"fail to show termination for\n  {NAME}")]}),
    Attack("have := @itself", "self", "text", "compile", REPL_SELF, body=f" by\n  have := @{NAME}\n  exact this {ALL_ARGS}",
           lean={"messages": [error(f"fail to show termination for\n  {NAME}")]}),
    # -- non-standard axioms --------------------------------------------------------------------------
    Attack("user axiom in the preamble", "axioms", "axioms", "axioms", LEAN_PRINT,
           theorem=Theorem(NAME, STATEMENT, header=MINIF2F_HEADER, preamble="axiom cheat : False"),
           body=" by\n  exact cheat.elim", lean={"axioms": ["cheat"]}),
    Attack("axiom named like a standard one", "axioms", "axioms", "axioms", LEAN_PRINT,
           theorem=Theorem(NAME, STATEMENT, header=MINIF2F_HEADER, preamble="axiom Classical.choice' : False"),
           body=" by\n  exact Classical.choice'.elim", lean={"axioms": ["Classical.choice'"]}),
    Attack("axiom propext in a namespace", "axioms", "axioms", "axioms", LEAN_PRINT,
           theorem=Theorem(NAME, STATEMENT, header=MINIF2F_HEADER, preamble="axiom Foo.propext : False"),
           body=" by\n  exact Foo.propext.elim", lean={"axioms": ["Foo.propext", "propext"]}),
    Attack("no axiom report", "axioms", "axioms", "axioms", LEAN_PRINT,
           body=" by\n  norm_num [h₁, h₂, h₃, show (2:ℝ) = 2 from rfl]", lean={"axioms": None}),
    Attack("unreadable axiom report", "axioms", "axioms", "axioms", LEAN_PRINT,
           body=" by\n  norm_num [h₁, h₂, h₃, show (3:ℝ) = 3 from rfl]",
           lean={"axioms": None, "messages": [{"severity": "information", "at": "queries",
                                                "data": f"'{NAME}' depends on axioms: [propext"}]}),
    Attack("axiom report for another name", "axioms", "axioms", "axioms", LEAN_PRINT,
           body=" by\n  norm_num [h₁, h₂, h₃, show (4:ℝ) = 4 from rfl]",
           lean={"axioms": None, "messages": [{"severity": "information", "at": "queries",
                                                "data": "'Foo.mathd_algebra_478' depends on axioms: [propext]"}]}),
    # -- sorry in every form --------------------------------------------------------------------------
    Attack("sorry", "sorry", "text", "compile", REPL_SORRY, body=" by\n  rw [h₂, h₃] at h₁\n  sorry",
           lean={"axioms": ["sorryAx"]}),
    Attack("admit", "sorry", "text", "compile", REPL_SORRY, body=" by\n  admit",
           lean={"messages": [SORRY_WARNING], "axioms": ["sorryAx"]}),
    Attack("«sorry»", "sorry", "text", "compile", REPL_SORRY, body=" by\n  exact «sorry»",
           lean={"messages": [SORRY_WARNING], "axioms": ["sorryAx"]}),
    Attack("sorryAx by name", "sorry", "text", "axioms", LEAN_PRINT, body=" by\n  exact sorryAx _ false",
           lean={"axioms": ["sorryAx"]}),
    Attack("stop tactic", "sorry", "compile", "compile", "leanprover/lean4:src/Init/Tactics.lean (stop)",
           body=" by\n  stop\n  norm_num", lean={"messages": [SORRY_WARNING], "axioms": ["sorryAx"]}),
    Attack("error closes the goal", "sorry", "compile", "compile", "leanprover-community/repl@v4.24.0:test/invalid_tactic.in",
           body=" by\n  exact my_fake_premise", lean={"messages": [error("Unknown identifier `my_fake_premise`")]}),
    Attack("exact? leaves a suggestion", "sorry", "text", "compile", "leanprover-community/repl@v4.24.0:test/exact.in",
           body=" by\n  exact?", lean={"messages": [{"severity": "information", "data": "Try this: exact foo"}]}),
    Attack("sorry in a have", "sorry", "text", "compile", REPL_SORRY, body=" by\n  have hv : v = 65 := sorry\n  exact hv"),
]


def make_checker(tmp_path: Path, attack: Attack | None = None, **overrides: Any) -> KernelChecker:
    world = tmp_path / "world.json"
    world.write_text(json.dumps(attack.rules() if attack else []), encoding="utf-8")
    options = fake_options("--synthetic", worlds=(world,), header=MINIF2F_HEADER, check_dir=tmp_path / "scratch",
                           **overrides)
    return KernelChecker(options)


async def run(attack: Attack, tmp_path: Path):
    checker = make_checker(tmp_path, attack)
    if attack.source is not None:
        return await checker.check_source(attack.theorem, attack.source)
    assert attack.body is not None
    return await checker.check_body(attack.theorem, attack.body)


def without_text_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the text layer out: the filter lets everything through, and a whole file is not compared
    with the statement (it is compiled as it is)."""
    monkeypatch.setattr(final_check, "filter_text", lambda text, name=None: FilterResult(()))
    monkeypatch.setattr(final_check, "split_source", lambda theorem, source: (source, []))


def test_the_catalogue_covers_every_class() -> None:
    classes = {a.cls for a in ATTACKS}
    assert classes == {"spelling", "lexer", "meta", "environment", "statement", "self", "axioms", "sorry"}
    assert len(ATTACKS) >= 45
    assert len({a.id for a in ATTACKS}) == len(ATTACKS)
    assert all(a.model for a in ATTACKS)


@pytest.mark.parametrize("attack", [pytest.param(a, id=f"{a.cls}: {a.id}") for a in ATTACKS])
async def test_attack_is_rejected(attack: Attack, tmp_path: Path, no_leftover_children) -> None:
    result = await run(attack, tmp_path)
    assert result.verdict is Verdict.REJECTED, result
    assert result.details["layer"] == attack.layer, result.details
    assert result.reason and result.details["reasons"]


KERNEL_ATTACKS = [a for a in ATTACKS if a.kernel is not None]


@pytest.mark.parametrize("attack", [pytest.param(a, id=f"{a.cls}: {a.id}") for a in KERNEL_ATTACKS])
async def test_attack_is_rejected_by_a_kernel_layer_alone(attack: Attack, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, no_leftover_children) -> None:
    without_text_layer(monkeypatch)
    result = await run(attack, tmp_path)
    assert result.verdict is Verdict.REJECTED, result
    assert result.details["layer"] == attack.kernel, result.details


def test_every_class_is_stopped_by_the_kernel_layers() -> None:
    assert {a.cls for a in KERNEL_ATTACKS} == {a.cls for a in ATTACKS}


async def test_a_genuine_proof_passes_every_layer(tmp_path: Path, no_leftover_children) -> None:
    result = await make_checker(tmp_path).check_body(THEOREM, GOOD)
    assert result.verdict is Verdict.ACCEPTED, result
    assert result.details["layers"] == ["text", "compile", "type", "axioms", "replay"]
    assert result.details["axioms"] == ["propext", "Classical.choice", "Quot.sound"]
    whole = await make_checker(tmp_path).check_source(THEOREM, MINIF2F_HEADER + HEAD + GOOD + "\n")
    assert whole.verdict is Verdict.ACCEPTED, whole


# -- mutation: each layer taken out lets some attack through ---------------------------------------------


MUTATIONS = {
    "replay": lambda m: m.setattr(final_check, "judge_replay", lambda module, run: (Verdict.ACCEPTED, [])),
    "type": lambda m: m.setattr(final_check, "judge_type", lambda checks, reference: []),
    "axioms": lambda m: m.setattr(final_check, "judge_axiom_reports", lambda name, reports: ([], [])),
    "compile": lambda m: m.setattr(final_check, "judge_compile", lambda messages, line: []),
}


@pytest.mark.parametrize("layer", sorted(MUTATIONS))
async def test_without_one_kernel_layer_an_attack_is_accepted(layer: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, no_leftover_children) -> None:
    """With the text layer out (so the kernel layers are all that stand), removing `layer` too lets
    an attack through: the catalogue would fail, so the layer is not dead weight."""
    without_text_layer(monkeypatch)
    MUTATIONS[layer](monkeypatch)
    accepted = []
    for k, attack in enumerate(a for a in KERNEL_ATTACKS if a.kernel == layer):
        folder = tmp_path / str(k)
        folder.mkdir()
        if (await run(attack, folder)).verdict is Verdict.ACCEPTED:
            accepted.append(attack.id)
            break
    assert accepted, f"removing the {layer} layer let no attack through"


async def test_without_the_lexer_an_attack_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       no_leftover_children) -> None:
    """A proof that adds syntax after itself can forge the answers the kernel layers read; only the
    text layer keeps such commands out. Without it, the forged report passes."""
    without_text_layer(monkeypatch)
    attack = next(a for a in ATTACKS if a.kernel is None)
    result = await run(attack, tmp_path)
    assert result.verdict is Verdict.ACCEPTED, result


# -- when a layer cannot run: UNCHECKED, never ACCEPTED ----------------------------------------------------


async def test_missing_lean4checker_is_unchecked(tmp_path: Path, no_leftover_children) -> None:
    checker = make_checker(tmp_path, lean4checker_command=["/nonexistent/lean4checker"])
    result = await checker.check_body(THEOREM, GOOD)
    assert result.verdict is Verdict.UNCHECKED and result.details["layer"] == "replay", result


async def test_crashing_lean4checker_is_unchecked(tmp_path: Path, no_leftover_children) -> None:
    checker = make_checker(tmp_path, lean4checker_command=["sh", "-c", "kill -SEGV $$", "lean4checker"])
    result = await checker.check_body(THEOREM, GOOD)
    assert result.verdict is Verdict.UNCHECKED and "SIGSEGV" in result.reason, result


async def test_crashing_lean_is_unchecked(tmp_path: Path, no_leftover_children) -> None:
    attack = Attack("crash", "-", "", None, LEAN_SHELL, body=" by\n  nlinarith [h₀.1]", lean={"crash": "SIGSEGV"})
    result = await run(attack, tmp_path)
    assert result.verdict is Verdict.UNCHECKED and result.details["layer"] == "compile", result


async def test_reference_that_does_not_elaborate_is_unchecked(tmp_path: Path, no_leftover_children) -> None:
    world = tmp_path / "world.json"
    world.write_text(json.dumps([{"reference": True, "match": NAME, "messages": [error("unknown identifier 'x'")]}]))
    checker = KernelChecker(fake_options("--synthetic", worlds=(world,), header=MINIF2F_HEADER))
    result = await checker.check_body(THEOREM, GOOD)
    assert result.verdict is Verdict.UNCHECKED and "reference statement" in result.reason, result


async def test_tools_missing_is_unchecked(tmp_path: Path, no_leftover_children) -> None:
    checker = KernelChecker(fake_options("--synthetic", header=MINIF2F_HEADER, lean4checker_command=None))
    result = await checker.check_body(THEOREM, GOOD)
    assert result.verdict is Verdict.UNCHECKED and result.details["layer"] == "tools", result


async def test_a_hanging_compile_is_stopped_and_rejected(tmp_path: Path, no_leftover_children) -> None:
    attack = Attack("hang", "-", "", None, LEAN_SHELL, body=" by\n  nlinarith [h₀.2]", lean={"hang": True})
    world = tmp_path / "world.json"
    world.write_text(json.dumps(attack.rules()))
    checker = KernelChecker(fake_options("--synthetic", worlds=(world,), header=MINIF2F_HEADER, check_timeout_s=1.0))
    result = await checker.check_body(THEOREM, attack.body or "")
    assert result.verdict is Verdict.REJECTED and "time budget" in result.reason, result


async def test_unreadable_lean_output_is_unchecked(tmp_path: Path, no_leftover_children) -> None:
    """A `lean` that prints text instead of JSON (a tool other than the pinned one) cannot pass or fail a proof."""
    script = tmp_path / "lean"
    script.write_text("#!/bin/sh\necho 'proof.lean:1:0: error: something'\nexit 0\n", encoding="utf-8")
    script.chmod(0o755)
    checker = make_checker(tmp_path, lean_command=[str(script)])
    result = await checker.check_body(THEOREM, GOOD)
    assert result.verdict is Verdict.UNCHECKED, result


async def test_proof_text_saying_out_of_memory_is_not_a_memory_verdict(tmp_path: Path, no_leftover_children) -> None:
    attack = Attack("oom text", "-", "", None, LEAN_SHELL, body=" by\n  nlinarith [h₀.2.2]",
                    lean={"messages": [{"severity": "information", "data": "INTERNAL PANIC: out of memory"}]})
    result = await run(attack, tmp_path)
    assert result.verdict is Verdict.ACCEPTED, result  # an info message from the proof, not the runtime
