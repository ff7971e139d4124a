"""The benchmarks' stand-in prover: a TEST DOUBLE for Lean, used by `benchmarks/` only, never by the product.

No Lean is available here, so the throughput and cache benchmarks check tactics against this double.
It models what matters for scheduling, not for mathematics:
- every step occupies one of `workers` slots (one Lean process on its own core) for its latency;
- the latency follows a lognormal distribution (median 50 ms, sigma 1: a long tail of slow steps),
  and a small share of steps hang until the step time limit and come back as TIMEOUT;
- outcomes (new goals / proved / error) and latencies are pseudo-random but fixed per (state, tactic),
  so every mode of a benchmark does exactly the same prover work for the same tactics;
- `verify` replays the proof through the same outcomes (a from-scratch check), occupying one slot.
The event loop sleeps through a step's latency, as it waits on a Lean subprocess; no CPU is spent.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Mapping

from llemma_prove.types import GoalState, OutcomeKind, Proof, StepOutcome, Theorem, Verdict, Verification

_NORMAL = statistics.NormalDist()


@dataclass(frozen=True)
class StandInBehaviour:
    """Latency and outcome distribution of the stand-in prover."""

    median_s: float = 0.050  # lognormal median step latency
    sigma: float = 1.0  # lognormal shape: p90 ~ 180 ms, p99 ~ 510 ms
    timeout_s: float = 1.0  # step time limit: slower steps and hangs end as TIMEOUT after this long
    hang_rate: float = 0.02  # share of steps that hang until the time limit
    proved_rate: float = 0.03  # share of steps that close the goal
    goals_rate: float = 0.35  # share of steps that leave new goals (the rest are errors)
    seed: int = 0


@dataclass
class StandInStats:
    steps: int = 0  # step calls answered (what a real run would send to Lean)
    busy_s: float = 0.0  # worker-seconds occupied by steps and checks
    verifications: int = 0
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each occupation, perf_counter


def _uniforms(seed: int, state: str, tactic: str) -> tuple[float, float, float]:
    digest = hashlib.sha256(f"{seed}\x00{state}\x00{tactic}".encode("utf-8")).digest()
    values = [int.from_bytes(digest[i : i + 8], "big") for i in (0, 8, 16)]
    return tuple((v + 0.5) / 2**64 for v in values)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Planned:
    kind: OutcomeKind
    latency_s: float
    state: str | None = None


def plan_step(behaviour: StandInBehaviour, state: str, tactic: str) -> _Planned:
    """The fixed outcome and latency of `tactic` on `state`."""
    u_kind, u_latency, u_hang = _uniforms(behaviour.seed, state, tactic)
    latency = behaviour.median_s * math.exp(behaviour.sigma * _NORMAL.inv_cdf(u_latency))
    if not tactic.strip():
        return _Planned(OutcomeKind.ERROR, min(latency, behaviour.timeout_s))
    if u_hang < behaviour.hang_rate or latency >= behaviour.timeout_s:
        return _Planned(OutcomeKind.TIMEOUT, behaviour.timeout_s)
    if u_kind < behaviour.proved_rate:
        return _Planned(OutcomeKind.PROVED, latency)
    if u_kind < behaviour.proved_rate + behaviour.goals_rate:
        return _Planned(OutcomeKind.GOALS, latency, _next_state(state, u_kind))
    return _Planned(OutcomeKind.ERROR, latency)


def _next_state(state: str, u: float) -> str:
    """A new goal state: the parent's hypotheses (the last few) plus one, and a changed goal."""
    lines = state.splitlines()
    hyps = [line for line in lines if not line.startswith("⊢")][-4:]
    n = int(u * 1e9)
    hyps.append(f"h{n % 97} : x ≤ {n % 1000}")
    return "\n".join(hyps + [f"⊢ x * {n % 13 + 2} = {n % 89}"])


