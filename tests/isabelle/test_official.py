"""The whole-theory check through `isabelle server` (a stand-in executable speaking its protocol)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from llemma_prove.errors import ProverUnavailable
from llemma_prove.provers.isabelle import official
from llemma_prove.provers.isabelle.health import isabelle_health
from llemma_prove.provers.isabelle.official import IsabelleServerChecker, theory_errors
from llemma_prove.provers.isabelle.oracles import new_nonce, oracle_query, parse_reports, theorem_names
from llemma_prove.types import Proof, Verdict
from tests.doubles.fake_pisa import closes

from .conftest import ROOT_STATE, isabelle_script, prover_on_fake, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

THEORY = "theory T imports Main\nbegin\n\ntheorem t1: \"True\"\n  {proof}\n\nend\n"


def test_errors_are_read_from_a_use_theories_reply() -> None:
    body = {
        "ok": False,
        "errors": [],
        "nodes": [{"theory_name": "Draft.t", "status": {"ok": False, "failed": 1}, "messages": [
            {"kind": "writeln", "message": "fine"}, {"kind": "error", "message": "Failed to finish proof"}]}],
    }
    assert theory_errors(body) == ["Failed to finish proof"]
    assert theory_errors({"ok": True, "errors": [], "nodes": [{"status": {"ok": True}, "messages": []}]}) == []
    assert theory_errors("garbage")[0].startswith("unexpected")


def test_an_oracle_report_counts_only_with_this_checks_nonce() -> None:
    nonce = new_nonce()
    query = oracle_query("t1", nonce)
    assert "Thm_Deps.all_oracles" in query and nonce in query
    head = "llemma-prove oracle report {} t1 statement: {} new axioms: {} oracles: {}"
    good = head.format(nonce, "same", 0, 0) + " oracles:"
    forged = head.format(new_nonce(), "same", 0, 0) + " oracles:"
    assert parse_reports([forged], nonce) == {}
    assert parse_reports([good], nonce)["t1"].problem(reference_expected=True) is None
    bad = parse_reports([head.format(nonce, "same", 0, 1) + " oracles:\n  ▪ Pure.skip_proof"], nonce)
    assert not bad["t1"].clean and "skip_proof" in bad["t1"].listing
    assert "reference" in parse_reports([head.format(nonce, "different", 0, 0)], nonce)["t1"].problem(False)
    assert "axiom" in parse_reports([head.format(nonce, "same", 2, 0)], nonce)["t1"].problem(False)
    # a report not compared with a reference does not pass where one was asked for
    assert "compared" in parse_reports([head.format(nonce, "unchecked", 0, 0)], nonce)["t1"].problem(True)
    # two reports for one name under this nonce: neither is believed
    twice = parse_reports([good, good], nonce)["t1"]
    assert twice.duplicated and not twice.clean
    with pytest.raises(ValueError):
        oracle_query('t1"; error "x', nonce)
    assert theorem_names('theorem a: "x" by simp\nlemma "y" by simp\nlemma b [simp]: "z" by simp') == ["a", "b"]


def test_the_reference_statement_and_the_axiom_baseline_come_before_the_theorem() -> None:
    from llemma_prove.provers.isabelle.oracles import OracleQueryError, reference_name, with_oracle_queries

    nonce = new_nonce()
    statement = 'theorem t1:\n  assumes h: "x = 1"\n  shows "x + 1 = 2"'
    text = f"theory t1 imports Main\nbegin\n\n{statement}\n  using h by simp\n\nend\n"
    checked = with_oracle_queries(text, ["t1"], nonce, {"t1": statement})
    baseline = checked.index(f"llemma_prove_axioms_{nonce} = Symtab.make_set")
    reference = checked.index(f"theorem {reference_name(nonce)}:")
    target = checked.index("theorem t1:")
    query = checked.index('Proof_Context.get_thms @{context} "t1"')
    assert baseline < reference < target < query < checked.rindex("end")
    assert checked[reference:target].count("sorry") == 1 and 'shows "x + 1 = 2"' in checked[reference:target]
    with pytest.raises(OracleQueryError):
        with_oracle_queries(text, ["t2"], nonce)  # the theorem to check is not in the theory


async def test_the_official_check_can_reject_what_pisa_accepted(context_files, tmp_path: Path) -> None:
    env = isabelle_script(tmp_path / "plan.json", errors={"by auto": "Failed to finish proof"})
    options = replace(context_files, extra_env=env)
    script = toy_script()
    script.add(ROOT_STATE, "by simp", closes())
    script.add(ROOT_STATE, "by auto", closes())
    async with prover_on_fake(script, options) as (prover, fake):
        assert isinstance(prover.official, IsabelleServerChecker)
        good = await prover.verify(toy_theorem(), Proof(("by simp",)))
        assert good.verdict is Verdict.ACCEPTED, good.reason
        assert good.details["isabelle_server"] == "accepted" and good.details["oracles"] == "none"
        bad = await prover.verify(toy_theorem(), Proof(("by auto",)))
        assert bad.verdict is Verdict.REJECTED
        assert bad.reason.startswith("Isabelle server: Failed to finish proof")
        assert bad.details["pisa_replay"] == "ok"
    # prover.close() stopped the `isabelle server` child (checked by no_leftover_children)


async def test_without_the_official_check_nothing_is_accepted(context_files) -> None:
    """Item 5: PISA's replay cannot see oracles; without the server's oracle query: UNCHECKED."""
    script = toy_script()
    script.add(ROOT_STATE, "by simp", closes())
    async with prover_on_fake(script, replace(context_files, official_check=False)) as (prover, fake):
        assert prover.official is None
        verdict = await prover.verify(toy_theorem(), Proof(("by simp",)))
        assert verdict.verdict is Verdict.UNCHECKED and "oracle" in verdict.reason


async def test_a_theory_without_errors_but_with_sorry_is_rejected_by_the_oracle_query(context_files) -> None:
    """PIDE accepts `sorry` without quick_and_dirty (interactive); only the oracle query catches it."""
    checker = IsabelleServerChecker(context_files)
    try:
        verdict = await checker.check("T", THEORY.format(proof="sorry"))
        assert verdict.verdict is Verdict.REJECTED and "oracle" in verdict.reason and "skip_proof" in verdict.reason
        assert (await checker.check("T", THEORY.format(proof="by simp"))).verdict is Verdict.ACCEPTED
        oops = await checker.check("T", THEORY.format(proof="oops"))
        assert oops.verdict is Verdict.REJECTED and "Undefined fact" in oops.reason
    finally:
        await checker.close()


async def test_checks_run_concurrently_and_keep_the_shared_libraries(context_files, tmp_path: Path) -> None:
    """Item 12: no global lock, no purge of everything after each check."""
    log = tmp_path / "server.log"
    env = isabelle_script(tmp_path / "plan.json", delay_s=0.8, log=str(log))
    checker = IsabelleServerChecker(replace(context_files, extra_env=env))
    try:
        await checker.check("Warmup", THEORY.format(proof="by simp").replace("theory T", "theory Warmup"))
        start = time.monotonic()
        texts = [THEORY.format(proof="by simp").replace("theory T", f"theory T{i}") for i in range(3)]
        verdicts = await asyncio.gather(*(checker.check(f"T{i}", text) for i, text in enumerate(texts)))
        elapsed = time.monotonic() - start
        assert all(v.accepted for v in verdicts), [v.reason for v in verdicts]
        assert elapsed < 2 * 0.8, f"three checks took {elapsed:.2f} s: they ran one after another"
        purges = [line for line in log.read_text().splitlines() if "purge_theories" in line]
        assert purges and all('"all": true' not in line for line in purges)
    finally:
        await checker.close()


def test_the_check_runs_on_the_prebuilt_context_session(context_files, tmp_path: Path, monkeypatch) -> None:
    """Item 12: with the context image built, `session_start` names it (and its folder unless ROOTS has it)."""
    wd = context_files.resolved_working_dir
    (wd / "ROOT").write_text("session \"HOL-LLemma_Prove\" = \"HOL\"\n")
    heaps = tmp_path / "user" / "heaps" / "polyml"
    heaps.mkdir(parents=True)
    (heaps / "HOL-LLemma_Prove").write_bytes(b"heap")
    monkeypatch.setenv("ISABELLE_HOME_USER", str(tmp_path / "user"))
    args = IsabelleServerChecker(context_files).session_args()
    assert args["session"] == "HOL-LLemma_Prove" and args["dirs"] == [str(wd)]
    (tmp_path / "user" / "ROOTS").write_text(f"{wd}\n")  # registered: not named twice
    assert IsabelleServerChecker(context_files).session_args()["dirs"] == []
    (heaps / "HOL-LLemma_Prove").unlink()
    assert IsabelleServerChecker(context_files).session_args()["session"] == "HOL"


async def test_an_old_isabelle_client_is_refused_and_doctor_says_so(context_files, monkeypatch) -> None:
    """Item 10: isabelle-client < 1.0 returns raw strings; the check refuses to run on it."""
    monkeypatch.setattr(official, "client_version", lambda: (0, 5, 9))
    checker = IsabelleServerChecker(context_files)
    with pytest.raises(ProverUnavailable, match=r"isabelle-client>=1.0"):
        await checker.start()
    await checker.close()
    row = {c.name: c for c in isabelle_health(context_files)}["isabelle-client"]
    assert not row.ok and "too old" in row.detail and ">=1.0" in row.advice
    monkeypatch.setattr(official, "client_version", lambda: (1, 1, 2))
    assert {c.name: c for c in isabelle_health(context_files)}["isabelle-client"].ok


async def test_without_isabelle_client_installed_the_check_says_what_to_install(context_files, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_client(name, *args, **kwargs):
        if name == "isabelle_client":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_client)
    checker = IsabelleServerChecker(context_files)
    with pytest.raises(ProverUnavailable, match="pip install"):
        await checker.start()
    await checker.close()

