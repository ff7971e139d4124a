"""The next-tactic proposer: one model call for all states, paper-faithful candidates and scores."""

from __future__ import annotations

import pytest

from llemma_prove.interfaces import Proposer
from llemma_prove.proposers.prompts import PromptTemplate, default_lean4_template
from llemma_prove.proposers.tactic import TacticProposer
from llemma_prove.types import Completion, DecodingMethod, GoalState, ProposalRequest, SamplingParams, Theorem


class RecordingModel:
    """LanguageModel double: answers each prompt with fixed completions and records every call."""

    name = "recording"
    eos_token = "</s>"

    def __init__(self, answers: list[Completion]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[str], SamplingParams]] = []

    async def generate(self, prompts, params):
        self.calls.append((list(prompts), params))
        return [list(self.answers[: params.n]) for _ in prompts]

    async def close(self) -> None:
        pass


def requests(*states: str) -> list[ProposalRequest]:
    theorem = Theorem(name="t", statement="theorem t : True := by sorry")
    return [ProposalRequest(theorem, GoalState(s)) for s in states]


async def test_one_generate_call_for_all_requests_with_rendered_prompts():
    model = RecordingModel([Completion("\nsimp\n", -2.0, 4)])
    template = default_lean4_template()
    proposer = TacticProposer(model, template)
    assert isinstance(proposer, Proposer)
    params = SamplingParams(n=1, method=DecodingMethod.BEAM, stop=("---",))
    out = await proposer.propose(requests("⊢ a", "⊢ b", "⊢ c"), params)
    assert len(model.calls) == 1
    prompts, sent = model.calls[0]
    assert prompts == [template.render(s) for s in ("⊢ a", "⊢ b", "⊢ c")]
    assert sent == params
    assert [[c.tactic for c in group] for group in out] == [["\nsimp\n"]] * 3


async def test_candidates_keep_model_order_text_and_mean_logprob_score():
    answers = [
        Completion("\nnorm_num\n", -3.0, 6),
        Completion("\nlinarith</s>", -1.0, 2),  # EOS text removed, nothing else touched
        Completion("\nnorm_num\n", -4.0, 0),  # duplicates and zero-token answers are the search's business
        Completion("  simp at h\n---\nrest", -2.5, 5),  # text past a stop string is cut
    ]
    proposer = TacticProposer(RecordingModel(answers), default_lean4_template())
    (group,) = await proposer.propose(requests("⊢ x"), SamplingParams(n=4))
    assert [c.tactic for c in group] == ["\nnorm_num\n", "\nlinarith", "\nnorm_num\n", "  simp at h\n"]
    assert [c.score for c in group] == [-0.5, -0.5, -4.0, -0.5]
    assert [(c.logprob_sum, c.num_tokens) for c in group] == [(-3.0, 6), (-1.0, 2), (-4.0, 0), (-2.5, 5)]


async def test_the_templates_stop_strings_are_always_sent():
    model = RecordingModel([Completion("x", -1.0, 1)])
    template = PromptTemplate(template="S: %s\nT:", stop=("\n\n",))
    await TacticProposer(model, template).propose(requests("⊢ a"), SamplingParams(n=1, stop=("---",)))
    assert model.calls[0][1].stop == ("---", "\n\n")


async def test_no_requests_no_call():
    model = RecordingModel([])
    assert await TacticProposer(model, default_lean4_template()).propose([], SamplingParams()) == []
    assert model.calls == []


async def test_with_the_tiny_transformers_model(tiny_model):
    proposer = TacticProposer(tiny_model, default_lean4_template())
    states = ["x : ℝ\n⊢ x = x", "⊢ 1 + 1 = 2"]
    params = SamplingParams(n=3, method=DecodingMethod.BEAM, max_new_tokens=10)
    out = await proposer.propose(requests(*states), params)
    direct = await tiny_model.generate([default_lean4_template().render(s) for s in states], params)
    assert [len(g) for g in out] == [3, 3]
    for group, completions in zip(out, direct):
        for candidate, completion in zip(group, completions):
            assert candidate.tactic == completion.text
            assert candidate.score == pytest.approx(completion.logprob_sum / completion.num_tokens)
            assert "---" not in candidate.tactic