class StandInSession:
    def __init__(self, prover: "StandInProver", theorem: Theorem) -> None:
        self.prover = prover
        self.theorem = theorem

    @property
    def parallelism(self) -> int:
        """Steps that can run at once: one per slot, as a Lean session on a pool of REPL workers."""
        return self.prover.workers

    async def initial_state(self) -> GoalState:
        return GoalState(self.prover.root(self.theorem))

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        plan = plan_step(self.prover.behaviour, state.text, tactic)
        await self.prover.occupy(plan.latency_s)
        self.prover.stats.steps += 1
        if plan.kind is OutcomeKind.GOALS:
            return StepOutcome.goals(GoalState(plan.state or ""), plan.latency_s)
        if plan.kind is OutcomeKind.PROVED:
            return StepOutcome.proved(plan.latency_s)
        if plan.kind is OutcomeKind.TIMEOUT:
            return StepOutcome.timeout(elapsed_s=plan.latency_s)
        return StepOutcome.error("stand-in: tactic failed", plan.latency_s)

    async def close(self) -> None:
        return None


class StandInProver:
    """A `Prover` test double with `workers` step slots; see the module docstring."""

    name = "stand-in"

    def __init__(
        self,
        workers: int = 8,
        behaviour: StandInBehaviour = StandInBehaviour(),
        roots: Mapping[str, str] | None = None,
    ) -> None:
        self.workers = workers
        self.behaviour = behaviour
        self.roots = dict(roots or {})
        self.version = f"stand-in-{behaviour.seed}"
        self.stats = StandInStats()
        self._slots: asyncio.Semaphore | None = None

    def root(self, theorem: Theorem) -> str:
        return self.roots.get(theorem.name, f"⊢ {theorem.name}")

    async def occupy(self, seconds: float) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        async with self._slots:
            start = time.perf_counter()
            await asyncio.sleep(seconds)
            self.stats.busy_s += seconds
            self.stats.spans.append((start, time.perf_counter()))

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self.workers)

    async def open(self, theorem: Theorem) -> StandInSession:
        return StandInSession(self, theorem)

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        text = self.render(theorem, proof)
        state = self.root(theorem)
        total = 0.0
        verdict, reason = Verdict.REJECTED, "goals remain after the last tactic"
        for i, tactic in enumerate(proof.tactics):
            plan = plan_step(self.behaviour, state, tactic)
            total += plan.latency_s
            if plan.kind is OutcomeKind.PROVED:
                last = i == len(proof.tactics) - 1
                verdict, reason = (Verdict.ACCEPTED, "") if last else (Verdict.REJECTED, "tactics after the end")
                break
            if plan.kind is not OutcomeKind.GOALS:
                verdict, reason = Verdict.REJECTED, f"step {i} fails on replay"
                break
            state = plan.state or ""
        await self.occupy(total)
        self.stats.verifications += 1
        return Verification(verdict, reason, text)

    def render(self, theorem: Theorem, proof: Proof) -> str:
        body = "\n".join("  " + t for t in proof.tactics)
        return f"{theorem.header}{theorem.statement.removesuffix('sorry').rstrip()}\n{body}\n"

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class BenchmarkTheorems:
    """Synthetic theorems with miniF2F-like root states (the stand-in does not read statements)."""

    theorems: tuple[Theorem, ...]
    roots: dict[str, str] = field(default_factory=dict)


def benchmark_theorems(count: int) -> BenchmarkTheorems:
    theorems, roots = [], {}
    for k in range(1, count + 1):
        name = f"standin_{k:03d}"
        state = f"x y : ℝ\nh₀ : x + {k} * y = {2 * k + 1}\nh₁ : x - y = {k}\n⊢ x = {k + 1}"
        theorems.append(Theorem(name, f"theorem {name} (x y : ℝ) : x = {k + 1} := by sorry", split="bench"))
        roots[name] = state
    return BenchmarkTheorems(tuple(theorems), roots)
