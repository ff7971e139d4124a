"""Few-shot prompts for statement autoformalization, informal drafts and formal sketches.

Three file shapes load into one `PromptSet`:
- the project's own shape (`examples/lean4.json`, `examples/isabelle.json` in this package): a `format`
  with one block template per task and a list of `examples`;
- Draft, Sketch, Prove's `paper_prompt_examples/*.json` (a folder of files with a `prompt`, or the parsed
  `paper_prompt_examples.jsonl`): DSP's own block layout;
- Llemma's `llemma_isabelle_informal2formal.json`: fixed prompt prefixes chosen by a keyword, followed by
  `doc_template`; used verbatim so that runs reproduce the paper's prompt exactly.

Text from the data (informal statements are full of `{` and `}`) is never passed through `str.format`;
placeholders are substituted in the template only.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import DataError
from ..types import Language

EXAMPLES_PACKAGE = "llemma_prove.autoformalize.examples"
PLACEHOLDER = re.compile(r"\{(informal_statement|informal_proof|formal_statement|formal_sketch)\}")


@dataclass(frozen=True)
class Example:
    """One worked problem for a few-shot prompt."""

    name: str
    informal_statement: str
    informal_proof: str = ""
    formal_statement: str = ""  # Lean: ends with `:= by sorry`; Isabelle: the statement without proof
    formal_sketch: str = ""  # the statement followed by a proof whose open steps are holes
    split: str = ""  # "valid" for the project's own examples; "" where a prompt file does not say
    category: str = ""  # DSP's "algebra" / "number_theory" (its prompt files say)
    raw: str = ""  # DSP: the example's prompt text exactly as its file holds it


@dataclass(frozen=True)
class PromptFormat:
    """Block templates (placeholders: informal_statement, informal_proof, formal_statement, formal_sketch)."""

    statement: str
    draft: str
    sketch: str
    separator: str = "\n\n\n\n"
    statement_stop: tuple[str, ...] = ("\n\n", "Informal:")
    draft_stop: tuple[str, ...] = ("*)", "Formal:")
    sketch_stop: tuple[str, ...] = ("\n\n\n", "Informal:")

    def __post_init__(self) -> None:
        for name, template, last in (
            ("statement", self.statement, "{formal_statement}"),
            ("draft", self.draft, "{informal_proof}"),
            ("sketch", self.sketch, "{formal_sketch}"),
        ):
            if last not in template:
                raise ValueError(f"the {name} block template must contain {last}")


@dataclass(frozen=True)
class FixedPrompts:
    """Llemma's fixed prefixes: `prompts[key] + doc_template`, key chosen by a keyword of the statement."""

    prompts: Mapping[str, str]
    doc_template: str
    keyword: str = "numbertheory"
    keyword_key: str = "numbertheory"
    default_key: str = "other"
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def names_flat(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for group in self.names.values() for n in group))

    def key_for(self, formal_statement: str) -> str:
        return self.keyword_key if self.keyword in formal_statement else self.default_key


@dataclass(frozen=True)
class PromptSet:
    language: Language
    format: PromptFormat
    examples: tuple[Example, ...]
    source: str = "default"
    fixed: FixedPrompts | None = None

    def example_names(self) -> set[str]:
        names = {e.name for e in self.examples}
        if self.fixed is not None:
            for group in self.fixed.names.values():
                names.update(group)
        return names

    def with_examples(self, examples: Sequence[Example]) -> "PromptSet":
        return replace(self, examples=tuple(examples))


