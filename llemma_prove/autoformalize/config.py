"""Settings of an autoformalization run and the parts it runs on."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

from ..interfaces import LanguageModel, Proposer, Prover
from ..search import SearchConfig
from ..types import DecodingMethod, Language, SamplingParams
from .prompts import PromptSet
from .protocols import SketchProver
from .target import Target


class Mode(str, enum.Enum):
    STATEMENT = "statement"
    DSP = "dsp"


class Paper(str, enum.Enum):
    """A published setting reproduced point by point (see `autoformalize.paper`)."""

    NONE = "none"
    LLEMMA = "llemma"  # LLEMMA's Isabelle informal-to-formal evaluation (lm-evaluation-harness)
    DSP = "dsp"  # Draft, Sketch, Prove's prompt sampling (draft_sketch_prove)


@dataclass(frozen=True)
class AutoformalizeConfig:
    """Everything that decides a run's results (stored in the run directory's config)."""

    target: Language
    mode: Mode
    model: str = ""  # the model id: part of the run's identity, carried by every record
    model_backend: str = ""
    input_sha256: str = ""  # of the problems the run draws from (the input file, or the statement set's split)
    candidates: int = 1  # statement mode: candidates per problem
    sketches: int = 1  # DSP: sketches per problem (1 = greedy, the paper's setting)
    temperature: float = 0.8  # used when more than one sample is drawn
    statement_tokens: int = 256
    draft_tokens: int = 512
    sketch_tokens: int = 1024
    check_equivalence: bool = True
    always_draft: bool = False  # DSP: draft an informal proof with the model even where one is given
    # DSP: autoformalize the statement even where a reference exists (its proof then counts only if the
    # statement is proved equivalent to the reference)
    formalize_statement: bool = False
    hole_search: bool = True  # Lean: best-first search on holes that the tactic list leaves open
    hole_search_expansions: int = 8
    hole_search_candidates: int = 8
    hole_search_time_s: float = 60.0
    hammer_timeout_s: float = 60.0
    max_examples: int | None = None
    prompt_source: str = "default"
    seed: int | None = None
    # Equivalence (BEq-style): tactics tried on each direction (empty: the target's list) and the time
    # limit of one direction (its check without the hypothesis and its proof together).
    equivalence_tactics: tuple[str, ...] = ()
    equivalence_timeout_s: float = 120.0
    # Proofs that rest on an oracle (Isabelle `eval`, `normalization`, `smt_oracle`) are rejected unless
    # this is set (only the paper modes set it, as their checkers tried `by eval`); then they are counted
    # in a column of their own, never as proved.
    allow_oracles: bool = False
    paper: Paper = Paper.NONE
    prompt_sha256: str = ""  # of the prompt data the run used
    # DSP's prompt sampling (paper dsp): examples drawn per attempt, seed, and the prompt-length guard
    # (characters of examples + informal statement + informal proof, as DSP measured it).
    dsp_examples: int = 3
    prompt_seed: int = 213
    max_prompt_chars: int | None = None

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError(f"--candidates must be at least 1, got {self.candidates}")
        if self.sketches < 1:
            raise ValueError(f"--sketches must be at least 1, got {self.sketches}")
        if not self.equivalence_timeout_s > 0:
            raise ValueError(f"--equivalence-timeout must be positive, got {self.equivalence_timeout_s:g}")

    def sampling(self, n: int, max_new_tokens: int, stop: tuple[str, ...]) -> SamplingParams:
        """Greedy for one sample (the paper's setting), sampling at `temperature` for more."""
        if n == 1:
            return SamplingParams(n=1, method=DecodingMethod.GREEDY, temperature=0.0,
                                  max_new_tokens=max_new_tokens, stop=stop, seed=self.seed)
        return SamplingParams(n=n, method=DecodingMethod.SAMPLE, temperature=self.temperature,
                              max_new_tokens=max_new_tokens, stop=stop, seed=self.seed)

    def hole_tokens(self, language: Language) -> tuple[str, ...] | None:
        """The words that mark a hole in a sketch (None: the language's default). LLEMMA's checker turned
        `sledgehammer`, `normalhammer` and a model-written `sorry` all into a hammer call."""
        if self.paper is Paper.LLEMMA and language is Language.ISABELLE:
            from .paper import LLEMMA_HOLE_WORDS

            return LLEMMA_HOLE_WORDS
        return None

    def hole_search_config(self) -> SearchConfig:
        sampling = SamplingParams(n=self.hole_search_candidates, method=DecodingMethod.BEAM, max_new_tokens=128,
                                  stop=("---",))
        return SearchConfig.improved(max_expansions=self.hole_search_expansions, sampling=sampling,
                                     time_limit_s=self.hole_search_time_s)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target"] = self.target.value
        data["mode"] = self.mode.value
        data["paper"] = self.paper.value
        data["equivalence_tactics"] = list(self.equivalence_tactics)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AutoformalizeConfig":
        data = dict(data)
        data["target"] = Language(data["target"])
        data["mode"] = Mode(data["mode"])
        data["paper"] = Paper(data.get("paper") or Paper.NONE.value)
        data["equivalence_tactics"] = tuple(data.get("equivalence_tactics") or ())
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Parts:
    """The live objects a run uses. `sketcher` is needed for DSP, `proposer` for Lean hole search."""

    model: LanguageModel
    prover: Prover
    target: Target
    prompts: PromptSet
    sketcher: SketchProver | None = None
    proposer: Proposer | None = None
