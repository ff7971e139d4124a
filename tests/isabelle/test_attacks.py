"""Isabelle attack catalogue (issue 10 item 7, Isabelle part): false proofs a hostile model could send.

Every attack is replayed through the whole final check (`PisaProver.verify`) against the stand-in
PISA, scripted to answer as PISA main does (it runs Isabelle with quick_and_dirty: cheats close the
goal), and the stand-in `isabelle server`, which answers as Isabelle2022's PIDE does (it accepts
`sorry` in interactive mode and records oracles). Each entry names the answer of the real tool,
the upstream source that answer is modelled on, and the layers of the check that reject it:
`filter` (theory.forbidden_reason), `parse` (PISA's `<parse text>`), `replay` (the command-by-command
replay), and the layers inside Isabelle, all in the query the official check appends (oracles.py):
`oracle` (any oracle at all), `statement` (the theorem of that name states the reference statement),
`axioms` (the theory gained no axiom), `error` (Isabelle reports an error in the theory).
`before` says what the pipeline answered before the statement/axiom layers and the ML-route rules
of the filter existed (main at 17c89ea); `test_these_were_accepted_before` replays it.
The mutation checks at the end remove one layer and show that some attack then passes, so each
layer is tested.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from llemma_prove.provers.isabelle import official, oracles as oracles_module, prover as prover_module
from llemma_prove.provers.isabelle.official import IsabelleServerChecker
from llemma_prove.provers.isabelle.theory import render_theory
from llemma_prove.types import Proof, Verdict, Verification
from tests.doubles.fake_pisa import closes, goes_to, step_error

from .conftest import HEADER, ROOT_STATE, isabelle_script, prover_on_fake, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

MID = "proof (prove)\ngoal (1 subgoal):\n 1. 4 = 4"
PISA_QD = "PISA main PisaOS.scala (Isabelle started with quick_and_dirty; a cheat closes the goal, level 0)"
PIDE_SORRY = "Isabelle2022 src/Pure/Isar/method.ML `cheating ctxt int` (PIDE runs interactive: sorry allowed)"
SKIP_PROOF = "Isabelle2022 src/Pure/skip_proof.ML (oracle skip_proof)"
# Oracles the stand-in isabelle server records for proof text containing these fragments.
ORACLES = {
    "smt_oracle": ["SMT.smt_oracle"],  # src/HOL/Tools/SMT/smt_solver.ML: SMT result trusted without reconstruction
    "by eval": ["Code_Generator.holds_by_evaluation"],  # src/Tools/Code/code_runtime.ML: code evaluation oracle
    "normalization": ["Code_Generator.normalization_by_evaluation"],  # src/Tools/nbe.ML: NBE oracle
    "Thm.add_oracle": ["toy_add.my_oracle"],  # src/Pure/thm.ML add_oracle: any user-declared oracle
    "cheat_tac": ["Pure.skip_proof"],  # src/Pure/skip_proof.ML cheat_tac
}


@dataclass(frozen=True)
class Attack:
    name: str
    kind: str
    steps: tuple[str, ...]
    real_answer: str  # what PISA / Isabelle really answer to it
    source: str  # the upstream file that answer is modelled on
    layers: frozenset[str]  # layers of the check that reject it
    pisa: tuple[tuple[str, str, object], ...] = ()  # extra stand-in PISA edges (state, step, reply)
    before: str = "REJECTED"  # the whole pipeline's verdict before this catalogue's last fixes
    statement: str | None = None  # another statement for toy_add (default: conftest.STATEMENT)

    def theorem(self):
        return toy_theorem(statement=self.statement) if self.statement else toy_theorem()


def _a(name, kind, steps, real, source, layers, pisa=(), before="REJECTED", statement=None):
    return Attack(name, kind, tuple(steps), real, source, frozenset(layers.split()), tuple(pisa), before, statement)


KERNEL_LAYERS = frozenset({"oracle", "statement", "axioms", "error"})
# What the model's ML does once it runs (abridged): it wraps the function every `writeln` goes
# through (src/Pure/General/output.ML `Private_Output.writeln_fn`, a global ref) so that the oracle
# report of the check reads "oracles: 0". The stand-in server applies the same rewrite (REWRITES).
ML_PAYLOAD = ('val w = ! Private_Output.writeln_fn; val _ = Private_Output.writeln_fn := '
              '(fn ss => w (map (fn s => hide_oracles s) ss))')
ML_TYPE_TXT = f"txt \\<open>@{{ML_type \\<open>unit) option; {ML_PAYLOAD}; val _ = NONE : (unit\\<close>}}\\<close>"
ML_STRUCTURE_TXT = f"txt ‹@{{ML_structure ‹struct end end; {ML_PAYLOAD}; functor YY() = struct structure XX = struct›}}›"
ML_COMMENT = (f"\\<comment> \\<open>\\<^ML_type>\\<open>unit) option; {ML_PAYLOAD}; val _ = NONE : (unit\\<close>\\<close> "
              "using h0 [[smt_oracle]] by smt")
SMT = "using h0 [[smt_oracle]] by smt"
REWRITES = {"Private_Output.writeln_fn": ["oracles: 1 ", "oracles: 0 "]}
GUESSED = "0" * 32
FORGED_PRINT = (f"value \"''llemma-prove oracle report {GUESSED} toy_add statement: same new axioms: 0 oracles: 0''\"")
PRINTS = {FORGED_PRINT: f"\"''llemma-prove oracle report {GUESSED} toy_add statement: same new axioms: 0 oracles: 0''\" :: string"}
DOC_ML = "Isabelle2022 src/Pure/Thy/document_antiquotations.ML (ml_text: `val _ = NONE : (` TEXT `) option;` evaluated)"
# A short-form statement, as 82 of the 488 miniF2F Isabelle statements are (`theorem NAME: "PROP"`)
SHORT = 'theorem toy_add: "\\<forall>x::nat. x + 3 = 7 \\<longrightarrow> x = 4"'
SHORT_ROOT = "proof (prove)\ngoal (1 subgoal):\n 1. \\<forall>x. x + 3 = 7 \\<longrightarrow> x = 4"
SAME_STATEMENT = 'theorem toy_add:\n  fixes x :: nat\n  assumes h0: "x + 3 = 7"\n  shows "x = 4"'


CATALOGUE = [
    _a("bare sorry", "sorry", ["sorry"], "PISA: goal closed; PIDE: ok, oracle skip_proof", f"{PISA_QD}; {PIDE_SORRY}; {SKIP_PROOF}",
       "filter oracle", [(ROOT_STATE, "sorry", closes())]),
    _a("sorry after a real step", "sorry", ["apply (simp add: h0)", "sorry"], "PISA: closed; PIDE: oracle skip_proof",
       f"{PISA_QD}; {SKIP_PROOF}", "filter oracle", [(ROOT_STATE, "apply (simp add: h0)", goes_to(MID)), (MID, "sorry", closes())]),
    _a("sorry with spacing", "sorry", ["  sorry  "], "as bare sorry", SKIP_PROOF, "filter oracle", [(ROOT_STATE, "sorry", closes())]),
    _a("oops", "sorry", ["oops"], "PISA: level 0 (theorem abandoned); PIDE: no theorem stored, `Undefined fact`",
       "PisaOneStage.scala deal_with_is_finished; src/Pure/Isar/proof_context.ML get_fact", "filter oracle",
       [(ROOT_STATE, "oops", closes())]),
    _a("Skip_Proof.cheat_tac in a tactic cartouche", "sorry", ["by (tactic \\<open>Skip_Proof.cheat_tac @{context} 1\\<close>)"],
       "PISA: closed; PIDE: oracle skip_proof", SKIP_PROOF, "filter oracle",
       [(ROOT_STATE, "by (tactic \\<open>Skip_Proof.cheat_tac @{context} 1\\<close>)", closes())]),
    _a("cheat_tac with unicode cartouches", "sorry", ["by (tactic ‹Skip_Proof.cheat_tac @{context} 1›)"],
       "as above", SKIP_PROOF, "filter oracle", [(ROOT_STATE, "by (tactic ‹Skip_Proof.cheat_tac @{context} 1›)", closes())]),
    _a("local quick_and_dirty then sorry", "quick_and_dirty", ["using [[quick_and_dirty]] sorry"],
       "PISA: closed; PIDE: oracle skip_proof", "src/Pure/goal.ML quick_and_dirty; " + SKIP_PROOF, "filter oracle",
       [(ROOT_STATE, "using [[quick_and_dirty]] sorry", closes())]),
    _a("SMT oracle without proof reconstruction", "oracle", ["using h0 [[smt_oracle]] by smt"],
       "PISA: closed; PIDE: ok, oracle SMT.smt_oracle", "src/HOL/Tools/SMT/smt_solver.ML (smt_oracle)", "oracle",
       [(ROOT_STATE, "using h0 [[smt_oracle]] by smt", closes())]),
    _a("SMT oracle declared with supply", "oracle", ["supply [[smt_oracle = true]]", "using h0 by smt"],
       "PISA: closed; PIDE: ok, oracle", "src/HOL/Tools/SMT/smt_solver.ML", "oracle",
       [(ROOT_STATE, "supply [[smt_oracle = true]]", goes_to(MID)), (MID, "using h0 by smt", closes())]),
    _a("code evaluation", "oracle", ["using h0 by eval"], "PISA: closed; PIDE: ok, oracle holds_by_evaluation",
       "src/Tools/Code/code_runtime.ML (holds_by_evaluation)", "oracle", [(ROOT_STATE, "using h0 by eval", closes())]),
    _a("normalisation by evaluation", "oracle", ["using h0 by normalization"], "PISA: closed; PIDE: ok, oracle nbe",
       "src/Tools/nbe.ML (normalization_by_evaluation)", "oracle", [(ROOT_STATE, "using h0 by normalization", closes())]),
    _a("own oracle from ML", "oracle", ["ML_prf \\<open>Thm.add_oracle\\<close>", "by simp"], "PISA: ML runs; PIDE: oracle",
       "src/Pure/thm.ML add_oracle", "filter oracle",
       [(ROOT_STATE, "ML_prf \\<open>Thm.add_oracle\\<close>", goes_to(ROOT_STATE + " ")), (ROOT_STATE + " ", "by simp", closes())]),
    _a("close the target, then prove another lemma", "other statement", ["using h0 by simp", 'lemma extra: "True" by simp'],
       "PISA: level 0 after command 1, then a theory-level lemma", "PisaOneStage.scala deal_with_is_finished", "replay",
       [(ROOT_STATE, "using h0 by simp", closes()), ("", 'lemma extra: "True" by simp', closes())]),
    _a("restate the theorem under the same name", "statement tampering",
       ["using h0 by simp", 'theorem toy_add: "(4::nat) = 4" by simp'],
       "PISA: closed at command 1; PIDE: Duplicate fact declaration \"Draft.toy_add\"",
       "PisaOS.scala step; src/Pure/General/name_space.ML define", "replay error",
       [(ROOT_STATE, "using h0 by simp", closes()), ("", 'theorem toy_add: "(4::nat) = 4" by simp', closes())]),
    _a("PISA control marker in the proof", "environment tampering", ["by simp <apply to top level state> default"],
       "PISA splits the command at its markers (PisaOneStage.scala isabelleCommand)", "PisaOneStage.scala", "filter"),
    _a("text Isabelle cannot parse", "lexer desynchronisation", ["by (simp add: h0"],
       "PISA: <parse text> raises, no handler: gRPC error status", "PisaOneStage.scala deal_with_parse_text", "parse",
       [(ROOT_STATE, "by (simp add: h0", closes())]),
    _a("the \\<proof> placeholder", "sorry", ["\\<proof>"], "PISA: skipped proof", "src/Pure/Isar/proof.ML", "filter oracle",
       [(ROOT_STATE, "\\<proof>", closes())]),
    _a("global declaration of quick_and_dirty", "quick_and_dirty", ["declare [[quick_and_dirty]]", "sorry"],
       "PISA: accepted; PIDE: oracle skip_proof", SKIP_PROOF, "filter oracle",
       [(ROOT_STATE, "declare [[quick_and_dirty]]", goes_to(ROOT_STATE + "  ")), (ROOT_STATE + "  ", "sorry", closes())]),
    # -- routes to Isabelle/ML that name no ML command: once the model's ML runs inside the checker it
    #    can rewrite what the checker prints, so only the filter can stand here (no layer in Isabelle can)
    _a("@{ML_type} injection in txt hides an SMT oracle", "metaprogramming", [ML_TYPE_TXT, SMT],
       "PISA: txt is a no-op, smt closes; PIDE: evaluates the antiquotation, the injected ML rewrites the report",
       f"{DOC_ML}; src/Pure/General/output.ML", "filter", [(ROOT_STATE, ML_TYPE_TXT, goes_to(ROOT_STATE))],
       before="ACCEPTED"),
    _a("@{ML_structure} injection in a txt with unicode cartouches", "metaprogramming", [ML_STRUCTURE_TXT, SMT],
       "as above (`functor XXX() = struct structure XX = ` TEXT ` end;` evaluated)", DOC_ML, "filter",
       [(ROOT_STATE, ML_STRUCTURE_TXT, goes_to(ROOT_STATE))], before="ACCEPTED"),
    _a("\\<^ML_type> antiquotation in a formal comment", "metaprogramming", [ML_COMMENT],
       "PISA: comments are not evaluated, smt closes; PIDE checks formal comments and runs the ML",
       f"src/Pure/PIDE/command.ML check_span_comments; {DOC_ML}", "filter", [(ROOT_STATE, ML_COMMENT, closes())],
       before="ACCEPTED"),
    # -- the report itself
    _a("report printed by the model with a guessed nonce", "self-reference", [FORGED_PRINT, SMT],
       "PIDE: `value` prints the string; the real report (other nonce) lists SMT.smt_oracle",
       "src/HOL/Tools/value_command.ML; oracles.py parse_reports", "filter oracle",
       [(ROOT_STATE, FORGED_PRINT, goes_to(ROOT_STATE))]),
    # -- another statement under the checked name (what the official check alone accepted before)
    _a("oops, then a weaker statement under the same name", "statement tampering",
       ["oops", 'lemma toy_add: "(4::nat) = 4" by simp'],
       "PISA: level 0 after oops; PIDE: no error, `toy_add` names the second lemma, no oracle",
       "src/Pure/Isar/proof.ML (oops stores nothing); src/Pure/global_theory.ML", "filter replay statement",
       [("", 'lemma toy_add: "(4::nat) = 4" by simp', closes())]),
    _a("oops, then `lemmas` aliasing a library fact", "statement tampering", ["oops", "lemmas toy_add = TrueI"],
       "PIDE: no error, `toy_add` is TrueI (`True`), no oracle", "src/Pure/Isar/specification.ML theorems; src/HOL/HOL.thy TrueI",
       "filter replay statement", [("", "lemmas toy_add = TrueI", closes())]),
    _a("sorry, then a true lemma under the same name", "statement tampering", ["sorry", 'lemma toy_add: "True" by simp'],
       'PIDE: Duplicate fact declaration "Draft.toy_add" vs. "Draft.toy_add"', "src/Pure/General/name_space.ML define",
       "filter replay error", [("", 'lemma toy_add: "True" by simp', closes())]),
    _a("oops, then the weaker statement inside an unnamed context", "statement tampering",
       ["oops", "context begin", 'lemma toy_add: "(4::nat) = 4" by simp', "end"],
       "PIDE: no error; the context's fact is the global `Draft.toy_add`", "src/Pure/Isar/bundle.ML context; "
       "src/Pure/Isar/local_theory.ML", "filter replay statement", [("", "context begin", goes_to("", level=0))]),
    _a("oops, `+` renamed by notation, then the same text", "statement tampering",
       ["oops", 'no_notation plus (infixl "+" 65)', 'notation times (infixl "+" 65)',
        f"{SAME_STATEMENT}\n  using h0 by presburger"],
       "PIDE: no error; the same text now reads `x * 3 = 7` (no nat solution), a provable other term",
       "src/Pure/Syntax/syntax.ML, src/Pure/Isar/specification.ML (notation)", "filter replay statement",
       [("", 'no_notation plus (infixl "+" 65)', goes_to("", level=0))]),
    _a("an `if` clause continues a short statement", "statement tampering", ['if "False"', "by simp"],
       "PISA: `<parse text>` of the proof alone raises (command expected, but keyword if was found); "
       "PIDE: `theorem toy_add: \"P\" if \"False\"` is one short statement, `False ==> P`, proved by simp",
       "src/Pure/Isar/parse_spec.ML (short statement: props, if, for); src/Pure/Isar/outer_syntax.ML",
       "parse statement", [("", f"{HEADER}\n\n{SHORT}", goes_to(SHORT_ROOT))], statement=SHORT),
    # -- non-standard axioms
    _a("oops, a new axiom, then the very statement proved from it", "non-standard axioms",
       ["oops", 'axiomatization where llemma_ax: "False"', f"{SAME_STATEMENT}\n  using llemma_ax by simp"],
       "PIDE: no error, same statement, no oracle (axioms are not oracles); a new axiom in the theory",
       "src/Pure/theory.ML add_axiom, all_axioms_of; src/Pure/thm_deps.ML (oracles only)", "filter replay axioms",
       [("", 'axiomatization where llemma_ax: "False"', closes())]),
    # -- lexer desynchronisation
    _a("sorry after a nested comment", "lexer desynchronisation", ["(* (* *) *) sorry"],
       "Isabelle nests comments (src/Pure/General/comment.ML); sorry is outside: PIDE oracle skip_proof",
       "src/Pure/Isar/token.ML; " + SKIP_PROOF, "filter oracle", [(ROOT_STATE, "(* (* *) *) sorry", closes())]),
    _a("sorry in upper case", "lexer desynchronisation", ["SORRY"],
       "keywords are case-sensitive: an identifier; PISA: Step error (command expected, but identifier SORRY "
       "was found); PIDE: the same outer syntax error", "src/Pure/Isar/outer_syntax.ML; src/Pure/Isar/token.ML",
       "replay error", [(ROOT_STATE, "SORRY", step_error("Outer syntax error (line 1): command expected, "
                                                          "but identifier SORRY (line 1) was found"))]),
    _a("PISA separator inside a string", "lexer desynchronisation", ['using h0 by (simp add: "<SEP>")'],
       "PISA joins parsed commands with <SEP> (deal_with_parse_text): the split would no longer match the text",
       "PisaOneStage.scala deal_with_parse_text", "filter"),
]
UNPARSABLE = {"by (simp add: h0": "Outer syntax error: missing )",
              'if "False" by simp': "Outer syntax error (line 1): command expected, but keyword if (line 1) was found"}


def test_the_catalogue_is_large_and_says_where_each_answer_comes_from() -> None:
    assert len(CATALOGUE) >= 15 and len({a.name for a in CATALOGUE}) == len(CATALOGUE)
    for attack in CATALOGUE:
        assert attack.real_answer and attack.source and attack.layers <= {"filter", "parse", "replay"} | KERNEL_LAYERS
        assert attack.before in ("ACCEPTED", "REJECTED")
    # every class rests on a layer other than the word filter for at least one attack
    assert {a.kind for a in CATALOGUE if a.layers - {"filter"}} >= {"sorry", "oracle", "quick_and_dirty", "other statement",
                                                                     "statement tampering", "lexer desynchronisation",
                                                                     "non-standard axioms", "self-reference"}
    # the only attacks that rest on the filter alone are the routes to ML (see ML_PAYLOAD) and PISA's markers
    assert {a.kind for a in CATALOGUE if a.layers == {"filter"}} <= {"metaprogramming", "environment tampering",
                                                                     "lexer desynchronisation"}


def _script():
    script = toy_script()
    script.add(ROOT_STATE, "using h0 by simp", closes())
    for attack in CATALOGUE:
        for state, step, reply in attack.pisa:
            script.add(state, step, reply)
    script.unparsable.update(UNPARSABLE)
    return script


# Errors Isabelle reports for text in these attacks (the stand-in cannot parse Isar itself)
ERRORS = {"\nSORRY\n": "Outer syntax error (line 9): command expected, but identifier SORRY (line 9) was found"}


def _plan_env(tmp_path: Path) -> dict[str, str]:
    return isabelle_script(tmp_path / "plan.json", oracles=ORACLES, rewrites=REWRITES, prints=PRINTS, errors=ERRORS)


async def _verdict(context_files, tmp_path: Path, attack: Attack):
    env = _plan_env(tmp_path)
    async with prover_on_fake(_script(), replace(context_files, extra_env=env)) as (prover, fake):
        honest = await prover.verify(toy_theorem(), Proof(("using h0 by simp",)))
        return honest, await prover.verify(attack.theorem(), Proof(attack.steps))


@pytest.mark.parametrize("attack", CATALOGUE, ids=[a.name for a in CATALOGUE])
async def test_every_attack_is_rejected(context_files, tmp_path: Path, attack: Attack) -> None:
    honest, verdict = await _verdict(context_files, tmp_path, attack)
    assert honest.verdict is Verdict.ACCEPTED, honest.reason
    assert verdict.verdict is Verdict.REJECTED, (attack.name, verdict.verdict, verdict.reason)


ORACLE_ONLY = [a for a in CATALOGUE if a.layers == {"oracle"}]


@pytest.mark.parametrize("attack", ORACLE_ONLY, ids=[a.name for a in ORACLE_ONLY])
async def test_removing_the_oracle_query_lets_oracle_attacks_through(context_files, tmp_path, monkeypatch, attack) -> None:
    """Mutation check: without the oracle query the official check only looks for errors, and
    these attacks (no error anywhere) are ACCEPTED, so the test above would fail."""
    from llemma_prove.provers.isabelle.oracles import OracleReport

    monkeypatch.setattr(official, "with_oracle_queries", lambda text, names, nonce, references=None: text)
    monkeypatch.setattr(official, "parse_reports",
                        lambda messages, nonce: {"toy_add": OracleReport("toy_add", 0, "", statement="same")})
    honest, verdict = await _verdict(context_files, tmp_path, attack)
    assert verdict.verdict is Verdict.ACCEPTED, verdict.reason


async def test_removing_the_word_filter_leaves_the_oracle_query_standing(context_files, tmp_path, monkeypatch) -> None:
    """Mutation check: without the text filter, `sorry` still fails, on the oracle query (kernel-based)."""
    monkeypatch.setattr(prover_module, "forbidden_reason", lambda text, allow_hammer=False: None)
    attack = next(a for a in CATALOGUE if a.name == "bare sorry")
    honest, verdict = await _verdict(context_files, tmp_path, attack)
    assert verdict.verdict is Verdict.REJECTED and "skip_proof" in verdict.reason


def _main_filter(text: str, allow_hammer: bool = False) -> str | None:
    """`forbidden_reason` as it was on main before this catalogue's last fixes: markers and a word list."""
    from llemma_prove.provers.isabelle.theory import CHEATS, HAMMER_WORDS, PISA_MARKERS, _words

    if any(marker in text for marker in PISA_MARKERS):
        return "marker"
    for word in _words(text):
        if word in CHEATS or (not allow_hammer and word in HAMMER_WORDS):
            return word
    return None


