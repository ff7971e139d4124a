"""Draft, Sketch, Prove: informal proof, formal sketch with holes, holes closed by automation.

One problem goes: statement (the reference, or the best autoformalized candidate) → informal proof
(given, or drafted by the model) → `sketches` formal sketches (one greedy sketch reproduces the paper)
→ for each sketch, each hole in order: the target's tactic list, then Sledgehammer where the session
has it (Isabelle), then a short best-first search on the hole's goal (Lean) → the filled-in proof goes
through the prover's final check (`verify_sketch`). The first sketch whose assembled proof is accepted wins. Only an accepted
final check makes a problem proved, and only when:
- the statement is the reference, or an autoformalized statement that passed the equivalence check
  against the reference; a proof of any other statement is "proved, statement unverified", its own
  row, never counted as proved (a model can always write a statement it can prove, `assumes "False"`);
- the proof rests on no oracle (`oracles.py`); where a paper mode allowed oracle tactics, such a
  proof is "proved with an oracle", its own column.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import ProverError, ProposerError
from ..interfaces import ProverSession
from ..search import best_first_search
from ..types import GoalState, Language, OutcomeKind, StepOutcome, Theorem, Verdict, Verification
from .config import AutoformalizeConfig, Paper, Parts
from .holes import Hole, Sketch, every_goal_steps, parse_sketch
from .oracles import oracle_use, oracle_words, rejected_only_for_oracles
from .paper import DSP_MAX_PROMPT_CHARS, DSP_STOP, check_context, dsp_prompt
from .problems import InformalProblem
from .prompts import cut, draft_prompt, sketch_prompt
from .protocols import HammerSession, HoleGoal, SketchSession, proof_found_before
from .selection import examples_for
from .target import problem_theorem
from .statement import StatementOutcome, autoformalize_statement

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HoleResult:
    index: int
    line: int
    goal: str | None
    closed: bool
    method: str | None = None  # "tactic" | "hammer" | "search"
    steps: tuple[str, ...] = ()
    attempts: int = 0
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = list(self.steps)
        return data


@dataclass(frozen=True)
class SketchResult:
    index: int
    sketch: str  # the model's proof text, holes included
    draft: str | None
    holes: tuple[HoleResult, ...]
    assembled: str | None  # full text: statement head + filled proof (None if a hole stayed open)
    verification: Verification | None
    reason: str = ""
    oracles: tuple[str, ...] = ()  # why the accepted proof rests on an oracle (empty: it does not)
    examples: tuple[str, ...] = ()  # the few-shot examples of this sketch's prompt, where drawn per attempt

    @property
    def accepted(self) -> bool:
        return self.verification is not None and self.verification.accepted

    @property
    def proved(self) -> bool:
        """Accepted by the final check and resting on no oracle."""
        return self.accepted and not self.oracles

    @property
    def proved_with_oracle(self) -> bool:
        """Accepted but resting on an oracle, or refused by the final check for that reason alone."""
        return bool(self.oracles) and (self.accepted or rejected_only_for_oracles(self.verification))

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "sketch": self.sketch,
            "draft": self.draft,
            "holes": [h.to_json() for h in self.holes],
            "holes_total": len(self.holes),
            "holes_closed": sum(h.closed for h in self.holes),
            "assembled": self.assembled,
            "verification": self.verification.to_json() if self.verification else None,
            "proved": self.proved,
            "oracles": list(self.oracles),
            "examples": list(self.examples),
            "reason": self.reason,
        }


class DspVerdict(str, enum.Enum):
    PROVED = "proved"  # the reference statement, or one proved equivalent to it; no oracle
    UNVERIFIED = "proved-statement-unverified"  # an autoformalized statement not shown equivalent
    ORACLE = "proved-with-oracle"  # accepted, but resting on an oracle (paper modes that allow them)
    NOT_PROVED = "not-proved"


@dataclass(frozen=True)
class DspOutcome:
    statement: str | None
    statement_source: str  # "reference" | "autoformalized" | "none"
    drafted: bool
    sketches: tuple[SketchResult, ...]
    statement_outcome: StatementOutcome | None = None
    elapsed_s: float = 0.0
    reason: str = ""
    prompt_examples: tuple[str, ...] = field(default=())
    statement_verified: bool = False  # the reference, or proved equivalent to it
    oracles_allowed: bool = False  # a paper mode whose checker tried oracle tactics: such proofs counted apart

    @property
    def proved(self) -> bool:
        """Counts as proved: a clean proof of a verified statement."""
        return self.verdict() is DspVerdict.PROVED

    def verdict(self) -> DspVerdict:
        if any(s.proved for s in self.sketches):
            return DspVerdict.PROVED if self.statement_verified else DspVerdict.UNVERIFIED
        if self.oracles_allowed and any(s.proved_with_oracle for s in self.sketches):
            return DspVerdict.ORACLE if self.statement_verified else DspVerdict.UNVERIFIED
        return DspVerdict.NOT_PROVED  # by default a proof resting on an oracle is no proof

    @property
    def proof_text(self) -> str | None:
        """The accepted proof: a clean one first, else (where allowed) one resting on an oracle."""
        tests = [lambda s: s.proved] + ([lambda s: s.proved_with_oracle] if self.oracles_allowed else [])
        for test in tests:
            for sketch in self.sketches:
                if test(sketch):
                    return sketch.verification.checked_text or sketch.assembled  # type: ignore[union-attr]
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "statement": self.statement,
            "statement_source": self.statement_source,
            "statement_verified": self.statement_verified,
            "drafted": self.drafted,
            "verdict": self.verdict().value,
            "proved": self.proved,
            "proof_text": self.proof_text,
            "sketches": [s.to_json() for s in self.sketches],
            "statement_mode": self.statement_outcome.to_json() if self.statement_outcome else None,
            "prompt_examples": list(self.prompt_examples),
            "elapsed_s": round(self.elapsed_s, 4),
            "reason": self.reason,
        }


class _HoleAsRoot:
    """A sketch session seen as a ProverSession whose root is one hole's goal (for best-first search)."""

    def __init__(self, session: SketchSession, theorem: Theorem, state: GoalState) -> None:
        self.session = session
        self.theorem = theorem
        self._state = state

    async def initial_state(self) -> GoalState:
        return self._state

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        return await self.session.step(state, tactic)

    async def close(self) -> None:  # the sketch session is closed by its owner
        return None


