"""Next-tactic proposals: goal states in, scored tactic candidates out, through any `LanguageModel`.

Faithful to the paper's harness: the candidate text is the completion up to the stop string with the
EOS token's text removed, not stripped and not deduplicated (the search decides about that), and the
score is the mean token log-prob. Candidates keep the model's order.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from ..errors import ProposerError
from ..interfaces import LanguageModel
from ..types import Candidate, Completion, ProposalRequest, SamplingParams
from .prompts import PromptTemplate

LLAMA_EOS = "</s>"


class TacticProposer:
    """A `Proposer` that renders each state into `template` and asks `model` for all of them at once."""

    def __init__(self, model: LanguageModel, template: PromptTemplate, eos_text: str | None = None) -> None:
        self.model = model
        self.template = template
        self.eos_text = eos_text if eos_text is not None else (getattr(model, "eos_token", None) or LLAMA_EOS)
        declare = getattr(model, "declare_prefix", None)  # models that can reuse the few-shot prefix's KV cache
        if callable(declare):
            declare(template.prefix)

    def prompt(self, request: ProposalRequest) -> str:
        return self.template.render(request.state.text)

    async def propose(self, requests: Sequence[ProposalRequest], params: SamplingParams) -> list[list[Candidate]]:
        if not requests:
            return []
        stop = tuple(dict.fromkeys(params.stop + self.template.stop))
        if stop != params.stop:
            params = replace(params, stop=stop)
        prompts = [self.prompt(r) for r in requests]
        groups = await self.model.generate(prompts, params)
        if len(groups) != len(requests):
            raise ProposerError(f"model {self.model.name} answered {len(groups)} prompts, {len(requests)} were sent")
        return [[self.candidate(c) for c in group] for group in groups]

    def candidate(self, completion: Completion) -> Candidate:
        text = self.template.extract(completion.text, strip=False)
        if self.eos_text:
            text = text.replace(self.eos_text, "")
        return Candidate(
            tactic=text,
            score=completion.mean_logprob,
            logprob_sum=completion.logprob_sum,
            num_tokens=completion.num_tokens,
        )

    async def close(self) -> None:
        await self.model.close()
