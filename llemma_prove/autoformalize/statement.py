"""Statement autoformalization: informal statement in, checked formal statements out.

Each candidate is checked for well-formedness by the prover (`StatementChecker.check_statement`),
compared with the reference statement after normalisation, and, when it is well formed but not an
exact match, tried for equivalence with the reference in the sense of BEq (bidirectional extended
definitional equivalence, Liu et al., "Rethinking and improving autoformalization", ICLR 2025): each
direction `candidate → reference` and `reference → candidate` counts only when its proof uses the
other statement. Here that is tested by first trying to prove the target with the hypothesis
replaced by `True`; if that succeeds the direction does not count (so `True`, `False → ...` and
`n = n` are never equivalent to anything). Otherwise the implication must be proved by the tactic
list and pass `Prover.verify` from scratch. Both directions are always tried and recorded; a crash
or a time limit makes a direction "could not decide", never "not equivalent".
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from ..errors import ProverError, UserError
from ..interfaces import Prover, StatementChecker
from ..types import OutcomeKind, Proof, Theorem, Verdict
from .config import AutoformalizeConfig, Parts
from .problems import InformalProblem
from .prompts import cut, statement_prompt
from .selection import examples_for
from .target import problem_theorem

log = logging.getLogger(__name__)


class DirectionStatus(str, enum.Enum):
    """How one direction of an equivalence attempt ended."""

    PROVED = "proved"  # proved with the other statement as hypothesis, and the target alone was not: counts
    TARGET_ALONE = "target-alone"  # the target is provable without the hypothesis: the proof need not use it
    NOT_PROVED = "not-proved"  # every tactic failed (or the final check refused every proof)
    UNDECIDED = "could-not-decide"  # the prover crashed or ran out of time


class Equivalence(str, enum.Enum):
    """A candidate's equivalence with the reference statement."""

    EXACT = "exact"  # the same text up to names, labels and spacing
    EQUIVALENT = "equivalent"  # both directions proved, each using the other statement
    NOT_EQUIVALENT = "not-equivalent"  # a direction was not proved, or held without the other statement
    UNDECIDED = "could-not-decide"  # a crash or time limit kept a direction from being decided
    NOT_CHECKED = "not-checked"  # ill formed, no reference, or the check was switched off


@dataclass(frozen=True)
class DirectionResult:
    status: DirectionStatus
    tactic: str | None = None  # the tactic that proved it (with the hypothesis)
    message: str = ""
    alone_tactic: str | None = None  # the tactic that proved the target without the hypothesis

    @property
    def proved(self) -> bool:
        return self.status is DirectionStatus.PROVED

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "proved": self.proved, "tactic": self.tactic,
                "alone_tactic": self.alone_tactic, "message": self.message}


@dataclass(frozen=True)
class CandidateResult:
    text: str
    mean_logprob: float
    well_formed: bool
    check_message: str = ""
    exact_match: bool | None = None  # None: no reference statement
    equivalence: Equivalence = Equivalence.NOT_CHECKED
    forward: DirectionResult | None = None  # candidate → reference
    backward: DirectionResult | None = None  # reference → candidate

    @property
    def equivalent(self) -> bool | None:
        """True: exact or proved equivalent; False: decided otherwise or undecided; None: not checked."""
        if self.equivalence is Equivalence.NOT_CHECKED:
            return None
        return self.equivalence in (Equivalence.EXACT, Equivalence.EQUIVALENT)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "mean_logprob": round(self.mean_logprob, 6),
            "well_formed": self.well_formed,
            "check_message": self.check_message,
            "exact_match": self.exact_match,
            "equivalence": self.equivalence.value,
            "equivalent": self.equivalent,
            "forward": self.forward.to_json() if self.forward else None,
            "backward": self.backward.to_json() if self.backward else None,
        }


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

    @property
    def undecided_any(self) -> bool | None:
        if self.reference is None:
            return None
        return any(c.equivalence is Equivalence.UNDECIDED for c in self.candidates)

    def verdict(self) -> str:
        """The problem's outcome: equivalent | could-not-decide | not-equivalent | well-formed | ill-formed."""
        if self.equivalent_any:
            return "equivalent"
        if self.undecided_any:
            return "could-not-decide"
        if any(c.equivalence is Equivalence.NOT_EQUIVALENT for c in self.candidates):
            return "not-equivalent"
        return "well-formed" if self.well_formed_any else "ill-formed"

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
            "undecided_any": self.undecided_any,
            "verdict": self.verdict(),
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


async def _attempt(prover: Prover, theorem: Theorem, tactics: Sequence[str], final_check: bool) -> tuple[str, str | None, str]:
    """Try each tactic on `theorem`: ("proved", tactic, "") for the first the session proves (and, with
    `final_check`, `verify` accepts); else ("not-proved" | "undecided", None, last message). A step
    that times out, or a final check that could not run, leaves the attempt undecided."""
    try:
        session = await prover.open(theorem)
    except ProverError as exc:
        return "undecided", None, f"could not open: {exc}"
    last = refused = ""
    undecided = False
    try:
        root = await session.initial_state()
        for tactic in tactics:
            outcome = await session.step(root, tactic)
            if outcome.kind is OutcomeKind.TIMEOUT:
                undecided = True
                last = f"{tactic}: time limit ({outcome.message})"
                continue
            if outcome.kind is not OutcomeKind.PROVED:
                last = outcome.message
                continue
            if not final_check:
                return "proved", tactic, ""
            verification = await prover.verify(theorem, Proof((tactic,)))
            if verification.accepted:
                return "proved", tactic, ""
            if verification.verdict is Verdict.UNCHECKED:
                undecided = True
            refused = f"{tactic}: final check refused ({verification.reason})"
    except ProverError as exc:
        return "undecided", None, f"prover failed: {exc}"
    finally:
        try:
            await session.close()
        except ProverError as exc:
            log.warning("closing an equivalence session failed: %s", exc)
    return ("undecided" if undecided else "not-proved"), None, (refused or last)[:300]


