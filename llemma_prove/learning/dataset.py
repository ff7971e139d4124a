"""Training examples from run directories: (goal state, tactic) along each accepted proof's path.

Each example is the text the model saw and the text it should have answered: the prompt is
`PromptTemplate.render(state)` of the very template the run's proposer used, and the completion is the
tactic in the answer layout of that template's own worked examples (`completion_format`), so training and
inference see the same text. Only proofs the prover's final check accepted count (`record.proved`), and
only steps the search graph shows the prover actually ran on that state. Error outcomes can be kept as
negative examples, marked `label="negative"`.

Output (a directory): `examples.jsonl`, `hf/` (a Hugging Face `datasets` dataset, `load_from_disk`) and
`dataset.json` (where every example came from: runs, statement sets, splits, theorem names; the prompt's
fingerprint; counts). The directory is written under a temporary name and renamed, so it is complete
or absent.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..config import RunConfig
from ..errors import DataError, UserError
from ..proposers.prompts import PromptTemplate
from ..store import TheoremRecord, load_graph, load_run
from .leakage import DEFAULT_HOLDOUT, refuse_holdout_run

log = logging.getLogger(__name__)

DATASET_FORMAT = "llemma-prove-dataset/1"
METADATA_FILE = "dataset.json"
JSONL_FILE = "examples.jsonl"
HF_DIR = "hf"
POSITIVE, NEGATIVE = "positive", "negative"


# -- the text format ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompletionFormat:
    """What the model writes after the prompt: `prefix + tactic + suffix` (suffix ends with a stop string)."""

    prefix: str
    suffix: str
    derived_from: str  # "worked example" (read off the template) or "default"

    def render(self, tactic: str) -> str:
        return self.prefix + tactic + self.suffix


def completion_format(template: PromptTemplate) -> CompletionFormat:
    """The answer layout of the template's own worked examples.

    The text after the placeholder (e.g. `\\n---\\nNext tactic:\\n---`) also follows each worked example
    earlier in the prompt; what comes after it there, up to the first stop string, is an answer the model
    was shown. Its leading and trailing whitespace, plus that stop string, are the format. A prompt with
    no worked example gets a newline, the tactic, a newline and the first stop string."""
    before, after = template.template.split(template.placeholder, 1)
    start = before.find(after) if after.strip() else -1
    while start != -1:
        rest = before[start + len(after):]
        hits = [(rest.find(s), s) for s in template.stop if rest.find(s) != -1]
        if hits:
            cut, stop = min(hits)
            answer = rest[:cut]
            if answer.strip():
                body = answer.strip()
                lead = answer[: answer.index(body)]
                trail = answer[answer.index(body) + len(body):]
                return CompletionFormat(lead, trail + stop, "worked example")
        start = before.find(after, start + 1)
    log.warning("prompt %s has no worked example to read the answer layout from; using newline + tactic + "
                "newline + %r", template.name, template.stop[0])
    return CompletionFormat("\n", "\n" + template.stop[0], "default")


def prompt_fingerprint(template: PromptTemplate) -> str:
    """The template's `sha256` where the class has one, else the same definition computed here: the
    prompt rendered with NUL for the state, then the stop strings."""
    own = getattr(template, "sha256", None)
    if isinstance(own, str):
        return own
    blob = template.render("\x00") + "\x00\x00" + "\x00".join(template.stop)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


async def default_template(config: RunConfig) -> PromptTemplate:
    """The prompt a run used when it recorded no prompt file: the proposer's default for its language."""
    from ..proposers import prompts

    if config.prover.name == "isabelle":
        return prompts.default_isabelle_template()
    source = getattr(config.model, "prompt_source", None) or ""
    harness = getattr(prompts, "harness_prompt", None)
    if harness is not None and not str(source).startswith("builtin:"):
        return await harness()
    return prompts.default_lean4_template()


async def template_for_run(config: RunConfig, run_dir: Path, override: Path | None = None) -> PromptTemplate:
    """The prompt template the run's proposer used (or `override`), checked against the run's record."""
    if override is not None:
        template = PromptTemplate.load(override)
        path: Path | None = override
    elif config.model.prompt_path:
        path = Path(config.model.prompt_path)
        if not path.is_file():
            raise UserError(f"{run_dir} was searched with the prompt file {path}, which is gone; pass --prompt FILE")
        template = PromptTemplate.load(path)
    else:
        path = None
        template = await default_template(config)
    recorded = config.model.prompt_sha256
    if recorded:
        known = {prompt_fingerprint(template)}
        if path is not None:
            known.add(hashlib.sha256(path.read_bytes()).hexdigest())
        if recorded not in known:
            raise UserError(
                f"the prompt {path or template.name} is not the one {run_dir} was searched with (sha256 "
                f"{recorded[:12]}); pass that prompt with --prompt FILE so training sees the text the model saw"
            )
    return template


