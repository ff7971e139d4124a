"""Few-shot examples that never leak the evaluated problems.

Rules, checked here and nowhere else:
- the project's own examples are valid-split problems; an example marked with any other split is
  refused, so evaluating `test` never shows the model a test problem through them;
- evaluating `valid` (or a user file): a problem that is itself an example (same name, or the same
  informal statement up to case and spacing) is excluded from the evaluation, as Llemma's evaluation
  did, so the evaluated set and the example set are disjoint;
- evaluating another split with a prompt file of unknown split: an example that is an evaluated problem
  is dropped from the prompt (a fixed prompt that cannot drop it is refused);
- each prompt is assembled from `examples_for`, which raises if the problem itself ever got through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import UserError
from .problems import InformalProblem, normalise_informal
from .prompts import Example, PromptSet

EXAMPLE_SPLIT = "valid"


class PromptLeak(UserError):
    """A few-shot prompt would show the model a problem it is evaluated on."""


@dataclass(frozen=True)
class Exclusion:
    name: str
    reason: str


def _same(example: Example, problem: InformalProblem) -> bool:
    if example.name and example.name == problem.name:
        return True
    return bool(example.informal_statement) and normalise_informal(example.informal_statement) == normalise_informal(
        problem.informal_statement
    )


def check_example_splits(prompts: PromptSet) -> None:
    """Refuse prompts with an example marked as coming from a split other than valid."""
    for example in prompts.examples:
        if example.split not in (EXAMPLE_SPLIT, ""):
            raise PromptLeak(
                f"few-shot example {example.name} of {prompts.source} is from split {example.split!r}; "
                f"examples must come from the {EXAMPLE_SPLIT} split"
            )


@dataclass(frozen=True)
class Selection:
    """What a run evaluates and with which prompt, after the leak rules were applied."""

    problems: tuple[InformalProblem, ...]
    prompts: PromptSet
    excluded: tuple[Exclusion, ...] = ()  # problems left out because the prompt shows them
    dropped_examples: tuple[str, ...] = ()  # examples left out because they are evaluated problems


def select(problems: Sequence[InformalProblem], prompts: PromptSet, evaluated_split: str = "") -> Selection:
    """Apply the leak rules to a run.

    Evaluating the valid split (or a user file): problems that are examples are excluded, so the
    evaluated set and the example set are disjoint. Evaluating another split: an example that is one
    of its problems (a prompt file of unknown split can hold one; DSP's holds a test problem) is
    dropped from the prompt; a fixed prompt that cannot drop it is refused.
    """
    check_example_splits(prompts)
    fixed_names = set(prompts.fixed.names_flat()) if prompts.fixed is not None else set()
    if evaluated_split and evaluated_split != EXAMPLE_SPLIT:
        leaking = [e for e in prompts.examples if any(_same(e, p) for p in problems)]
        for name in sorted(fixed_names & {p.name for p in problems}):
            raise PromptLeak(f"problem {name} of the {evaluated_split} split appears in the fixed prompt {prompts.source}")
        kept = tuple(e for e in prompts.examples if e not in leaking)
        return Selection(tuple(problems), prompts.with_examples(kept), (), tuple(e.name for e in leaking))
    keep: list[InformalProblem] = []
    excluded: list[Exclusion] = []
    for problem in problems:
        hit = next((e for e in prompts.examples if _same(e, problem)), None)
        if hit is not None or problem.name in fixed_names:
            which = hit.name if hit is not None else problem.name
            excluded.append(Exclusion(problem.name, f"it is the few-shot example {which}"))
            continue
        keep.append(problem)
    return Selection(tuple(keep), prompts, tuple(excluded))


def examples_for(problem: InformalProblem, prompts: PromptSet, limit: int | None = None) -> tuple[Example, ...]:
    """The examples for one problem's prompt; raises `PromptLeak` if the problem is among them."""
    chosen = tuple(prompts.examples[:limit] if limit is not None else prompts.examples)
    for example in chosen:
        if _same(example, problem):
            raise PromptLeak(f"the prompt for {problem.name} would contain the problem itself (example {example.name})")
    if prompts.fixed is not None and problem.name in prompts.fixed.names_flat():
        raise PromptLeak(f"the fixed prompt {prompts.source} contains {problem.name}")
    return chosen