def hole_tactics(config: AutoformalizeConfig, parts: Parts) -> tuple[str, ...]:
    """The target's hole tactics; those that rest on an oracle (`by eval`) only where allowed."""
    language = parts.target.language
    return tuple(t for t in parts.target.hole_tactics if config.allow_oracles or not oracle_words(t, language))


async def close_hole(
    session: SketchSession, theorem: Theorem, index: int, state: GoalState, line: int,
    config: AutoformalizeConfig, parts: Parts,
) -> HoleResult:
    """Tactic list, then hammer (if the session has one), then best-first search (if a proposer is set)."""
    attempts = 0
    last = ""
    for tactic in hole_tactics(config, parts):
        attempts += 1
        outcome = await session.step(state, tactic)
        if outcome.kind is OutcomeKind.PROVED:
            return HoleResult(index, line, state.text, True, "tactic", (tactic,), attempts)
        last = outcome.message
    if isinstance(session, HammerSession):
        attempts += 1
        found = await session.hammer(state, config.hammer_timeout_s)
        if found.text:
            return HoleResult(index, line, state.text, True, "hammer", (found.text,), attempts, found.message)
        last = found.message or last
    if config.hole_search and parts.proposer is not None:
        hole_theorem = Theorem(
            name=f"{theorem.name}_hole{index}", statement=theorem.statement, header=theorem.header,
            split=theorem.split, language=theorem.language,
        )
        root: ProverSession = _HoleAsRoot(session, hole_theorem, state)  # type: ignore[assignment]
        try:
            result = await best_first_search(hole_theorem, root, parts.proposer, config.hole_search_config())
        except (ProverError, ProposerError) as exc:
            last = f"search failed: {exc}"
        else:
            attempts += result.steps
            if result.proof is not None:
                return HoleResult(index, line, state.text, True, "search", result.proof.tactics, attempts)
            last = f"search ended: {result.status.value}" + (f" ({result.error})" if result.error else "")
    return HoleResult(index, line, state.text, False, None, (), attempts, last[:300])


