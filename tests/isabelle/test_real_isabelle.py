"""Against a real Isabelle2022 + PISA installation (marker `isabelle`; skipped where not configured).

Configure with ISABELLE_HOME and LLEMMA_PROVE_PISA_JAR (see isabelle/README.md); optionally
LLEMMA_PROVE_PISA_WORKING_DIR, LLEMMA_PROVE_PISA_THEORY_FILE, LLEMMA_PROVE_PISA_PORTS.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from llemma_prove.data.isabelle_minif2f import parse_isabelle_rows
from llemma_prove.provers.isabelle.health import blocking_problems, isabelle_health
from llemma_prove.provers.isabelle.options import IsabelleOptions
from llemma_prove.provers.isabelle.prover import PisaProver
from llemma_prove.search import SearchConfig, prove_theorem
from llemma_prove.types import OutcomeKind, Proof, SamplingParams, SearchStatus, Verdict
from tests.conftest import require_shared
from tests.doubles.scripted import ScriptedProposer

pytestmark = [pytest.mark.isabelle, pytest.mark.usefixtures("no_leftover_children"), pytest.mark.timeout(1800)]

EASY = "amc12b_2002_p2"  # Complex_Main only; upstream's own proof is `using assms by simp`


@pytest.fixture
def real_options() -> IsabelleOptions:
    if not (os.environ.get("ISABELLE_HOME") and os.environ.get("LLEMMA_PROVE_PISA_JAR")):
        pytest.skip("real Isabelle not configured (set ISABELLE_HOME and LLEMMA_PROVE_PISA_JAR)")
    options = IsabelleOptions.from_env()
    problems = blocking_problems(isabelle_health(options))
    if problems:
        pytest.skip("Isabelle installation incomplete: " + "; ".join(f"{c.name}: {c.detail}" for c in problems))
    return options


def easy_theorem():
    path = require_shared("minif2f/isabelle/test.jsonl")
    line = next(l for l in path.read_text().splitlines() if f'"name": "{EASY}"' in l)
    (theorem,) = parse_isabelle_rows([line], str(path))
    return theorem, json.loads(line)["proof"]


async def test_easy_minif2f_problem_end_to_end(real_options) -> None:
    theorem, human_proof = easy_theorem()
    prover = PisaProver(replace(real_options, num_servers=1))
    await prover.start()
    try:
        session = await prover.open(theorem)
        root = await session.initial_state()
        assert "goal" in root.text
        assert (await session.step(root, "sorry")).kind is OutcomeKind.ERROR
        assert (await session.step(root, "by (simp add: this_lemma_does_not_exist)")).kind is OutcomeKind.ERROR
        await session.close()

        for cheat in ("sorry", "oops"):
            assert (await prover.verify(theorem, Proof((cheat,)))).verdict is Verdict.REJECTED

        proposer = ScriptedProposer({root.text: [("by (rule refl)", -0.5), (human_proof, -1.0)]})
        config = SearchConfig(max_expansions=4, sampling=SamplingParams(n=4), time_limit_s=600.0)
        result = await prove_theorem(theorem, prover, proposer, config)
        assert result.status is SearchStatus.PROVED, (result.error, result.verification)
        assert result.verification is not None and result.verification.accepted
    finally:
        await prover.close()


async def test_start_from_the_session_image(real_options) -> None:
    """Item 11: PISA starts from the prebuilt context image; prints the measured start time."""
    import time

    from llemma_prove.provers.isabelle.options import CONTEXT_SESSION

    checks = {c.name: c for c in isabelle_health(real_options)}
    if not checks.get(f"session {CONTEXT_SESSION}") or not checks[f"session {CONTEXT_SESSION}"].ok:
        pytest.skip("the context session image is not built (run `llemma-prove setup isabelle`)")
    prover = PisaProver(replace(real_options, num_servers=1))
    start = time.monotonic()
    await prover.start()
    try:
        elapsed = time.monotonic() - start
        print(f"PISA start from {CONTEXT_SESSION}: {elapsed:.1f} s")
        assert elapsed < real_options.handshake_timeout_s
    finally:
        await prover.close()


async def test_the_oracle_query_rejects_an_smt_oracle_proof(real_options) -> None:
    """Item 5 on real Isabelle: `sorry` and the SMT oracle are rejected by the oracle query."""
    from llemma_prove.provers.isabelle.official import IsabelleServerChecker

    checker = IsabelleServerChecker(real_options)
    try:
        text = 'theory Oracle_Probe imports Main\nbegin\n\ntheorem t: "(1::nat) + 1 = 2"\n  {proof}\n\nend\n'
        assert (await checker.check("Oracle_Probe", text.format(proof="by simp"))).verdict is Verdict.ACCEPTED
        for cheat in ("sorry", "by eval"):
            verdict = await checker.check("Oracle_Probe", text.format(proof=cheat))
            assert verdict.verdict is Verdict.REJECTED and "oracle" in verdict.reason, (cheat, verdict.reason)
    finally:
        await checker.close()


async def test_the_query_compares_statements_and_counts_new_axioms(real_options) -> None:
    """The statement and axiom layers on real Isabelle2022 (their ML has never been compiled here):
    an honest proof passes; `oops` + a weaker lemma of the same name, and `oops` + a new axiom + the
    same statement proved from it, are rejected by those layers (no filter, no replay)."""
    from llemma_prove.provers.isabelle.official import IsabelleServerChecker

    statement = 'theorem t:\n  fixes x :: nat\n  assumes h: "x + 1 = 3"\n  shows "x = 2"'
    text = "theory Statement_Probe imports Main\nbegin\n\n{statement}\n{proof}\n\nend\n"
    cases = {
        "using h by simp": None,
        'oops\n\nlemma t: "(2::nat) = 2" by simp': "does not state the reference statement",
        f'oops\n\naxiomatization where ax: "False"\n\n{statement}\n  using ax by simp': "new axiom",
    }
    checker = IsabelleServerChecker(real_options)
    try:
        for proof, why in cases.items():
            verdict = await checker.check("Statement_Probe", text.format(statement=statement, proof=proof),
                                          ["t"], {"t": statement})
            if why is None:
                assert verdict.verdict is Verdict.ACCEPTED, verdict.reason
            else:
                assert verdict.verdict is Verdict.REJECTED and why in verdict.reason, (proof, verdict.reason)
    finally:
        await checker.close()
