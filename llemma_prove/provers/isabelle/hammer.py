"""Hammer steps: the DSP heuristic tactics first, then Sledgehammer (`normalhammer`) on a budget.

A proposed step is a hammer call when it is `normalhammer` (or `sledgehammer`), alone or after an
Isar prefix (`have "x = 2" normalhammer`). Whatever closes the goal is recorded in place of the
hammer, so the proof that is stored and re-checked contains only real tactics.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

from ...types import OutcomeKind, StepOutcome

log = logging.getLogger(__name__)

HAMMER = "normalhammer"
HAMMER_ALIASES = ("normalhammer", "sledgehammer")
# Draft, Sketch, Prove's order (DESIGN.md section 4).
HEURISTIC_TACTICS = (
    "by auto",
    "by simp",
    "by blast",
    "by fastforce",
    "by force",
    "by eval",
    "by presburger",
    "by sos",
    "by arith",
    "by linarith",
    "by (auto simp: field_simps)",
)


def hammer_prefix(step: str) -> str | None:
    """The Isar text before a trailing hammer word (`""` for a bare hammer); None if no hammer."""
    stripped = step.strip()
    for word in HAMMER_ALIASES:
        if stripped == word:
            return ""
        if stripped.endswith(word) and stripped[: -len(word)][-1:].isspace():
            return stripped[: -len(word)].strip()
    return None


def is_hammer_step(step: str) -> bool:
    return hammer_prefix(step) is not None


def join_step(prefix: str, tactic: str) -> str:
    return f"{prefix} {tactic}".strip() if prefix else tactic.strip()


@dataclass(frozen=True)
class HammerOptions:
    use_heuristics: bool = True
    use_sledgehammer: bool = True
    hammer_timeout_s: float = 60.0
    heuristics: tuple[str, ...] = HEURISTIC_TACTICS


@dataclass(frozen=True)
class HammerAttempt:
    tactic: str
    kind: OutcomeKind
    elapsed_s: float
    message: str = ""


@dataclass(frozen=True)
class HammerResult:
    """The outcome of the whole hammer call; `step` is the concrete step to record (None on failure)."""

    outcome: StepOutcome
    step: str | None
    attempts: tuple[HammerAttempt, ...] = field(default=())

    @property
    def found(self) -> bool:
        return self.step is not None


class HammerTarget(Protocol):
    """What the hammer needs from a session: try one ordinary step, or run Sledgehammer."""

    async def try_step(self, text: str) -> StepOutcome:
        """Run an ordinary step on the hammer's state; a success keeps the new state."""
        ...

    async def sledgehammer(self, prefix: str, timeout_s: float) -> tuple[StepOutcome, str | None]:
        """Run `prefix` (if any) then `normalhammer`; the outcome and the tactic Sledgehammer found."""
        ...


def _succeeded(outcome: StepOutcome) -> bool:
    return outcome.kind in (OutcomeKind.GOALS, OutcomeKind.PROVED)


async def run_hammer(step: str, target: HammerTarget, options: HammerOptions) -> HammerResult:
    """Resolve a hammer step: heuristics in order, then `normalhammer`; first success wins."""
    prefix = hammer_prefix(step)
    if prefix is None:
        raise ValueError(f"not a hammer step: {step!r}")
    start = time.monotonic()
    attempts: list[HammerAttempt] = []
    last: StepOutcome | None = None
    if options.use_heuristics:
        for tactic in options.heuristics:
            text = join_step(prefix, tactic)
            outcome = await target.try_step(text)
            attempts.append(HammerAttempt(text, outcome.kind, outcome.elapsed_s, outcome.message))
            if _succeeded(outcome):
                log.debug("hammer: %r closed the goal", text)
                return HammerResult(_with_message(outcome, f"hammer: {text}", start), text, tuple(attempts))
            last = outcome
    if options.use_sledgehammer:
        outcome, tactic = await target.sledgehammer(prefix, options.hammer_timeout_s)
        label = join_step(prefix, "normalhammer")
        attempts.append(HammerAttempt(label, outcome.kind, outcome.elapsed_s, outcome.message))
        if _succeeded(outcome) and tactic:
            text = join_step(prefix, tactic)
            return HammerResult(_with_message(outcome, f"hammer: {text}", start), text, tuple(attempts))
        if _succeeded(outcome):  # a state but no tactic: the proof could not be recorded
            outcome = StepOutcome.error("Sledgehammer reply named no tactic", outcome.elapsed_s)
        last = outcome
    elapsed = time.monotonic() - start
    if last is None:
        return HammerResult(StepOutcome.error("hammer disabled (no heuristics, no Sledgehammer)", elapsed), None, ())
    if last.kind is OutcomeKind.TIMEOUT:
        return HammerResult(StepOutcome.timeout(f"hammer: {last.message}", elapsed), None, tuple(attempts))
    return HammerResult(
        StepOutcome.error(f"hammer found no proof ({len(attempts)} attempts; last: {last.message[:200]})", elapsed),
        None,
        tuple(attempts),
    )


def _with_message(outcome: StepOutcome, message: str, start: float) -> StepOutcome:
    return StepOutcome(outcome.kind, outcome.state, message, time.monotonic() - start)