def prompt_digest(prompts: PromptSet) -> str:
    """sha256 of everything in a prompt set that reaches the model (format, examples, fixed prefixes)."""
    data = {
        "format": asdict(prompts.format),
        "examples": [asdict(e) for e in prompts.examples],
        "fixed": None if prompts.fixed is None else {
            "prompts": dict(prompts.fixed.prompts), "doc_template": prompts.fixed.doc_template,
            "keyword": prompts.fixed.keyword, "keyword_key": prompts.fixed.keyword_key,
            "default_key": prompts.fixed.default_key},
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def render(template: str, **values: str) -> str:
    """Substitute `{name}` placeholders of the template; the values are inserted verbatim."""

    def sub(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    return PLACEHOLDER.sub(sub, template)


def prefix_before(template: str, placeholder: str, **values: str) -> str:
    """The template rendered up to (not including) `placeholder`: the open block a model completes."""
    head = template.split("{" + placeholder + "}", 1)[0]
    return render(head, **values)


# -- loading --------------------------------------------------------------------------------------


def default_prompts(language: Language) -> PromptSet:
    """The project's own examples for a language (written for this project, from the valid split)."""
    filename = "lean4.json" if language is Language.LEAN4 else "isabelle.json"
    resource = resources.files(EXAMPLES_PACKAGE).joinpath(filename)
    data = json.loads(resource.read_text(encoding="utf-8"))
    return _from_project_json(data, f"{EXAMPLES_PACKAGE}/{filename}", language)


def load_prompts(path: str | Path, language: Language) -> PromptSet:
    """Read a prompt file or folder in any of the three shapes; `DataError` names what is wrong."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise DataError(f"prompt folder {path} holds no .json example files (expected DSP's paper_prompt_examples)")
        examples = [_dsp_example(_read_json(f), str(f)) for f in files]
        return PromptSet(language, dsp_format(), tuple(examples), source=str(path))
    if not path.exists():
        raise DataError(f"prompt file {path} does not exist")
    if path.suffix == ".jsonl":
        examples = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            examples.append(_dsp_example(row, f"{path}:{lineno}"))
        return PromptSet(language, dsp_format(), tuple(examples), source=str(path))
    data = _read_json(path)
    if isinstance(data, dict) and "examples" in data and "format" in data:
        return _from_project_json(data, str(path), language)
    if isinstance(data, dict) and "prompts" in data and "doc_template" in data:
        return _from_llemma_json(data, str(path), language)
    if isinstance(data, dict) and "prompt" in data:
        return PromptSet(language, dsp_format(), (_dsp_example(data, str(path)),), source=str(path))
    raise DataError(
        f"prompt file {path}: unknown shape (expected the project's format/examples, Llemma's "
        "prompts/doc_template, or DSP's prompt examples)"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"prompt file {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except OSError as exc:
        raise DataError(f"prompt file {path} cannot be read: {exc}") from None


def _from_project_json(data: dict[str, Any], source: str, language: Language) -> PromptSet:
    fmt = data["format"]
    try:
        prompt_format = PromptFormat(
            statement=fmt["statement"],
            draft=fmt["draft"],
            sketch=fmt["sketch"],
            separator=fmt.get("separator", "\n\n\n\n"),
            statement_stop=tuple(fmt.get("statement_stop", PromptFormat.statement_stop)),
            draft_stop=tuple(fmt.get("draft_stop", PromptFormat.draft_stop)),
            sketch_stop=tuple(fmt.get("sketch_stop", PromptFormat.sketch_stop)),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DataError(f"prompt file {source}: bad 'format' ({exc})") from None
    file_language = data.get("language")
    if file_language and file_language != language.value:
        raise DataError(f"prompt file {source} is for {file_language}, not {language.value}")
    examples = []
    for i, row in enumerate(data["examples"]):
        try:
            examples.append(Example(
                name=row["name"],
                informal_statement=row["informal_statement"],
                informal_proof=row.get("informal_proof", ""),
                formal_statement=row.get("formal_statement", ""),
                formal_sketch=row.get("formal_sketch", ""),
                split=row.get("split", ""),
            ))
        except (KeyError, TypeError) as exc:
            raise DataError(f"prompt file {source}: example {i} lacks {exc}") from None
    return PromptSet(language, prompt_format, tuple(examples), source=source)


# DSP's block layout: no space before the closing `*)`, the sketch right after `Formal:`.
_DSP_BLOCK = re.compile(
    r"\AInformal:\n\(\*### Problem\n\n(?P<statement>.*?)\n\n### Solution\n\n(?P<proof>.*?)\s*\*\)\n\nFormal:\n(?P<formal>.*)\Z",
    re.S,
)


def dsp_format() -> PromptFormat:
    return PromptFormat(
        statement="Informal:\n(*### Problem\n\n{informal_statement}*)\n\nFormal:\n{formal_statement}",
        draft="Informal:\n(*### Problem\n\n{informal_statement}\n\n### Solution\n\n{informal_proof}",
        sketch="Informal:\n(*### Problem\n\n{informal_statement}\n\n### Solution\n\n{informal_proof}*)\n\nFormal:\n{formal_sketch}",
        separator="\n\n\n\n",
        statement_stop=("\n\n", "Informal:"),
        draft_stop=("*)", "Formal:"),
        sketch_stop=("\n\n\n", "Informal:"),
    )


def parse_dsp_block(text: str) -> tuple[str, str, str] | None:
    """(informal statement, informal proof, formal text) of one DSP-layout block, or None."""
    match = _DSP_BLOCK.match(text.strip("\n"))
    if match is None:
        return None
    return match.group("statement"), match.group("proof"), match.group("formal")


def _dsp_example(row: Any, source: str) -> Example:
    if not isinstance(row, dict):
        raise DataError(f"{source}: expected a JSON object")
    name = str(row.get("tag") or row.get("name") or "")
    if "formal_sketch" in row:
        statement, proof, sketch = row.get("informal_statement", ""), row.get("informal_proof", ""), row["formal_sketch"]
    elif "prompt" in row:
        parsed = parse_dsp_block(row["prompt"])
        if parsed is None:
            raise DataError(f"{source}: the prompt is not in DSP's Informal/Formal layout")
        statement, proof, sketch = parsed
    else:
        raise DataError(f"{source}: needs 'formal_sketch' or 'prompt'")
    from .isabelle import split_statement  # the Isabelle statement ends where its proof begins

    raw = row.get("prompt") if isinstance(row.get("prompt"), str) else ""
    if not raw:
        raw = render(dsp_format().sketch, informal_statement=statement, informal_proof=proof, formal_sketch=sketch)
    return Example(name, statement, proof, split_statement(sketch)[0], sketch,
                   category=str(row.get("category") or ""), raw=raw)


def _from_llemma_json(data: dict[str, Any], source: str, language: Language) -> PromptSet:
    if language is not Language.ISABELLE:
        raise DataError(f"prompt file {source} holds Isabelle prompts; use it with --target isabelle")
    prompts = data["prompts"]
    if not isinstance(prompts, dict) or not prompts:
        raise DataError(f"prompt file {source}: 'prompts' must be an object of prompt texts")
    names = {k: tuple(v) for k, v in (data.get("theorems_in_prompts") or {}).items()}
    keys = list(prompts)
    fixed = FixedPrompts(
        prompts=dict(prompts),
        doc_template=data["doc_template"],
        keyword=str(data.get("selection_keyword") or "numbertheory"),
        keyword_key="numbertheory" if "numbertheory" in prompts else keys[0],
        default_key="other" if "other" in prompts else keys[-1],
        names=names,
    )
    stop = data.get("stop", "\n\n\n")
    stops = tuple(stop) if isinstance(stop, list) else (stop,)
    # The examples inside the prefixes also serve the draft step (Llemma's file has no draft prompt).
    examples: dict[str, Example] = {}
    from .isabelle import split_statement

    for text in prompts.values():
        for block in text.split("\n\n\n\n"):
            parsed = parse_dsp_block(block)
            if parsed is None:
                continue
            statement, proof, formal = parsed
            head = split_statement(formal)[0]
            name_match = re.match(r"\s*(?:theorem|lemma)\s+([^\s:]+)\s*:", head)
            name = name_match.group(1) if name_match else f"example_{len(examples)}"
            examples.setdefault(name, Example(name, statement, proof, head, formal))
    fmt = PromptFormat(
        statement="Informal:\n(*### Problem\n\n{informal_statement} *)\n\nFormal:\n{formal_statement}",
        draft="Informal:\n(*### Problem\n\n{informal_statement}\n\n### Solution\n\n{informal_proof}",
        sketch=fixed.doc_template.replace("{formal_statement}", "{formal_sketch}"),
        separator="\n\n\n\n",
        sketch_stop=stops,
    )
    return PromptSet(language, fmt, tuple(examples.values()), source=source, fixed=fixed)


# -- building prompts -----------------------------------------------------------------------------


def _join(prompts: PromptSet, blocks: Sequence[str], query: str) -> str:
    if not blocks:
        return query
    return prompts.format.separator.join(blocks) + prompts.format.separator + query


def statement_prompt(prompts: PromptSet, examples: Sequence[Example], informal_statement: str, stub: str) -> str:
    """Few-shot prompt whose open block ends with `stub` (e.g. `theorem name`), the model continues it."""
    blocks = [
        render(prompts.format.statement, informal_statement=e.informal_statement, formal_statement=e.formal_statement)
        for e in examples
        if e.formal_statement
    ]
    query = prefix_before(prompts.format.statement, "formal_statement", informal_statement=informal_statement) + stub
    return _join(prompts, blocks, query)


def draft_prompt(prompts: PromptSet, examples: Sequence[Example], informal_statement: str) -> str:
    """Few-shot prompt for an informal proof; the model writes the solution text."""
    draft = prompts.format.draft
    blocks = [
        render(draft, informal_statement=e.informal_statement, informal_proof=e.informal_proof)
        + _closing(prompts)
        for e in examples
        if e.informal_proof
    ]
    query = prefix_before(draft, "informal_proof", informal_statement=informal_statement)
    return _join(prompts, blocks, query)


def _closing(prompts: PromptSet) -> str:
    """What closes a draft block: the comment terminator that follows the proof in the sketch template."""
    sketch = prompts.format.sketch
    after = sketch.split("{informal_proof}", 1)[1] if "{informal_proof}" in sketch else ""
    return after.split("\n", 1)[0]


def sketch_prompt(
    prompts: PromptSet,
    examples: Sequence[Example],
    informal_statement: str,
    informal_proof: str,
    statement_head: str,
) -> str:
    """Few-shot prompt ending in the formal statement; the model continues with the proof sketch."""
    if prompts.fixed is not None:
        key = prompts.fixed.key_for(statement_head)
        return prompts.fixed.prompts[key] + render(
            prompts.fixed.doc_template,
            informal_statement=informal_statement,
            informal_proof=informal_proof,
            formal_statement=statement_head,
        )
    blocks = [
        render(
            prompts.format.sketch,
            informal_statement=e.informal_statement,
            informal_proof=e.informal_proof,
            formal_sketch=e.formal_sketch,
        )
        for e in examples
        if e.formal_sketch
    ]
    query = render(
        prompts.format.sketch,
        informal_statement=informal_statement,
        informal_proof=informal_proof,
        formal_sketch=statement_head,
    )
    return _join(prompts, blocks, query)


def cut(text: str, stops: Sequence[str]) -> str:
    """`text` up to the first stop string."""
    end = len(text)
    for stop in stops:
        index = text.find(stop)
        if index != -1:
            end = min(end, index)
    return text[:end]
