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


IMPROVED_STEP_LIMIT_S = 60.0

# Each improvement's user-facing name (the CLI flag without dashes), in the order they are listed.
IMPROVEMENT_NAMES = {
    "merge_duplicate_states": "merge-states",
    "clean_candidates": "clean-candidates",
    "priority": "priority",
    "exclude_model_wait": "exclude-model-wait",
    "prune_sorry": "prune-sorry",
    "replay_after_crash": "replay-after-crash",
    "step_time_limit_s": "step-time-limit",
    "parallel_checks": "parallel-checks",
}


def _text(value: Any) -> str:
    return value.value if isinstance(value, enum.Enum) else f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class SearchConfig:
    max_expansions: int = 100
    sampling: SamplingParams = field(default_factory=paper_sampling)
    time_limit_s: float = 600.0
    # Improvements (all off by default, so the default reproduces the paper):
    merge_duplicate_states: bool = False  # identical states share one node, never queued twice
    clean_candidates: bool = False  # strip, drop empty, dedup after stripping
    priority: Priority = Priority.SUM_LOGPROB
    exclude_model_wait: bool = False  # generation time (not only queueing for the model) does not count
    prune_sorry: bool = False  # a step that leaves goals but uses `sorry` is dropped (paper: queued)
    replay_after_crash: bool = False  # a prover crash costs a replay, not the theorem (paper: theorem ends)
    # Per-tactic limit in seconds. None is the paper's: no limit of its own, only the theorem's clock.
    step_time_limit_s: float | None = None
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
        if self.step_time_limit_s is not None and not self.step_time_limit_s > 0:
            raise ValueError(f"step time limit must be positive, got {self.step_time_limit_s}")

    @classmethod
    def paper(cls) -> "SearchConfig":
        return cls()

    @classmethod
    def improved(cls, **overrides: Any) -> "SearchConfig":
        """All improvements on; the budget (expansions, candidates, time) stays the paper's."""
        base = cls(
            merge_duplicate_states=True,
            clean_candidates=True,
            priority=Priority.DEPTH_NORMALISED,
            exclude_model_wait=True,
            prune_sorry=True,
            replay_after_crash=True,
            step_time_limit_s=IMPROVED_STEP_LIMIT_S,
            parallel_checks=0,
        )
        return replace(base, **overrides)

    @property
    def is_paper_setting(self) -> bool:
        return not self.paper_differences()

    def paper_differences(self) -> list[str]:
        """Each setting, by name, whose value is not the harness's (empty: this is the paper's search)."""
        paper = SearchConfig.paper()
        out = []
        if self.max_expansions != paper.max_expansions:
            out.append(f"expansions {self.max_expansions} (paper {paper.max_expansions})")
        if self.time_limit_s != paper.time_limit_s:
            out.append(f"time limit {self.time_limit_s:g} s (paper {paper.time_limit_s:g} s)")
        mine, theirs = self.sampling, paper.sampling
        if mine.n != theirs.n:
            out.append(f"candidates {mine.n} (paper {theirs.n})")
        if (mine.method, mine.temperature, mine.top_p) != (theirs.method, theirs.temperature, theirs.top_p):
            out.append(f"decoding {mine.method.value} (paper {theirs.method.value})")
        if mine.max_new_tokens != theirs.max_new_tokens:
            out.append(f"max new tokens {mine.max_new_tokens} (paper {theirs.max_new_tokens})")
        if mine.stop != theirs.stop:
            out.append(f"stop {list(mine.stop)} (paper {list(theirs.stop)})")
        return out + self.improvements()

    def improvements(self) -> list[str]:
        """The improvements switched on, by their flag names (`priority=depth-normalised` for values)."""
        paper = SearchConfig.paper()
        out = []
        for name, label in IMPROVEMENT_NAMES.items():
            value = getattr(self, name)
            if value != getattr(paper, name):
                out.append(label if isinstance(value, bool) else f"{label}={_text(value)}")
        return out

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
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(sampling=SamplingParams(**sampling), **data)