# -- examples -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    prompt: str
    completion: str
    state: str
    tactic: str
    label: str  # POSITIVE or NEGATIVE
    theorem: str
    split: str
    statement_set: str
    run: str
    step: int  # position of the tactic in the proof (negatives: depth of the state)
    outcome: str = "proved"  # the prover's answer to this tactic: goals, proved, error, timeout
    message: str = ""

    def key(self) -> tuple[str, str, str]:
        return (self.label, self.prompt, self.completion)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Counts:
    proofs: int = 0
    positive: int = 0
    negative: int = 0
    duplicates: int = 0
    unrepresentable: int = 0  # tactics holding a stop string: the model could never produce them
    unmatched_steps: int = 0  # accepted proof steps the search graph does not show (e.g. a hammer's own proof)

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class RunExamples:
    run_dir: Path
    config: RunConfig
    examples: list[Example] = field(default_factory=list)
    theorems: list[str] = field(default_factory=list)  # theorems that gave at least one example
    counts: Counts = field(default_factory=Counts)

    def source_json(self) -> dict[str, Any]:
        return {
            "run": str(self.run_dir.resolve()),
            "task": self.config.task,
            "split": self.config.split,
            "statements": self.config.statements.to_json(),
            "theorems": sorted(set(self.theorems)),
        }


def _proof_path(graph: Any, proof: Sequence[str]) -> list[tuple[str, str, str]]:
    """(state text, tactic, outcome) for the longest prefix of `proof` the graph shows, from its root."""
    node = graph.graph.get("root")
    if node is None or node not in graph:
        return []
    out: list[tuple[str, str, str]] = []
    for i, tactic in enumerate(proof):
        last = i == len(proof) - 1
        wanted = "proved" if last else "goals"
        nxt = None
        for _, child, data in graph.out_edges(node, data=True):
            if data.get("tactic") == tactic and data.get("outcome") == wanted:
                nxt = child
                break
        if nxt is None:
            break
        out.append((graph.nodes[node].get("text", ""), tactic, wanted))
        node = nxt
        if not last and graph.nodes[node].get("kind") != "state":
            break
    return out


def examples_from_run(
    run_dir: Path, template: PromptTemplate, fmt: CompletionFormat, negatives: bool = False
) -> RunExamples:
    config, records = load_run(run_dir)
    found = RunExamples(Path(run_dir), config)

    def make(record: TheoremRecord, state: str, tactic: str, label: str, step: int, outcome: str, message: str = "") -> None:
        completion = fmt.render(tactic)
        if template.extract(completion) != tactic.strip() or not tactic.strip():
            found.counts.unrepresentable += 1
            return
        found.examples.append(Example(
            prompt=template.render(state), completion=completion, state=state, tactic=tactic, label=label,
            theorem=record.name, split=record.split or config.split, statement_set=config.statements.statement_set,
            run=str(Path(run_dir).resolve()), step=step, outcome=outcome, message=message,
        ))
        found.theorems.append(record.name)

    for record in records:
        accepted = record.proved and (record.verification or {}).get("verdict") == "accepted"
        if not (accepted or negatives):
            continue
        graph = load_graph(run_dir, record)
        if graph is None:
            continue
        if accepted and record.proof:
            found.counts.proofs += 1
            path = _proof_path(graph, record.proof)
            found.counts.unmatched_steps += len(record.proof) - len(path)
            for step, (state, tactic, outcome) in enumerate(path):
                make(record, state, tactic, POSITIVE, step, outcome)
        if negatives:
            for parent, leaf, data in graph.edges(data=True):
                if data.get("outcome") != "error":
                    continue
                attrs = graph.nodes[parent]
                message = str(graph.nodes[leaf].get("message", ""))
                make(record, attrs.get("text", ""), str(data.get("tactic", "")), NEGATIVE,
                     int(attrs.get("depth", 0)), "error", message)
    return found


