"""Next-tactic prompts in the LLEMMA paper's format, loaded from JSON files.

A prompt file has the shape of the paper's few-shot prompt file: `template` (text with one
`placeholder` where the goal state goes) and/or `examples` (`tactic_state` / `next_tactic` pairs). With
only examples, the template is built from them in the paper's `Tactic state:` / `---` layout. The model
continues after the final `---` and the tactic is read up to the next `---`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError

DEFAULT_STOP: tuple[str, ...] = ("---",)
DEFAULT_PLACEHOLDER = "%s"
DEFAULT_INSTRUCTION = "Given the Lean 4 tactic state, suggest a next tactic.\nHere are some examples:"


@dataclass(frozen=True)
class FewShotExample:
    tactic_state: str
    next_tactic: str


def example_block(state: str, tactic: str | None) -> str:
    """One `Tactic state:` block; with `tactic=None` the open block the model completes."""
    head = f"Tactic state:\n---\n{state}\n---\nNext tactic:\n---"
    return head if tactic is None else f"{head}\n{tactic}\n---\n\n"


def template_from_examples(
    examples: Sequence[FewShotExample], instruction: str = DEFAULT_INSTRUCTION, placeholder: str = DEFAULT_PLACEHOLDER
) -> str:
    parts = [instruction.rstrip("\n") + "\n\n"] if instruction else []
    parts.extend(example_block(e.tactic_state, e.next_tactic) for e in examples)
    parts.append(example_block(placeholder, None))
    return "".join(parts)


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt with exactly one placeholder for the goal state, and the strings that end a tactic."""

    template: str
    placeholder: str = DEFAULT_PLACEHOLDER
    stop: tuple[str, ...] = DEFAULT_STOP
    name: str = "custom"
    examples: tuple[FewShotExample, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        count = self.template.count(self.placeholder) if self.placeholder else 0
        if count != 1:
            raise ValueError(
                f"prompt template {self.name!r} must contain the placeholder {self.placeholder!r} exactly once "
                f"(found {count})"
            )
        if any(not s for s in self.stop):
            raise ValueError(f"prompt template {self.name!r} has an empty stop string")

    @property
    def prefix(self) -> str:
        """The text every prompt of this template starts with (the part before the placeholder)."""
        return self.template.split(self.placeholder, 1)[0]

    def render(self, state_text: str) -> str:
        """The prompt for one goal state (the state is inserted verbatim, never interpreted)."""
        before, after = self.template.split(self.placeholder, 1)
        return before + state_text + after

    def cut(self, completion_text: str) -> str:
        """The completion up to (not including) the first stop string."""
        end = len(completion_text)
        for stop in self.stop:
            index = completion_text.find(stop)
            if index != -1:
                end = min(end, index)
        return completion_text[:end]

    def extract(self, completion_text: str, *, strip: bool = True) -> str:
        """The tactic in a completion: cut at the first stop string, then stripped unless `strip=False`."""
        text = self.cut(completion_text)
        return text.strip() if strip else text

    @classmethod
    def load(cls, path: str | Path) -> "PromptTemplate":
        """Read a prompt file; a missing or malformed file raises `DataError` naming it and the problem."""
        path = Path(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"prompt file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"prompt file {path} cannot be read: {exc}") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"prompt file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        return cls.from_json(data, source=str(path), name=path.stem)

    @classmethod
    def from_json(cls, data: Any, *, source: str = "<prompt>", name: str = "custom") -> "PromptTemplate":
        def fail(problem: str) -> DataError:
            return DataError(f"prompt file {source}: {problem}")

        if not isinstance(data, dict):
            raise fail(f"expected a JSON object, found {type(data).__name__}")
        examples = _parse_examples(data.get("examples"), fail)
        placeholder = data.get("placeholder", DEFAULT_PLACEHOLDER)
        if not isinstance(placeholder, str) or not placeholder:
            raise fail("'placeholder' must be a non-empty string")
        stop = data.get("stop", list(DEFAULT_STOP))
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not stop or not all(isinstance(s, str) and s for s in stop):
            raise fail("'stop' must be a non-empty string or a list of non-empty strings")
        template = data.get("template")
        if template is None:
            if not examples:
                raise fail("it has neither a 'template' nor any 'examples' (expected the shape of "
                           "llemma_formal2formal_lean4_fewshot.json)")
            instruction = data.get("instruction", DEFAULT_INSTRUCTION)
            if not isinstance(instruction, str):
                raise fail("'instruction' must be a string")
            template = template_from_examples(examples, instruction, placeholder)
        elif not isinstance(template, str):
            raise fail("'template' must be a string")
        count = template.count(placeholder)
        if count != 1:
            raise fail(f"'template' must contain the placeholder {placeholder!r} exactly once (found {count})")
        return cls(template=template, placeholder=placeholder, stop=tuple(stop), name=str(data.get("name", name)),
                   examples=examples)


def _parse_examples(value: Any, fail) -> tuple[FewShotExample, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise fail("'examples' must be a list")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise fail(f"example {i} must be an object with 'tactic_state' and 'next_tactic'")
        state, tactic = item.get("tactic_state"), item.get("next_tactic")
        if not isinstance(state, str) or not isinstance(tactic, str):
            raise fail(f"example {i} needs string fields 'tactic_state' and 'next_tactic'")
        out.append(FewShotExample(state, tactic))
    return tuple(out)


TEMPLATES_PACKAGE = "llemma_prove.proposers.templates"


def packaged_template(filename: str) -> PromptTemplate:
    """A template shipped inside the package (`llemma_prove/proposers/templates/`)."""
    resource = resources.files(TEMPLATES_PACKAGE).joinpath(filename)
    data = json.loads(resource.read_text(encoding="utf-8"))
    return PromptTemplate.from_json(data, source=f"{TEMPLATES_PACKAGE}/{filename}", name=Path(filename).stem)


def default_lean4_template() -> PromptTemplate:
    """The project's own few-shot next-tactic prompt for Lean 4, in the paper's format."""
    return packaged_template("lean4_next_tactic.json")


def default_isabelle_template() -> PromptTemplate:
    """The project's own few-shot next-step prompt for Isabelle (`Proof state:` / `---` blocks)."""
    return packaged_template("isabelle_next_step.json")