async def close_every_goal(
    session: SketchSession, theorem: Theorem, hole: Hole, goal: HoleGoal, config: AutoformalizeConfig, parts: Parts,
) -> HoleResult:
    """`close_hole` on each goal the prover runs the hole on (Lean: `all_goals sorry` has one per goal),
    in order; a proof found for one goal is tried on the next first. The fill is that proof when one
    closes every goal, else `first | (focus P1; done) | ...`; a goal left open leaves the hole open."""
    states = goal.states
    assert states, "a hole goal with no state"
    first = await close_hole(session, theorem, hole.index, states[0], hole.line, config, parts)
    if len(states) == 1 or not first.closed or parts.target.language is not Language.LEAN4:
        return first
    proofs = [first.steps]
    attempts = first.attempts
    for k, state in enumerate(states[1:], start=2):
        reused, tried = await proof_found_before(session, state, proofs)
        attempts += tried
        if reused is not None:
            proofs.append(reused)
            continue
        result = await close_hole(session, theorem, hole.index, state, hole.line, config, parts)
        attempts += result.attempts
        if not result.closed:
            return HoleResult(hole.index, hole.line, states[0].text, False, None, (), attempts,
                              f"goal {k} of the {len(states)} this hole runs on stayed open: {result.message}"[:300])
        proofs.append(result.steps)
    return HoleResult(hole.index, hole.line, states[0].text, True, first.method, every_goal_steps(proofs), attempts)


async def prove_sketch(
    theorem: Theorem, head: str, sketch: Sketch, draft: str | None, sketch_index: int,
    config: AutoformalizeConfig, parts: Parts,
) -> SketchResult:
    """Close every hole of one sketch, assemble it and run the final check."""
    assert parts.sketcher is not None
    target = parts.target
    holes: list[HoleResult] = []
    fills: list[str] = []
    try:
        session = await parts.sketcher.open_sketch(theorem, sketch)
    except ProverError as exc:
        return SketchResult(sketch_index, sketch.text, draft, (), None, None, f"could not open the sketch: {exc}")
    try:
        for hole in sketch.holes:
            goal = await session.hole_goal(hole.index, tuple(fills))
            if not goal.ok or goal.state is None:
                holes.append(HoleResult(hole.index, hole.line, None, False, message=goal.error[:300]))
                return SketchResult(sketch_index, sketch.text, draft, tuple(holes), None, None,
                                    f"the sketch does not check up to hole {hole.index}: {goal.error[:300]}")
            result = await close_every_goal(session, theorem, hole, goal, config, parts)
            holes.append(result)
            if not result.closed:
                return SketchResult(sketch_index, sketch.text, draft, tuple(holes), None, None,
                                    f"hole {hole.index} (line {hole.line}) stayed open")
            fills.append(target.fill_text(hole, result.steps))
    except ProverError as exc:
        return SketchResult(sketch_index, sketch.text, draft, tuple(holes), None, None, f"prover failed: {exc}")
    finally:
        try:
            await session.close()
        except ProverError as exc:
            log.warning("closing the sketch session of %s failed: %s", theorem.name, exc)
    body = sketch.fill(fills)
    assembled = target.full_text(head, body)
    leftover = parse_sketch(body, target.language, config.hole_tokens(target.language)).holes
    if leftover:  # a replacement that itself holds a hole keyword can never count
        return SketchResult(sketch_index, sketch.text, draft, tuple(holes), assembled,
                            Verification(Verdict.REJECTED, "holes remain after filling", assembled), "holes remain")
    try:
        verification = await parts.sketcher.verify_sketch(theorem, body)
    except ProverError as exc:
        verification = Verification(Verdict.UNCHECKED, f"final check could not run: {exc}", assembled)
    reason = "" if verification.accepted else f"final check: {verification.verdict.value}: {verification.reason[:300]}"
    oracles: tuple[str, ...] = ()
    if verification.accepted:
        oracles = tuple(oracle_use(verification.checked_text or assembled, target.language, verification))
        if oracles:
            reason = "accepted, but rests on an oracle: " + "; ".join(oracles)
    elif rejected_only_for_oracles(verification):
        oracles = tuple(oracle_use(verification.checked_text or assembled, target.language, verification))
    return SketchResult(sketch_index, sketch.text, draft, tuple(holes), assembled, verification, reason, oracles)


