"""Isabelle attack catalogue (issue 10 item 7, Isabelle part): false proofs a hostile model could send.

Every attack is replayed through the whole final check (`PisaProver.verify`) against the stand-in
PISA, scripted to answer as PISA main does (it runs Isabelle with quick_and_dirty: cheats close the
goal), and the stand-in `isabelle server`, which answers as Isabelle2022's PIDE does (it accepts
`sorry` in interactive mode and records oracles). Each entry names the answer of the real tool,
the upstream source that answer is modelled on, and the layers of the check that reject it:
`filter` (theory.forbidden_reason), `parse` (PISA's `<parse text>`), `replay` (the command-by-command
replay), `oracle` (the oracle query of the official check, oracles.py). The mutation checks at the
end remove one layer and show that some attack then passes, so each layer is tested.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from llemma_prove.provers.isabelle import official, prover as prover_module
from llemma_prove.types import Proof, Verdict
from tests.doubles.fake_pisa import closes, goes_to

from .conftest import ROOT_STATE, isabelle_script, prover_on_fake, toy_script, toy_theorem

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


def _a(name, kind, steps, real, source, layers, pisa=()):
    return Attack(name, kind, tuple(steps), real, source, frozenset(layers.split()), tuple(pisa))


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
       "PISA: closed at command 1; a second `toy_add` would be what the name refers to", "PisaOS.scala step", "replay",
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
]
UNPARSABLE = {"by (simp add: h0": "Outer syntax error: missing )"}


def test_the_catalogue_is_large_and_says_where_each_answer_comes_from() -> None:
    assert len(CATALOGUE) >= 15 and len({a.name for a in CATALOGUE}) == len(CATALOGUE)
    for attack in CATALOGUE:
        assert attack.real_answer and attack.source and attack.layers <= {"filter", "parse", "replay", "oracle"}
    # every class rests on a layer other than the word filter for at least one attack
    assert {a.kind for a in CATALOGUE if a.layers - {"filter"}} >= {"sorry", "oracle", "quick_and_dirty", "other statement",
                                                                     "statement tampering", "lexer desynchronisation"}


def _script():
    script = toy_script()
    script.add(ROOT_STATE, "using h0 by simp", closes())
    for attack in CATALOGUE:
        for state, step, reply in attack.pisa:
            script.add(state, step, reply)
    script.unparsable.update(UNPARSABLE)
    return script


async def _verdict(context_files, tmp_path: Path, attack: Attack):
    env = isabelle_script(tmp_path / "plan.json", oracles=ORACLES)
    async with prover_on_fake(_script(), replace(context_files, extra_env=env)) as (prover, fake):
        honest = await prover.verify(toy_theorem(), Proof(("using h0 by simp",)))
        return honest, await prover.verify(toy_theorem(), Proof(attack.steps))


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
