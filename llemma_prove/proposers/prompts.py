"""Next-tactic prompts in the LLEMMA paper's format, loaded from JSON files.

A prompt file has the shape of the paper's few-shot prompt file: `template` (text with one
`placeholder` where the goal state goes) and/or `examples` (`tactic_state` / `next_tactic` pairs). With
only examples, the template is built from them in the paper's `Tactic state:` / `---` layout. The model
continues after the final `---` and the tactic is read up to the next `---`.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from ..data.minif2f import _write_atomic, default_cache_dir
from ..data.upstream import PinnedFile, fetch_pinned_file
from ..errors import DataError

DEFAULT_STOP: tuple[str, ...] = ("---",)
DEFAULT_PLACEHOLDER = "%s"
# The project's own wording (the paper's prompt is fetched from its upstream, never kept here).
DEFAULT_INSTRUCTION = "Each Lean 4 tactic state below is followed by one tactic that makes progress on it."


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
    source: str = field(default="", compare=False)  # where it came from (file, upstream, package)

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
    def sha256(self) -> str:
        """What the model is shown and where its answer ends: the prompt rendered with NUL in place of
        the goal state, then the stop strings. Equal for the same prompt whatever file it came from."""
        blob = self.render("\x00") + "\x00\x00" + "\x00".join(self.stop)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

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
        return cls.from_json(data, source=str(path.resolve()), name=path.stem)

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
                   examples=examples, source=source)


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
    return PromptTemplate.from_json(data, source=f"builtin:{filename}", name=Path(filename).stem)


def default_lean4_template() -> PromptTemplate:
    """The project's own few-shot next-tactic prompt for Lean 4, in the paper's format."""
    return packaged_template("lean4_next_tactic.json")


def default_isabelle_template() -> PromptTemplate:
    """The project's own few-shot next-step prompt for Isabelle (`Proof state:` / `---` blocks)."""
    return packaged_template("isabelle_next_step.json")


# -- the paper's harness prompt, fetched ----------------------------------------------------------------

# wellecks/llemma_formal2formal at the commit the LLEMMA paper's Lean 4 results came from; its
# `proofsearch.py` builds the 3-shot prompt in `_prompt_fewshot` and stops generation at `---`.
HARNESS_PROMPT_FILE = PinnedFile("wellecks/llemma_formal2formal", "0931a1e27ede893b14b30da601dbf97f2b3ab42d",
                                 "proofsearch.py")
HARNESS_PROMPT_FUNCTION = "_prompt_fewshot"
HARNESS_STOP: tuple[str, ...] = ("---",)
# `PromptTemplate.sha256` of that prompt: checked on every load, and the report's test for "the paper's prompt".
HARNESS_PROMPT_SHA256 = "ae440a4af3e23e2e93afcf9b5a0fff68cf9046edd6bb8568ec998274d3a33d2f"
OFFLINE_PROMPT_HINT = ("pass --prompt FILE (a prompt JSON such as a copy of the harness's prompt) or "
                       "--prompt builtin (the project's own prompt; no paper comparison then)")


def percent_template(source: str, function: str, origin: str) -> str:
    """The `"..." % (ts)` string literal inside `function` of a Python source, as a template with one
    `%s`. Read with `ast`, never executed."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise DataError(f"{origin} is not Python source ({exc.msg}, line {exc.lineno})") from None
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function]
    if len(functions) != 1:
        raise DataError(f"{origin} has {len(functions)} functions named {function} (expected one)")
    literals = [
        n.left.value for n in ast.walk(functions[0])
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mod)
        and isinstance(n.left, ast.Constant) and isinstance(n.left.value, str)
    ]
    if len(literals) != 1:
        raise DataError(f"{origin}: {function} has {len(literals)} '...' % (...) prompts (expected one)")
    text = literals[0]
    if text.count("%") != 1 or text.count("%s") != 1:
        raise DataError(f"{origin}: the prompt in {function} has format directives other than one %s")
    return text


def _extracted_path(spec: PinnedFile, function: str, cache_root: Path) -> Path:
    return cache_root / "prompts" / spec.repo.replace("/", "--") / spec.commit / f"{Path(spec.path).stem}.{function}.json"


async def harness_prompt(
    cache_root: Path | None = None,
    spec: PinnedFile = HARNESS_PROMPT_FILE,
    function: str = HARNESS_PROMPT_FUNCTION,
    expected_sha256: str | None = HARNESS_PROMPT_SHA256,
) -> PromptTemplate:
    """The harness's prompt: from the cache, else fetched at its pinned commit and extracted.

    The extracted prompt is cached as a prompt JSON (`template`, `placeholder`, `stop`, `upstream`,
    `source_sha256`); a cache pre-seeded with a copy of the same prompt is used as is. Either way the
    prompt must hash to `expected_sha256`, so no other text can stand in for the paper's prompt.
    """
    cache_root = cache_root or default_cache_dir()
    upstream = f"{spec.describe()}#{function}"
    extracted = _extracted_path(spec, function, cache_root)
    if extracted.exists():
        template = PromptTemplate.load(extracted)
    else:
        fetched = await fetch_pinned_file(spec, cache_root, hint=OFFLINE_PROMPT_HINT)
        text = percent_template(fetched.text, function, spec.describe())
        data = {"name": "llemma_formal2formal", "template": text, "placeholder": "%s", "stop": list(HARNESS_STOP),
                "upstream": upstream, "source_sha256": fetched.sha256}
        _write_atomic(extracted, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
        template = PromptTemplate.load(extracted)
    template = PromptTemplate(template.template, template.placeholder, template.stop, "llemma_formal2formal",
                              template.examples, source=upstream)
    if expected_sha256 is not None and template.sha256 != expected_sha256:
        raise DataError(f"the prompt cached in {extracted} is not the harness's (sha256 {template.sha256[:12]}, "
                        f"expected {expected_sha256[:12]}); delete it to fetch it again, or {OFFLINE_PROMPT_HINT}")
    return template
