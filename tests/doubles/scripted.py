"""A scripted prover and a scripted proposer: test doubles for the search, runner and CLI tests.

The prover answers from a graph written in the test (state text -> tactic -> outcome); the proposer
answers from a table (state text -> ranked candidates). Both count every call so tests can check
budgets and order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Mapping, Sequence

from llemma_prove.types import (
    Candidate,
    GoalState,
    OutcomeKind,
    Proof,
    ProposalRequest,
    SamplingParams,
    StepOutcome,
    Theorem,
    Verdict,
    Verification,
)


@dataclass(frozen=True)
class Edge:
    """Scripted answer to one tactic: the kind, the next state's text, a message and a delay."""

    kind: OutcomeKind
    target: str | None = None
    message: str = ""
    delay_s: float = 0.0


def goes_to(state: str, delay_s: float = 0.0) -> Edge:
    return Edge(OutcomeKind.GOALS, state, delay_s=delay_s)


def proves(delay_s: float = 0.0) -> Edge:
    return Edge(OutcomeKind.PROVED, delay_s=delay_s)


def fails(message: str = "tactic failed", delay_s: float = 0.0) -> Edge:
    return Edge(OutcomeKind.ERROR, message=message, delay_s=delay_s)


def times_out(delay_s: float = 0.0) -> Edge:
    return Edge(OutcomeKind.TIMEOUT, message="step timed out", delay_s=delay_s)


Script = Mapping[str, Mapping[str, Edge]]


class ScriptedSession:
    def __init__(self, prover: "ScriptedProver", theorem: Theorem) -> None:
        self.prover = prover
        self.theorem = theorem
        self.closed = False

    async def initial_state(self) -> GoalState:
        root = self.prover.roots[self.theorem.name]
        return GoalState(root, handle=("root",))

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        self.prover.calls.append((self.theorem.name, state.text, tactic))
        edge = self.prover.script.get(state.text, {}).get(tactic)
        if edge is None:
            return StepOutcome.error(f"unknown tactic {tactic!r}")
        if edge.delay_s:
            await asyncio.sleep(edge.delay_s)
        if edge.kind is OutcomeKind.GOALS:
            assert edge.target is not None
            return StepOutcome.goals(GoalState(edge.target, handle=tuple(state.handle) + (tactic,)), edge.delay_s)
        if edge.kind is OutcomeKind.PROVED:
            return StepOutcome.proved(edge.delay_s)
        if edge.kind is OutcomeKind.TIMEOUT:
            return StepOutcome.timeout(elapsed_s=edge.delay_s)
        return StepOutcome.error(edge.message, edge.delay_s)

    async def close(self) -> None:
        self.closed = True


class ScriptedProver:
    """Prover double. `verify` replays the proof through the script, as a from-scratch check would."""

    name = "scripted"

    def __init__(self, script: Script, roots: Mapping[str, str], reject: Sequence[str] = ()) -> None:
        self.script = script
        self.roots = dict(roots)
        self.reject = set(reject)
        self.calls: list[tuple[str, str, str]] = []
        self.sessions: list[ScriptedSession] = []
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def open(self, theorem: Theorem) -> ScriptedSession:
        if theorem.name not in self.roots:
            from llemma_prove.errors import ProverError

            raise ProverError(f"theorem {theorem.name} is not in the script")
        session = ScriptedSession(self, theorem)
        self.sessions.append(session)
        return session

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        text = self.render(theorem, proof)
        if theorem.name in self.reject:
            return Verification(Verdict.REJECTED, "rejected by the test script", text)
        state = self.roots[theorem.name]
        for i, tactic in enumerate(proof.tactics):
            edge = self.script.get(state, {}).get(tactic)
            if edge is None or edge.kind in (OutcomeKind.ERROR, OutcomeKind.TIMEOUT):
                return Verification(Verdict.REJECTED, f"step {i} ({tactic!r}) fails on replay", text)
            if edge.kind is OutcomeKind.PROVED:
                if i != len(proof.tactics) - 1:
                    return Verification(Verdict.REJECTED, "tactics after the proof was complete", text)
                return Verification(Verdict.ACCEPTED, "", text)
            state = edge.target or ""
        return Verification(Verdict.REJECTED, "goals remain after the last tactic", text)

    def render(self, theorem: Theorem, proof: Proof) -> str:
        body = "\n".join("  " + t for t in proof.tactics)
        stmt = theorem.statement.rstrip()
        for suffix in ("sorry", "by"):
            if stmt.endswith(suffix):
                stmt = stmt[: -len(suffix)].rstrip()
        if not stmt.endswith(":="):
            stmt += " :="
        return f"{theorem.header}{stmt} by\n{body}\n"

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()


class ScriptedProposer:
    """Proposer double: candidates per state text, in the order given; counts calls and batch sizes."""

    def __init__(self, table: Mapping[str, Sequence[tuple[str, float]]], delay_s: float = 0.0) -> None:
        self.table = table
        self.delay_s = delay_s
        self.requests: list[ProposalRequest] = []
        self.batch_sizes: list[int] = []

    async def propose(
        self, requests: Sequence[ProposalRequest], params: SamplingParams
    ) -> list[list[Candidate]]:
        self.batch_sizes.append(len(requests))
        self.requests.extend(requests)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        out = []
        for request in requests:
            rows = list(self.table.get(request.state.text, ()))[: params.n]
            out.append([Candidate(tactic, score) for tactic, score in rows])
        return out