async def prove_direction(
    prover: Prover, theorem: Theorem, alone: Theorem, tactics: Sequence[str], timeout_s: float
) -> DirectionResult:
    """One direction, BEq-style: it counts only if its proof needs the hypothesis.

    `alone` is the same implication with the hypothesis replaced by `True`, so the same tactics run on
    the same shape. If any of them proves it, the target holds without the other statement and the
    direction does not count (the session's word is enough to refuse; it is never enough to accept).
    Otherwise the implication itself must be proved and pass `Prover.verify` from scratch. A crash or
    the time limit `timeout_s` (for both attempts together) leaves the direction undecided.
    """

    async def run() -> DirectionResult:
        kind, tactic, message = await _attempt(prover, alone, tactics, final_check=False)
        if kind == "proved":
            return DirectionResult(DirectionStatus.TARGET_ALONE, None,
                                   f"the target holds without the hypothesis ({tactic})", alone_tactic=tactic)
        if kind == "undecided":
            return DirectionResult(DirectionStatus.UNDECIDED, None, f"the check without the hypothesis: {message}")
        kind, tactic, message = await _attempt(prover, theorem, tactics, final_check=True)
        status = {"proved": DirectionStatus.PROVED, "not-proved": DirectionStatus.NOT_PROVED,
                  "undecided": DirectionStatus.UNDECIDED}[kind]
        return DirectionResult(status, tactic, message)

    try:
        return await asyncio.wait_for(run(), timeout_s)
    except asyncio.TimeoutError:
        return DirectionResult(DirectionStatus.UNDECIDED, None, f"time limit of {timeout_s:g} s")


def combine(forward: DirectionResult, backward: DirectionResult) -> Equivalence:
    """Both directions proved: equivalent. A direction decided against: not equivalent. Otherwise a
    crash or time limit stands in the way: could not decide."""
    statuses = (forward.status, backward.status)
    if all(s is DirectionStatus.PROVED for s in statuses):
        return Equivalence.EQUIVALENT
    if any(s in (DirectionStatus.NOT_PROVED, DirectionStatus.TARGET_ALONE) for s in statuses):
        return Equivalence.NOT_EQUIVALENT
    return Equivalence.UNDECIDED


async def check_candidate(
    problem: InformalProblem, text: str, logprob: float, config: AutoformalizeConfig, parts: Parts, index: int
) -> CandidateResult:
    """Well-formedness, exact match, then equivalence. A prover failure while checking well-formedness
    is raised (`ProverError`): the problem is an error, never an ill-formed statement."""
    target = parts.target
    checker = statement_checker(parts.prover)
    rest = text.strip().removeprefix(target.statement_stub(problem.name)).strip()
    if rest.removesuffix("sorry").strip().removesuffix("by").strip().removesuffix(":=").strip() == "":
        return CandidateResult(text, logprob, False, "the model wrote no statement")
    theorem = problem_theorem(target, problem, text)
    verification = await checker.check_statement(theorem)
    if verification.verdict is Verdict.UNCHECKED:
        raise ProverError(f"the statement check could not run: {verification.reason[:300]}")
    if not verification.accepted:
        return CandidateResult(text, logprob, False, verification.reason[:500])
    reference = problem.formal_statement
    if reference is None:
        return CandidateResult(text, logprob, True)
    if target.normalise(text) == target.normalise(reference):
        # Identical up to names, labels and spacing: the same proposition, nothing to prove.
        return CandidateResult(text, logprob, True, exact_match=True, equivalence=Equivalence.EXACT)
    if not config.check_equivalence:
        return CandidateResult(text, logprob, True, exact_match=False)
    props = target.propositions(text, reference)
    if props is None:
        return CandidateResult(text, logprob, True, "could not restate as a proposition", exact_match=False,
                               equivalence=Equivalence.UNDECIDED)
    cand, ref = props
    tactics = config.equivalence_tactics or target.equivalence_tactics
    base = f"{problem.name}_c{index}"

    def direction(suffix: str, hypothesis: str, conclusion: str) -> tuple[Theorem, Theorem]:
        name = f"{base}_{suffix}"
        return (problem_theorem(target, problem, target.implication(name, hypothesis, conclusion), name),
                problem_theorem(target, problem, target.implication(f"{name}_alone", target.true_proposition, conclusion),
                                f"{name}_alone"))

    # Both directions are always tried and recorded.
    forward = await prove_direction(parts.prover, *direction("cand_imp_ref", cand, ref), tactics,
                                    config.equivalence_timeout_s)
    backward = await prove_direction(parts.prover, *direction("ref_imp_cand", ref, cand), tactics,
                                     config.equivalence_timeout_s)
    return CandidateResult(text, logprob, True, exact_match=False, equivalence=combine(forward, backward),
                           forward=forward, backward=backward)


async def autoformalize_statement(problem: InformalProblem, config: AutoformalizeConfig, parts: Parts) -> StatementOutcome:
    start = time.monotonic()
    generated, example_names = await generate_statements(problem, config, parts)
    results: list[CandidateResult] = []
    seen: dict[str, CandidateResult] = {}
    for index, (text, logprob) in enumerate(generated):
        if text in seen:  # the same statement twice is checked once
            prior = seen[text]
            results.append(replace(prior, mean_logprob=logprob))
            continue
        result = await check_candidate(problem, text, logprob, config, parts, index)
        seen[text] = result
        results.append(result)
    return StatementOutcome(tuple(results), problem.formal_statement, example_names, time.monotonic() - start)

