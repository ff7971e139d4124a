"""Search configuration. The defaults are the LLEMMA paper's harness; every improvement is opt-in."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..types import DecodingMethod, SamplingParams


class Priority(str, enum.Enum):
    SUM_LOGPROB = "sum"  # paper: sum of candidate scores (mean token log-probs) along the path
    DEPTH_NORMALISED = "depth-normalised"  # that sum divided by the path length


def paper_sampling() -> SamplingParams:
    """32 beams, up to 256 new tokens, stop at `---` (llemma_formal2formal's proofsearch.py)."""
    return SamplingParams(n=32, method=DecodingMethod.BEAM, max_new_tokens=256, stop=("---",))


@dataclass(frozen=True)
class SearchConfig:
    max_expansions: int = 100
    sampling: SamplingParams = field(default_factory=paper_sampling)
    time_limit_s: float = 600.0
    # Improvements (all off by default, so the default reproduces the paper):
    merge_duplicate_states: bool = False  # identical states share one node, never queued twice
    clean_candidates: bool = False  # strip, drop empty, dedup after stripping
    priority: Priority = Priority.SUM_LOGPROB
    exclude_model_wait: bool = False  # time spent waiting for a shared model does not count
    # Candidates of one expansion checked at once (search/concurrent.py): 1 = one after another (paper);
    # 0 = as many as the prover session runs in parallel (its `parallelism`, 1 if it names none).
    parallel_checks: int = 1

    def __post_init__(self) -> None:
        if self.max_expansions < 1:
            raise ValueError(f"max_expansions must be at least 1, got {self.max_expansions}")
        if self.parallel_checks < 0:
            raise ValueError(f"parallel_checks must be 0 (the prover's parallelism) or more, got {self.parallel_checks}")
        if not self.time_limit_s > 0:
            raise ValueError(f"time limit must be positive, got {self.time_limit_s}")

    @classmethod
    def paper(cls) -> "SearchConfig":
        return cls()

    @classmethod
    def improved(cls, **overrides: Any) -> "SearchConfig":
        """All improvements on; the budget (expansions, candidates, time) stays the paper's."""
        base = cls(
            merge_duplicate_states=True,
            clean_candidates=True,
            exclude_model_wait=True,
            parallel_checks=0,
        )
        return replace(base, **overrides)

    @property
    def is_paper_setting(self) -> bool:
        return self == SearchConfig.paper()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sampling"] = self.sampling.to_json()
        data["priority"] = self.priority.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SearchConfig":
        data = dict(data)
        sampling = dict(data.pop("sampling"))
        sampling["method"] = DecodingMethod(sampling["method"])
        sampling["stop"] = tuple(sampling["stop"])
        data["priority"] = Priority(data["priority"])
        return cls(sampling=SamplingParams(**sampling), **data)
