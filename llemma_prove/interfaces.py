"""The two seams of the system: provers (proof assistants) and proposers (models).

The search and the runner import only these protocols, never a concrete prover or model, so a Lean
REPL, LeanDojo, PISA or a test double plug in the same way.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from .types import (
    Candidate,
    Completion,
    GoalState,
    Proof,
    ProposalRequest,
    SamplingParams,
    StepOutcome,
    Theorem,
    Verification,
)


@runtime_checkable
class ProverSession(Protocol):
    """One theorem opened in a proof assistant. States may be branched from any number of times."""

    theorem: Theorem

    async def initial_state(self) -> GoalState:
        """The theorem's root goal state. Raises `ProverError` if the theorem cannot be started."""
        ...

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        """Run one tactic on a state. Ordinary prover errors are outcomes, not exceptions."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Prover(Protocol):
    """A proof assistant backend: opens theorem sessions and checks finished proofs from scratch."""

    name: str

    async def start(self) -> None:
        """Start processes, import headers; raises `ProverUnavailable` naming what is missing."""
        ...

    async def open(self, theorem: Theorem) -> ProverSession: ...

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        """Re-check `proof` of the benchmark's own statement from scratch (DESIGN, "Soundness")."""
        ...

    def render(self, theorem: Theorem, proof: Proof) -> str:
        """The complete source text (header + statement + proof) a user can compile."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class StatementChecker(Protocol):
    """Optional prover capability: does a statement (with a `sorry` proof) elaborate?"""

    async def check_statement(self, theorem: Theorem) -> Verification: ...


@runtime_checkable
class LanguageModel(Protocol):
    """A text generator: many prompts in, `n` completions with real log-probs per prompt out."""

    name: str

    async def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]: ...

    async def close(self) -> None: ...


@runtime_checkable
class Proposer(Protocol):
    """Proposes next proof steps for goal states, best first."""

    async def propose(
        self, requests: Sequence[ProposalRequest], params: SamplingParams
    ) -> list[list[Candidate]]: ...
