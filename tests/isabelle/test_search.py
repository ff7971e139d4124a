"""Best-first search in Isabelle (fake PISA), with the hammer as a candidate, and the final check."""

from __future__ import annotations

import pytest

from llemma_prove.proposers.prompts import PromptTemplate
from llemma_prove.provers.isabelle.prompt import HammerCandidates, isabelle_prompt_path
from llemma_prove.search import SearchConfig, prove_theorem
from llemma_prove.types import GoalState, ProposalRequest, SamplingParams, SearchStatus
from tests.doubles.fake_pisa import closes, goes_to, step_error
from tests.doubles.scripted import ScriptedProposer

from .conftest import ROOT_STATE, prover_on_fake, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

USING = "proof (prove)\nusing this:\n  x + 3 = 7\ngoal (1 subgoal):\n 1. x = 4"


def test_isabelle_prompt_file_loads_with_the_projects_prompt_loader() -> None:
    template = PromptTemplate.load(isabelle_prompt_path())
    assert template.stop == ("---",) and len(template.examples) >= 3
    prompt = template.render(ROOT_STATE)
    assert prompt.startswith("Given the Isabelle proof state, suggest a next proof step.")
    assert prompt.endswith(f"Proof state:\n---\n{ROOT_STATE}\n---\nNext step:\n---")
    assert template.extract(" using assms by simp\n---\nProof state:") == "using assms by simp"


async def test_hammer_candidates_are_added_once() -> None:
    inner = ScriptedProposer({ROOT_STATE: [("by simp", -0.1)], "other": [("normalhammer", -0.2)]})
    proposer = HammerCandidates(inner, score=-5.0)
    params = SamplingParams(n=4)
    groups = await proposer.propose(
        [ProposalRequest(toy_theorem(), GoalState(ROOT_STATE)), ProposalRequest(toy_theorem(), GoalState("other"))], params
    )
    assert [c.tactic for c in groups[0]] == ["by simp", "normalhammer"]
    assert [c.tactic for c in groups[1]] == ["normalhammer"]


async def test_search_finds_and_checks_a_proof_through_the_hammer(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "by auto", step_error("Failed to finish proof"))  # model's first idea, and hammer's first heuristic
    script.add(ROOT_STATE, "using h0", goes_to(USING))
    script.add(USING, "by simp", closes())  # found by the hammer's heuristics
    proposer = HammerCandidates(
        ScriptedProposer({ROOT_STATE: [("by auto", -0.1), ("using h0", -0.5)], USING: [("by force", -0.3)]}),
        score=-2.0,
    )
    config = SearchConfig(max_expansions=10, sampling=SamplingParams(n=4), time_limit_s=30.0)
    async with prover_on_fake(script, context_files) as (prover, fake):
        theorem = toy_theorem()
        result = await prove_theorem(theorem, prover, proposer, config)
        assert result.status is SearchStatus.PROVED, (result.status, result.error, result.verification)
        # The search ran the hammer; the recorded proof holds the tactic the hammer found.
        assert result.graph.has_edge(*next((u, v) for u, v, d in result.graph.edges(data=True)
                                           if d["tactic"] == "normalhammer" and d["outcome"] == "proved"))
        assert result.proof is not None and result.proof.tactics == ("using h0", "by simp")
        assert result.verification is not None and result.verification.accepted
        assert result.verification.details["tactics"] == ["using h0", "by simp"]
        assert prover.resolve(theorem, result.proof).tactics == ("using h0", "by simp")
        assert "normalhammer" not in prover.render(theorem, result.proof)
        assert set(fake.states) == {"default"}  # the session and the check left nothing behind


async def test_search_without_a_proof_is_exhausted_and_nothing_is_claimed(context_files) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "using h0", goes_to(USING))
    proposer = ScriptedProposer({ROOT_STATE: [("using h0", -0.1), ("sorry", -0.2)], USING: [("oops", -0.1)]})
    config = SearchConfig(max_expansions=10, sampling=SamplingParams(n=4), time_limit_s=30.0)
    async with prover_on_fake(script, context_files) as (prover, fake):
        result = await prove_theorem(toy_theorem(), prover, proposer, config)
        assert result.status is SearchStatus.EXHAUSTED and result.proof is None