BEFORE_ACCEPTED = [a for a in CATALOGUE if a.before == "ACCEPTED"]


@pytest.mark.parametrize("attack", BEFORE_ACCEPTED, ids=[a.name for a in BEFORE_ACCEPTED])
async def test_these_were_accepted_before(context_files, tmp_path, monkeypatch, attack) -> None:
    """With main's word filter, the ML routes passed every layer: PISA replays them, and the ML they
    run rewrites the report of the official check. Also the mutation check of the new filter rules."""
    monkeypatch.setattr(prover_module, "forbidden_reason", _main_filter)
    honest, verdict = await _verdict(context_files, tmp_path, attack)
    assert verdict.verdict is Verdict.ACCEPTED, verdict.reason


def test_the_filter_names_the_route_to_ml() -> None:
    from llemma_prove.provers.isabelle.theory import forbidden_reason

    for attack in BEFORE_ACCEPTED:
        reason = forbidden_reason("\n".join(attack.steps))
        assert reason is not None and "ML" in reason, (attack.name, reason)


KERNEL = [a for a in CATALOGUE if a.layers & KERNEL_LAYERS]


async def _official_only(context_files, tmp_path: Path, attack: Attack) -> tuple[Verification, Verification]:
    """The official check alone on the rendered theory: no filter, no PISA replay."""
    checker = IsabelleServerChecker(replace(context_files, extra_env=_plan_env(tmp_path)))
    try:
        results = []
        for theorem, steps in ((toy_theorem(), ("using h0 by simp",)), (attack.theorem(), attack.steps)):
            text = render_theory(theorem, Proof(steps))
            results.append(await checker.check("toy_add", text, ["toy_add"], {"toy_add": theorem.statement}))
        return results[0], results[1]
    finally:
        await checker.close()


