"""A whole attempt: a found proof counts only after the final check accepts it."""

from llemma_prove.search import SearchConfig, prove_theorem
from llemma_prove.types import SearchStatus, Theorem, Verdict
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, goes_to, proves

SCRIPT = {"A": {"a": goes_to("B")}, "B": {"b": proves()}}
TABLE = {"A": [("a", -0.1)], "B": [("b", -0.1)]}
THM = Theorem("t", "theorem t : P := by sorry", header="import Mathlib\n")


async def test_accepted_proof_is_proved_and_session_closed():
    prover = ScriptedProver(SCRIPT, {"t": "A"})
    result = await prove_theorem(THM, prover, ScriptedProposer(TABLE), SearchConfig())
    assert result.status is SearchStatus.PROVED
    assert result.verification.verdict is Verdict.ACCEPTED
    assert "  a\n  b" in result.verification.checked_text
    assert all(s.closed for s in prover.sessions)


async def test_rejected_proof_is_not_counted():
    prover = ScriptedProver(SCRIPT, {"t": "A"}, reject=["t"])
    result = await prove_theorem(THM, prover, ScriptedProposer(TABLE), SearchConfig())
    assert result.status is SearchStatus.REJECTED
    assert not result.proved
    assert result.verification.reason == "rejected by the test script"
    assert result.to_record()["proved"] is False


async def test_unknown_theorem_is_an_error_result():
    prover = ScriptedProver(SCRIPT, {})
    result = await prove_theorem(THM, prover, ScriptedProposer(TABLE), SearchConfig())
    assert result.status is SearchStatus.ERROR
    assert "not in the script" in result.error


def test_verified_concrete_tactics_replace_the_searched_ones():
    from llemma_prove.search import SearchResult
    from llemma_prove.types import Proof, Verification

    found = SearchResult("t", SearchStatus.PROVED, proof=Proof(("intro x", "normalhammer")))
    checked = Verification(Verdict.ACCEPTED, details={"tactics": ["intro x", "by (simp add: foo)"]})
    assert found.with_verification(checked).proof == Proof(("intro x", "by (simp add: foo)"))
    rejected = Verification(Verdict.REJECTED, "x", details={"tactics": ["intro x", "by simp"]})
    assert found.with_verification(rejected).proof == found.proof
