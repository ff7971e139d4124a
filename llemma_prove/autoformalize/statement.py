"""Statement autoformalization: informal statement in, checked formal statements out.

Each candidate is checked for well-formedness by the prover (`StatementChecker.check_statement`),
compared with the reference statement after normalisation, and, when it is well formed but not an
exact match, tried for equivalence with the reference: `candidate → reference` and
`reference → candidate` are each given to a few automation tactics in a prover session, and a
direction counts only when its proof passes `Prover.verify` from scratch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from ..errors import ProverError, UserError
from ..interfaces import Prover, StatementChecker
from ..types import OutcomeKind, Proof, Theorem
from .config import AutoformalizeConfig, Parts
from .problems import InformalProblem
from .prompts import cut, statement_prompt
from .selection import examples_for
from .target import problem_theorem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectionResult:
    proved: bool
    tactic: str | None = None
    message: str = ""


@dataclass(frozen=True)
class CandidateResult:
    text: str
    mean_logprob: float
    well_formed: bool
    check_message: str = ""
    exact_match: bool | None = None  # None: no reference statement
    equivalent: bool | None = None  # None: not attempted (no reference, not well formed, or switched off)
    forward: DirectionResult | None = None  # candidate → reference
    backward: DirectionResult | None = None  # reference → candidate

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean_logprob"] = round(self.mean_logprob, 6)
        return data


@dataclass(frozen=True)
class StatementOutcome:
    candidates: tuple[CandidateResult, ...]
    reference: str | None
    prompt_examples: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def well_formed_first(self) -> bool:
        return bool(self.candidates) and self.candidates[0].well_formed

    @property
    def well_formed_any(self) -> bool:
        return any(c.well_formed for c in self.candidates)

    @property
    def exact_any(self) -> bool | None:
        if self.reference is None:
            return None
        return any(bool(c.exact_match) for c in self.candidates)

    @property
    def equivalent_any(self) -> bool | None:
        if self.reference is None:
            return None
        return any(bool(c.equivalent) for c in self.candidates)

    def best(self) -> CandidateResult | None:
        """The candidate to carry on with: equivalent, else exact, else well formed, in model order."""
        for test in (lambda c: c.equivalent, lambda c: c.exact_match, lambda c: c.well_formed):
            for cand in self.candidates:
                if test(cand):
                    return cand
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "prompt_examples": list(self.prompt_examples),
            "candidates": [c.to_json() for c in self.candidates],
            "well_formed_first": self.well_formed_first,
            "well_formed_any": self.well_formed_any,
            "exact_any": self.exact_any,
            "equivalent_any": self.equivalent_any,
            "elapsed_s": round(self.elapsed_s, 4),
            "notes": list(self.notes),
        }


def statement_checker(prover: Prover) -> StatementChecker:
    if not isinstance(prover, StatementChecker):
        raise UserError(f"the prover {getattr(prover, 'name', prover)!r} cannot check statements")
    return prover


async def generate_statements(problem: InformalProblem, config: AutoformalizeConfig, parts: Parts) -> tuple[list[tuple[str, float]], tuple[str, ...]]:
    """(candidate statement, mean log-prob) pairs in model order, and the example names used."""
    examples = examples_for(problem, parts.prompts, config.max_examples)
    stub = parts.target.statement_stub(problem.name)
    prompt = statement_prompt(parts.prompts, examples, problem.informal_statement, stub)
    stops = parts.prompts.format.statement_stop
    params = config.sampling(config.candidates, config.statement_tokens, stops)
    (completions,) = await parts.model.generate([prompt], params)
    out = []
    for completion in completions:
        text = parts.target.clean_statement(stub + cut(completion.text, stops))
        out.append((text, completion.mean_logprob))
    return out, tuple(e.name for e in examples)


async def prove_direction(prover: Prover, theorem: Theorem, tactics: Sequence[str]) -> DirectionResult:
    """Try each tactic on `theorem`; the first that the session says proves it and `verify` accepts wins."""
    try:
        session = await prover.open(theorem)
    except ProverError as exc:
        return DirectionResult(False, None, f"could not open: {exc}")
    last = refused = ""
    try:
        root = await session.initial_state()
        for tactic in tactics:
            outcome = await session.step(root, tactic)
            if outcome.kind is not OutcomeKind.PROVED:
                last = outcome.message
                continue
            verification = await prover.verify(theorem, Proof((tactic,)))
            if verification.accepted:
                return DirectionResult(True, tactic)
            refused = f"{tactic}: final check refused ({verification.reason})"
    except ProverError as exc:
        return DirectionResult(False, None, f"prover failed: {exc}")
    finally:
        try:
            await session.close()
        except ProverError as exc:
            log.warning("closing an equivalence session failed: %s", exc)
    return DirectionResult(False, None, (refused or last)[:300])


async def check_candidate(
    problem: InformalProblem, text: str, logprob: float, config: AutoformalizeConfig, parts: Parts, index: int
) -> CandidateResult:
    target = parts.target
    checker = statement_checker(parts.prover)
    rest = text.strip().removeprefix(target.statement_stub(problem.name)).strip()
    if rest.removesuffix("sorry").strip().removesuffix("by").strip().removesuffix(":=").strip() == "":
        return CandidateResult(text, logprob, False, "the model wrote no statement")
    theorem = problem_theorem(target, problem, text)
    try:
        verification = await checker.check_statement(theorem)
    except ProverError as exc:
        return CandidateResult(text, logprob, False, f"check failed: {exc}")
    if not verification.accepted:
        return CandidateResult(text, logprob, False, verification.reason[:500])
    reference = problem.formal_statement
    if reference is None:
        return CandidateResult(text, logprob, True)
    exact = target.normalise(text) == target.normalise(reference)
    if exact:
        # Identical up to names, labels and spacing: the same proposition, nothing to prove.
        return CandidateResult(text, logprob, True, exact_match=True, equivalent=True)
    if not config.check_equivalence:
        return CandidateResult(text, logprob, True, exact_match=False)
    pair = target.equivalence_statements(f"{problem.name}_c{index}", text, reference)
    if pair is None:
        return CandidateResult(text, logprob, True, "could not restate as a proposition", exact_match=False,
                               equivalent=False)
    forward_text, backward_text = pair
    forward = await prove_direction(
        parts.prover, problem_theorem(target, problem, forward_text, f"{problem.name}_c{index}_cand_imp_ref"),
        target.equivalence_tactics,
    )
    backward = DirectionResult(False, None, "not tried: the other direction failed")
    if forward.proved:
        backward = await prove_direction(
            parts.prover, problem_theorem(target, problem, backward_text, f"{problem.name}_c{index}_ref_imp_cand"),
            target.equivalence_tactics,
        )
    return CandidateResult(text, logprob, True, exact_match=False, equivalent=forward.proved and backward.proved,
                           forward=forward, backward=backward)


async def autoformalize_statement(problem: InformalProblem, config: AutoformalizeConfig, parts: Parts) -> StatementOutcome:
    start = time.monotonic()
    generated, example_names = await generate_statements(problem, config, parts)
    results: list[CandidateResult] = []
    seen: dict[str, CandidateResult] = {}
    for index, (text, logprob) in enumerate(generated):
        if text in seen:  # the same statement twice is checked once
            prior = seen[text]
            results.append(CandidateResult(**{**prior.__dict__, "mean_logprob": logprob}))
            continue
        result = await check_candidate(problem, text, logprob, config, parts, index)
        seen[text] = result
        results.append(result)
    return StatementOutcome(tuple(results), problem.formal_statement, example_names, time.monotonic() - start)