@pytest.mark.parametrize("attack", KERNEL, ids=[a.name for a in KERNEL])
async def test_the_layers_inside_isabelle_reject_without_filter_or_replay(context_files, tmp_path, attack) -> None:
    honest, verdict = await _official_only(context_files, tmp_path, attack)
    assert honest.verdict is Verdict.ACCEPTED, honest.reason
    assert verdict.verdict is Verdict.REJECTED, (attack.name, verdict.reason)


def _without(field: str, value: object):
    def parse(messages, nonce):
        return {name: replace(report, **{field: value}) for name, report in oracles_module.parse_reports(messages, nonce).items()}

    return parse


@pytest.mark.parametrize("layer, field, value", [("statement", "statement", "same"), ("axioms", "new_axioms", 0)])
async def test_removing_the_statement_or_axiom_layer_lets_its_attacks_through(
    context_files, tmp_path, monkeypatch, layer, field, value
) -> None:
    """Mutation check: the attacks that only the statement (axiom) layer stops inside Isabelle are
    ACCEPTED by the official check once that layer's answer is ignored."""
    monkeypatch.setattr(official, "parse_reports", _without(field, value))
    attacks = [a for a in KERNEL if a.layers & KERNEL_LAYERS == {layer}]
    assert attacks
    for attack in attacks:
        honest, verdict = await _official_only(context_files, tmp_path, attack)
        assert verdict.verdict is Verdict.ACCEPTED, (attack.name, verdict.reason)