async def draft_proofs(problem: InformalProblem, count: int, config: AutoformalizeConfig, parts: Parts) -> list[str]:
    examples = examples_for(problem, parts.prompts, config.max_examples)
    prompt = draft_prompt(parts.prompts, examples, problem.informal_statement)
    stops = parts.prompts.format.draft_stop
    (completions,) = await parts.model.generate([prompt], config.sampling(count, config.draft_tokens, stops))
    return [cut(c.text, stops).strip() for c in completions]


async def draft_sketch_prove(problem: InformalProblem, config: AutoformalizeConfig, parts: Parts) -> DspOutcome:
    start = time.monotonic()
    target = parts.target
    statement_outcome = None
    statement = problem.formal_statement
    source = "reference"
    verified = statement is not None
    if statement is None or config.formalize_statement:
        statement_outcome = await autoformalize_statement(problem, config, parts)
        best = statement_outcome.best()
        if best is None or not best.well_formed:
            return DspOutcome(None, "none", False, (), statement_outcome, time.monotonic() - start,
                              "no well-formed statement to prove")
        statement, source = best.text, "autoformalized"
        # Only a statement shown equivalent to the reference makes its proof count.
        verified = bool(best.equivalent)
    theorem = problem_theorem(target, problem, statement)
    drafted = problem.informal_proof is None or config.always_draft
    drafts = await draft_proofs(problem, config.sketches, config, parts) if drafted else [problem.informal_proof or ""]
    examples = examples_for(problem, parts.prompts, config.max_examples)
    head = target.statement_head(statement)
    drawn: list[tuple[str, ...]] = []
    if config.paper is Paper.DSP:
        # DSP: each attempt its own prompt, 3 examples drawn from the problem's category; greedy each.
        stops = DSP_STOP
        prompts = []
        for attempt in range(config.sketches):
            draft = drafts[attempt % len(drafts)]
            prompt, names = dsp_prompt(problem, statement, draft, parts.prompts.examples, attempt,
                                       config.prompt_seed, config.dsp_examples,
                                       config.max_prompt_chars or DSP_MAX_PROMPT_CHARS)
            prompts.append(prompt)
            drawn.append(names)
        check_context(parts.model, prompts, config.sketch_tokens, problem.name)
        batches = await parts.model.generate(prompts, config.sampling(1, config.sketch_tokens, stops))
        pairs = [(drafts[i % len(drafts)], b[0].text if b else "") for i, b in enumerate(batches)]
    else:
        stops = parts.prompts.format.sketch_stop
        # One prompt per distinct draft; the samples are spread over them.
        prompts = [sketch_prompt(parts.prompts, examples, problem.informal_statement, d, head) for d in drafts]
        if len(prompts) == 1:
            batches = await parts.model.generate(prompts, config.sampling(config.sketches, config.sketch_tokens, stops))
            pairs = [(drafts[0], c.text) for c in batches[0]]
        else:
            batches = await parts.model.generate(prompts, config.sampling(1, config.sketch_tokens, stops))
            pairs = [(d, b[0].text) for d, b in zip(drafts, batches) if b]
    results: list[SketchResult] = []
    for index, (draft, text) in enumerate(pairs):
        body = cut(text, stops).rstrip()
        sketch = parse_sketch(body, target.language, config.hole_tokens(target.language))
        result = await prove_sketch(theorem, head, sketch, draft if drafted else None, index, config, parts)
        if drawn:
            result = replace(result, examples=drawn[index])
        results.append(result)
        if result.proved:  # a proof resting on an oracle does not stop the search for a clean one
            break
    reason = "" if any(r.proved for r in results) else (results[-1].reason if results else "the model wrote no sketch")
    if not verified and any(r.accepted for r in results):
        reason = "proved a statement that was not shown equivalent to the reference" + (
            "" if problem.formal_statement is not None else " (the problem has no reference statement)")
    # the examples the model was shown: those drawn per attempt, or the fixed list
    if drawn:
        shown = tuple(dict.fromkeys(n for names in drawn for n in names))
    elif parts.prompts.fixed is not None:
        shown = tuple(parts.prompts.fixed.names.get(parts.prompts.fixed.key_for(head), ()))
    else:
        shown = tuple(e.name for e in examples)
    return DspOutcome(statement, source, drafted, tuple(results), statement_outcome, time.monotonic() - start,
                      reason, shown, verified, config.allow_oracles)
