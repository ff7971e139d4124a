"""Where the Isabelle next-step prompt lives, and a proposer wrapper that adds the hammer as a candidate.

The prompt (`llemma_prove/proposers/templates/isabelle_next_step.json`, loaded by
`proposers.default_isabelle_template()`) has the shape of the LLEMMA Lean 4 prompt file
(`description`, `template`, `placeholder`, `examples` with `tactic_state` / `next_tactic`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Sequence

from ...interfaces import Proposer
from ...types import Candidate, ProposalRequest, SamplingParams
from .hammer import HAMMER, is_hammer_step

ISABELLE_PROMPT_FILE = "isabelle_next_step.json"


def isabelle_prompt_path() -> Path:
    """Path of the packaged few-shot next-step prompt for Isabelle."""
    return Path(str(resources.files("llemma_prove.proposers.templates").joinpath(ISABELLE_PROMPT_FILE)))


class HammerCandidates:
    """A `Proposer` that adds `normalhammer` to every candidate list (once, with a fixed score).

    The session runs a hammer step as DSP does (heuristic tactics, then Sledgehammer) and records
    the tactic that worked, so the hammer is just one more candidate for the search to rank.
    """

    def __init__(self, inner: Proposer, score: float = -1.0, step: str = HAMMER) -> None:
        self.inner = inner
        self.score = score
        self.step = step

    async def propose(self, requests: Sequence[ProposalRequest], params: SamplingParams) -> list[list[Candidate]]:
        groups = await self.inner.propose(requests, params)
        out = []
        for group in groups:
            group = list(group)
            if not any(is_hammer_step(c.tactic) for c in group):
                group.append(Candidate(self.step, self.score))
            out.append(group)
        return out

    async def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            await close()