def deduplicate(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """First occurrence of each (label, prompt, completion), and how many repeats were dropped."""
    seen: set[tuple[str, str, str]] = set()
    kept: list[Example] = []
    dropped = 0
    for example in examples:
        if example.key() in seen:
            dropped += 1
            continue
        seen.add(example.key())
        kept.append(example)
    return kept, dropped


# -- the dataset directory ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    path: Path
    positive: int
    negative: int
    metadata: dict[str, Any]


async def build_dataset(
    run_dirs: Sequence[Path],
    out: Path,
    *,
    prompt: Path | None = None,
    negatives: bool = False,
    holdout: str = DEFAULT_HOLDOUT,
    force: bool = False,
) -> DatasetInfo:
    """Turn the runs' accepted proofs into a dataset directory at `out` (see the module docstring)."""
    if not run_dirs:
        raise UserError("name at least one run directory")
    out = Path(out)
    if out.exists() and not force:
        raise UserError(f"{out} already exists; choose another --out or pass --force to replace it")
    loaded = []
    for run_dir in run_dirs:  # cheap checks first: every run readable and none from the held-out split
        config, _ = load_run(run_dir)
        refuse_holdout_run(config, Path(run_dir), holdout)
        loaded.append((Path(run_dir), config))
    template, fingerprint = None, None
    for run_dir, config in loaded:
        candidate = await template_for_run(config, run_dir, prompt)
        if template is None:
            template, fingerprint = candidate, prompt_fingerprint(candidate)
        elif prompt_fingerprint(candidate) != fingerprint:
            raise UserError(f"{run_dir} was searched with another prompt than {loaded[0][0]}; "
                            "build one dataset per prompt (training text must match inference text)")
    assert template is not None
    fmt = completion_format(template)
    per_run = [examples_from_run(run_dir, template, fmt, negatives) for run_dir, _ in loaded]
    everything = [e for r in per_run for e in r.examples]
    examples, duplicates = deduplicate(everything)
    counts = Counts()
    for r in per_run:
        for key, value in r.counts.to_json().items():
            setattr(counts, key, getattr(counts, key) + value)
    counts.duplicates = duplicates
    counts.positive = sum(e.label == POSITIVE for e in examples)
    counts.negative = sum(e.label == NEGATIVE for e in examples)
    metadata = {
        "format": DATASET_FORMAT,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "prompt": {"name": template.name, "sha256": fingerprint,
                   "source": getattr(template, "source", "") or str(prompt or "")},
        "completion": {"prefix": fmt.prefix, "suffix": fmt.suffix, "derived_from": fmt.derived_from},
        "holdout_split": holdout,
        "negatives": negatives,
        "sources": [r.source_json() for r in per_run],
        "counts": counts.to_json(),
        "files": {"jsonl": JSONL_FILE, "hf": HF_DIR},
    }
    write_dataset_dir(out, examples, metadata)
    log.info("dataset %s: %d positive, %d negative examples from %d runs", out, counts.positive, counts.negative,
             len(per_run))
    return DatasetInfo(out, counts.positive, counts.negative, metadata)


def _datasets_module() -> Any:
    try:
        import datasets
    except ImportError:
        raise UserError("writing a Hugging Face dataset needs the `datasets` package: pip install 'llemma-prove[train]'") from None
    return datasets


def write_dataset_dir(out: Path, examples: Sequence[Example], metadata: dict[str, Any]) -> None:
    """Write everything into a sibling temporary directory, then rename it onto `out`."""
    datasets = _datasets_module()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    rows = [e.to_json() for e in examples]
    with (tmp / JSONL_FILE).open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        handle.flush()
        os.fsync(handle.fileno())
    columns = {name: [row[name] for row in rows] for name in Example.__dataclass_fields__}
    features = datasets.Features({
        name: datasets.Value("int64" if name == "step" else "string") for name in Example.__dataclass_fields__
    })
    datasets.disable_progress_bars()
    datasets.Dataset.from_dict(columns, features=features).save_to_disk(str(tmp / HF_DIR))
    jsonl_sha = hashlib.sha256((tmp / JSONL_FILE).read_bytes()).hexdigest()
    metadata = {**metadata, "examples_sha256": jsonl_sha}
    (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def read_metadata(dataset_dir: Path) -> dict[str, Any]:
    path = Path(dataset_dir) / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{dataset_dir} is not a dataset written by `llemma-prove dataset` (no {METADATA_FILE})") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is unreadable ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != DATASET_FORMAT:
        raise DataError(f"{path} is not a {DATASET_FORMAT} metadata file")
    return data


def read_examples(dataset_dir: Path) -> list[dict[str, Any]]:
    """The examples of a dataset directory, from its JSONL (checked against the recorded sha256)."""
    metadata = read_metadata(dataset_dir)
    path = Path(dataset_dir) / JSONL_FILE
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != metadata.get("examples_sha256"):
        raise DataError(f"{path} does not match the sha256 recorded in {METADATA_FILE}; rebuild the dataset")
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
