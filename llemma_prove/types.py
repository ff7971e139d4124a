"""Plain values that travel between the CLI, the search, the provers, the proposers and the store.

Everything here is a frozen dataclass or an enum so that results can be compared, hashed, logged and
written to JSON without surprises. Nothing here knows about Lean, Isabelle or any model.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Language(str, enum.Enum):
    LEAN4 = "lean4"
    ISABELLE = "isabelle"


@dataclass(frozen=True)
class Theorem:
    """One benchmark (or user) theorem, exactly as its source wrote it.

    `statement` is kept byte for byte: the final check compares the proved statement against it.
    `preamble` holds commands that must run between the header and the statement (definitions and
    lemmas earlier in a user's file); it is empty for benchmark problems.
    """

    name: str
    statement: str
    header: str = ""
    split: str = ""
    statement_set: str = ""
    language: Language = Language.LEAN4
    preamble: str = ""
    informal_statement: str | None = None
    informal_proof: str | None = None
    source: str | None = None

    @property
    def family(self) -> str:
        return problem_family(self.name)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["language"] = self.language.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Theorem":
        data = dict(data)
        data["language"] = Language(data.get("language", Language.LEAN4.value))
        return cls(**data)


FAMILIES = ("mathd algebra", "mathd number theory", "amc", "aime", "imo", "induction", "other")


def problem_family(name: str) -> str:
    """miniF2F problem family from the naming convention (`mathd_algebra_478`, `amc12a_2020_p10`, ...)."""
    lowered = name.lower()
    if lowered.startswith("mathd_algebra"):
        return "mathd algebra"
    if lowered.startswith("mathd_numbertheory"):
        return "mathd number theory"
    if lowered.startswith("amc"):
        return "amc"
    if lowered.startswith("aime"):
        return "aime"
    if lowered.startswith("imo"):
        return "imo"
    if lowered.startswith("induction"):
        return "induction"
    return "other"


@dataclass(frozen=True)
class GoalState:
    """A proof state as the model sees it, plus the prover's private handle to it.

    Two states are the same search node exactly when their `text` is equal; the handle (a REPL proof
    state id, a PISA state name) is the prover's business and takes no part in equality.
    """

    text: str
    handle: Any = field(default=None, compare=False, hash=False)

    @property
    def is_solved(self) -> bool:
        return self.text.strip() in ("", "no goals")


class OutcomeKind(str, enum.Enum):
    GOALS = "goals"  # the step succeeded and left open goals
    PROVED = "proved"  # the step closed every goal (still subject to the final check)
    ERROR = "error"  # the prover rejected the step
    TIMEOUT = "timeout"  # the step ran past its time limit


@dataclass(frozen=True)
class StepOutcome:
    kind: OutcomeKind
    state: GoalState | None = None
    message: str = ""
    elapsed_s: float = 0.0
    # GOALS only: the step left goals but put a `sorry` into the proof. Nothing built on it can pass
    # the final check; the paper's harness still queued such states, the search may prune them.
    introduces_sorry: bool = False
    # ERROR only: the prover process died on this step. The paper's harness ended the theorem then;
    # the search may instead let the prover restart and replay.
    crashed: bool = False

    @classmethod
    def goals(
        cls, state: GoalState, elapsed_s: float = 0.0, message: str = "", introduces_sorry: bool = False
    ) -> "StepOutcome":
        return cls(OutcomeKind.GOALS, state, message, elapsed_s, introduces_sorry=introduces_sorry)

    @classmethod
    def proved(cls, elapsed_s: float = 0.0, message: str = "") -> "StepOutcome":
        return cls(OutcomeKind.PROVED, None, message, elapsed_s)

    @classmethod
    def error(cls, message: str, elapsed_s: float = 0.0, crashed: bool = False) -> "StepOutcome":
        return cls(OutcomeKind.ERROR, None, message, elapsed_s, crashed=crashed)

    @classmethod
    def timeout(cls, message: str = "step timed out", elapsed_s: float = 0.0) -> "StepOutcome":
        return cls(OutcomeKind.TIMEOUT, None, message, elapsed_s)


@dataclass(frozen=True)
class Proof:
    """A finished proof: the tactic (or Isabelle step) sequence from the theorem's root."""

    tactics: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"tactics": list(self.tactics)}


class Verdict(str, enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNCHECKED = "unchecked"  # the prover could not run the check (crash, time limit)


@dataclass(frozen=True)
class Verification:
    """Result of checking a proof from scratch. Only ACCEPTED counts as proved."""

    verdict: Verdict
    reason: str = ""
    checked_text: str = ""
    elapsed_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "checked_text": self.checked_text,
            "elapsed_s": round(self.elapsed_s, 4),
            "details": self.details,
        }


class DecodingMethod(str, enum.Enum):
    BEAM = "beam"
    SAMPLE = "sample"
    GREEDY = "greedy"


@dataclass(frozen=True)
class SamplingParams:
    """How to decode; one value passed to one `generate` call over many prompts."""

    n: int = 32
    method: DecodingMethod = DecodingMethod.BEAM
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ("---",)
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be at least 1, got {self.n}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature < 0.0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["method"] = self.method.value
        data["stop"] = list(self.stop)
        return data


@dataclass(frozen=True)
class Completion:
    """One generated continuation with its real log-probability."""

    text: str
    logprob_sum: float
    num_tokens: int

    @property
    def mean_logprob(self) -> float:
        return self.logprob_sum / max(self.num_tokens, 1)


@dataclass(frozen=True)
class Candidate:
    """A proposed next step and the score the search ranks it by (mean token log-prob)."""

    tactic: str
    score: float
    logprob_sum: float = 0.0
    num_tokens: int = 0


@dataclass(frozen=True)
class ProposalRequest:
    """Ask for next steps at one goal state of one theorem."""

    theorem: Theorem
    state: GoalState
    steps_so_far: tuple[str, ...] = ()


class SearchStatus(str, enum.Enum):
    PROVED = "proved"  # a proof was found and passed the final check
    REJECTED = "rejected"  # a proof was found but the final check refused it
    EXHAUSTED = "exhausted"  # the queue ran empty
    BUDGET = "budget"  # the expansion budget ran out
    TIMEOUT = "timeout"  # the wall-clock limit for the theorem ran out
    ERROR = "error"  # the prover could not start the theorem or crashed for good

    @property
    def is_proved(self) -> bool:
        return self is SearchStatus.PROVED


@dataclass(frozen=True)
class HealthCheck:
    """One line of `llemma-prove doctor`: what was checked, whether it is fine, and what to do if not."""

    name: str
    ok: bool
    detail: str = ""
    advice: str = ""
    required: bool = True
