"""What the pipelines need to know about a target language, as one protocol with two implementations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

from ..types import Language, Theorem
from .holes import Hole

if TYPE_CHECKING:
    from .problems import InformalProblem


class Target(Protocol):
    language: Language
    hole_tactics: tuple[str, ...]
    equivalence_tactics: tuple[str, ...]

    def statement_stub(self, name: str) -> str:
        """The start of a formal statement the model is asked to continue (`theorem name`)."""
        ...

    def clean_statement(self, text: str) -> str:
        """The model's statement text cut to a checkable statement (Lean: ending `:= by sorry`)."""
        ...

    def statement_head(self, statement: str) -> str:
        """The statement without its proof: the text a proof sketch continues."""
        ...

    def normalise(self, statement: str) -> str:
        """Normal form for exact-match comparison (name, proof, labels and spacing removed)."""
        ...

    def theorem(self, name: str, statement: str, header: str = "", split: str = "") -> Theorem: ...

    true_proposition: str  # what replaces a hypothesis to test whether a target holds without it

    def propositions(self, candidate: str, reference: str) -> tuple[str, str] | None:
        """Both statements as propositions (binders and hypotheses folded in), or None if unparsable."""
        ...

    def implication(self, name: str, hypothesis: str, conclusion: str) -> str:
        """A checkable statement `hypothesis → conclusion` named `name` (its hypothesis is `h`)."""
        ...

    def fill_text(self, hole: Hole, steps: Sequence[str]) -> str:
        """Text that replaces `hole` once `steps` closed its goal."""
        ...

    def full_text(self, statement_head: str, body: str) -> str: ...


def target_for(language: Language) -> Target:
    if language is Language.LEAN4:
        from .lean import LeanTarget

        return LeanTarget()
    from .isabelle import IsabelleTarget

    return IsabelleTarget()


def problem_theorem(target: Target, problem: "InformalProblem", statement: str, name: str | None = None) -> Theorem:
    """The theorem a problem's statement (or a statement derived from it) is checked as."""
    from dataclasses import replace

    theorem = target.theorem(name or problem.name, statement, problem.header, problem.split)
    return replace(theorem, preamble=problem.preamble) if problem.preamble else theorem
