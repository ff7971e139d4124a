"""Informal to formal: statement autoformalization and Draft, Sketch, Prove, for Lean 4 and Isabelle.

- `problems`: the input (a JSONL of informal problems, or miniF2F's informal statements and proofs);
- `prompts` / `selection`: few-shot prompts (the project's own, DSP's, Llemma's) and the leak rules;
- `statement`: candidates checked for well-formedness, exact match and BEq-style proved equivalence;
- `holes` / `dsp`: sketches with holes, closed by automation, assembled and checked from scratch;
- `oracles`: accepted proofs that rest on an oracle (`by eval`), rejected or counted apart;
- `paper`: LLEMMA's and DSP's settings, their prompts fetched at pinned commits;
- `protocols`: the prover capability DSP needs (`SketchProver`), implemented in `provers/*/sketch.py`;
- `run` / `store` / `report`: run directories with resume, one line per problem, per-family tables.
"""

from .config import AutoformalizeConfig, Mode, Paper, Parts
from .dsp import DspOutcome, DspVerdict, draft_sketch_prove
from .holes import Hole, Sketch, parse_sketch
from .problems import InformalProblem, load_problems
from .prompts import PromptSet, default_prompts, load_prompts
from .protocols import HammerFound, HammerSession, HoleGoal, SketchProver, SketchSession
from .run import RunResult, run_autoformalize
from .selection import PromptLeak, select
from .statement import DirectionStatus, Equivalence, StatementOutcome, autoformalize_statement
from .target import Target, target_for

__all__ = [
    "AutoformalizeConfig",
    "DirectionStatus",
    "DspOutcome",
    "DspVerdict",
    "Equivalence",
    "HammerFound",
    "HammerSession",
    "Hole",
    "HoleGoal",
    "InformalProblem",
    "Mode",
    "Paper",
    "Parts",
    "PromptLeak",
    "PromptSet",
    "RunResult",
    "Sketch",
    "SketchProver",
    "SketchSession",
    "StatementOutcome",
    "Target",
    "autoformalize_statement",
    "default_prompts",
    "draft_sketch_prove",
    "load_problems",
    "load_prompts",
    "parse_sketch",
    "run_autoformalize",
    "select",
    "target_for",
]
