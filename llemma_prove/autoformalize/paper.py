"""The published settings, reproduced point by point: LLEMMA's Isabelle informal-to-formal evaluation
(`--paper llemma`) and Draft, Sketch, Prove's prompt sampling (`--paper dsp`).

Other people's prompts are never carried in this source. On first use they are fetched from their
upstream repositories at a pinned commit (a shallow fetch of that one commit, the machinery of
`data/minif2f.py`), cached, and the cached file's sha256 is recorded in the run's config:
- LLEMMA: `wellecks/lm-evaluation-harness@b62c9d0` (branch `minif2f-isabelle`): the task
  `lm_eval/tasks/minif2f_isabelle.py` and its checker `unsafe_score_minif2f_isabelle.py`, read with
  `ast` (never run): the prompt dict `INFORMAL2FORMAL_PROMPTS` (evaluated as Python evaluated it, so
  `\\f` in `\\frac` is a form feed, as the model saw it), the stop sequence (`MiniF2FIsabelle.end_seq`),
  the query block (`_doc_to_text`) and the selection keyword (`fewshot_context`); from the checker, the
  theory header (`Checker.wrap_theorem`), the hole heuristics (`Checker._run_sledgehammer`) and the
  words turned into hammer calls (`Checker.get_parsed`), all checked against the constants below.
- DSP: `albertqjiang/draft_sketch_prove@647aa65`, `data/paper_prompt_examples/*.json`.

The rest of each setting is code, with the upstream line it follows:
- LLEMMA's checker wraps every problem in one header (`Checker.wrap_theorem`), and replaces
  `sledgehammer`, `normalhammer` and `sorry` alike by a hammer call (`Checker.get_parsed`): here, all
  three are holes (`AutoformalizeConfig.hole_tokens`). One greedy proof per problem; validation problems
  whose `theorem NAME:` occurs in a prompt are left out (`validation_docs`).
- DSP (`autoformalization/utils.py`, `get_a_single_sample` and `sample_prompts`): per attempt, 3
  examples drawn uniformly without replacement from the problem's category (`get_the_type`: "algebra"
  or "number_theory" as a substring of the name, else both categories), never the problem itself;
  each example stripped, the newline before `*)\\n\\nFormal:` removed, joined by a blank line; the
  informal proof cut to 5,000 characters and the draw repeated until examples + informal statement +
  informal proof fit in 10,000 characters; a `\\boxed{...}` answer moved into the statement; the formal
  statement with its name removed (`process_formal_statements`); the whole prompt stripped; generation
  stops at "Informal" (`parallel_codex_query_canon.py`), greedy (its default temperature 0.0).
  DSP seeded Python's global generator once (`random.seed(213)`) and drew in job order; here each
  attempt draws from its own generator seeded with (213, problem, attempt), so a run's prompts do not
  depend on order, concurrency or resume: the same distribution, not DSP's exact draws.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import random
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..data import minif2f as fetching
from ..errors import DataError, ProposerError
from .problems import InformalProblem
from .prompts import Example

log = logging.getLogger(__name__)

# The theory header of LLEMMA's checker (lm-evaluation-harness minif2f_isabelle.py, Checker.wrap_theorem)
# and of DSP's (draft_sketch_prove autoformalization/checker.py, Checker.minif2f_wrap_theorem): the same
# imports. `Symmetric_Polynomials.Vieta` is an AFP session.
PAPER_IMPORTS = (
    "HOL.HOL",
    "Complex_Main",
    "HOL-Library.Code_Target_Numeral",
    "HOL-Library.Sum_of_Squares",
    "Symmetric_Polynomials.Vieta",
    "HOL-Computational_Algebra.Computational_Algebra",
    "HOL-Number_Theory.Number_Theory",
)
# LLEMMA's checker replaces these by `sorry` before parsing and every `sorry` by `normalhammer` after
# (unsafe_score_minif2f_isabelle.py, Checker.get_parsed): each is a hole.
LLEMMA_HOLE_WORDS = ("sledgehammer", "normalhammer", "sorry")
DSP_SEED = 213
DSP_EXAMPLES = 3
DSP_MAX_PROMPT_CHARS = 10_000
DSP_MAX_INFORMAL_PROOF_CHARS = 5_000
DSP_STOP = ("Informal",)
DSP_MAX_DRAWS = 1_000  # DSP redrew without end; a problem no draw fits is an error here


@dataclass(frozen=True)
class UpstreamFile:
    """Prompt data at a pinned commit of a public repository."""

    name: str
    repo: str
    url: str
    commit: str
    paths: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.repo}@{self.commit[:12]}:{','.join(self.paths)}"


LLEMMA_PROMPTS = UpstreamFile(
    name="llemma_isabelle_informal2formal",
    repo="wellecks/lm-evaluation-harness",
    url="https://github.com/wellecks/lm-evaluation-harness.git",
    commit="b62c9d0c1bc48e9b881ba5e9f90cb34bb0304895",
    paths=("lm_eval/tasks/minif2f_isabelle.py", "unsafe_score_minif2f_isabelle.py"),
)
DSP_PROMPTS = UpstreamFile(
    name="dsp_paper_prompt_examples",
    repo="albertqjiang/draft_sketch_prove",
    url="https://github.com/albertqjiang/draft_sketch_prove.git",
    commit="647aa65ca7b89f4e0f7a65dc15b4e64a81af5e80",
    paths=("data/paper_prompt_examples",),
)


@dataclass(frozen=True)
class PromptData:
    """A cached prompt file (or folder) and what the run records about it."""

    path: Path
    sha256: str
    upstream: str

    def to_json(self) -> dict[str, str]:
        return {"path": str(self.path), "sha256": self.sha256, "upstream": self.upstream}


def sha256_path(path: Path) -> str:
    """sha256 of a file, or of a folder's `*.json` files (name and content, in name order)."""
    digest = hashlib.sha256()
    if path.is_dir():
        for child in sorted(path.glob("*.json")):
            digest.update(child.name.encode() + b"\0" + child.read_bytes() + b"\0")
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_path(spec: UpstreamFile, cache_root: Path | None = None) -> Path:
    root = cache_root or fetching.default_cache_dir()
    leaf = f"{spec.name}.json" if spec is LLEMMA_PROMPTS else spec.name
    return root / "prompts" / spec.name / spec.commit / leaf


def _offline(spec: UpstreamFile, exc: Exception) -> DataError:
    return DataError(
        f"could not fetch the paper's prompts from {spec.describe()} ({exc}); with no network, pass the "
        f"prompt data with --prompt PATH, or run without --paper to use the project's own prompts"
    )


# -- LLEMMA ------------------------------------------------------------------------------------------


def _constant_strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _parse(source: str, origin: str) -> ast.Module:
    try:
        with warnings.catch_warnings():  # upstream's non-raw literals hold escapes such as `\s`
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except SyntaxError as exc:
        raise DataError(f"{origin}: not Python source ({exc.msg})") from None


def _functions(tree: ast.AST, name: str) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name]


def parse_llemma_source(task_source: str, checker_source: str, origin: str) -> dict[str, Any]:
    """LLEMMA's informal-to-formal prompt data from the harness's task file and its checker (at the
    pinned commit, `unsafe_score_minif2f_isabelle.py`), read with `ast` (not run).

    Returns the shape of `llemma_isabelle_informal2formal.json` (`prompts`, `doc_template`, `stop`,
    `selection_keyword`, `theorems_in_prompts`) plus the checker's `header_imports`, `heuristics` and
    `hole_words` (what its parser turns into a hammer call)."""
    tree = _parse(task_source, origin)
    prompts = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "INFORMAL2FORMAL_PROMPTS"
                                                for t in node.targets):
            prompts = ast.literal_eval(node.value)
    if not isinstance(prompts, dict) or not all(isinstance(v, str) for v in prompts.values()):
        raise DataError(f"{origin}: no INFORMAL2FORMAL_PROMPTS dict of strings")
    # The stop sequence: the task's `end_seq` (b62c9d0), or a `STOP` class constant (later versions).
    stop = None
    for fn in _functions(tree, "end_seq"):
        for ret in (n for n in ast.walk(fn) if isinstance(n, ast.Return)):
            stop = ast.literal_eval(ret.value)  # type: ignore[arg-type]
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "STOP" for t in node.targets):
            stop = ast.literal_eval(node.value)
    if not isinstance(stop, str):
        raise DataError(f"{origin}: no stop sequence (end_seq or STOP)")
    # The query block: `_doc_to_text`'s return value (b62c9d0), or the `ctx = prompt + ...` of
    # `fewshot_context` (later versions); the selection keyword: `if 'numbertheory' in ...`.
    template = None
    for fn in _functions(tree, "_doc_to_text"):
        for ret in (n for n in ast.walk(fn) if isinstance(n, ast.Return) and n.value is not None):
            template = "".join(_template_parts(ret.value))  # type: ignore[arg-type]
    keyword = None
    for fn in _functions(tree, "fewshot_context"):
        for node in ast.walk(fn):
            if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.In) and isinstance(node.left, ast.Constant):
                keyword = node.left.value
            if template is None and isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "ctx" for t in node.targets):
                template = "".join(_template_parts(node.value)).removeprefix("{prompt}")
    if template is None or keyword is None:
        raise DataError(f"{origin}: no query block or selection keyword")
    checker = _parse(checker_source, origin)
    wrap = _functions(checker, "wrap_theorem")
    if not wrap:
        raise DataError(f"{origin}: the checker has no wrap_theorem")
    header = "".join(_constant_strings(wrap[-1]))
    heuristics: list[str] = []
    for fn in _functions(checker, "_run_sledgehammer"):
        for node in ast.walk(fn):
            if isinstance(node, ast.List) and node.elts and all(isinstance(e, ast.Constant) for e in node.elts):
                heuristics = [e.value for e in node.elts]  # type: ignore[attr-defined]
    hole_words = []
    for fn in _functions(checker, "get_parsed"):
        for node in ast.walk(fn):  # theory.replace('sledgehammer', 'sorry'), ...: all become hammer calls
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "replace"
                    and len(node.args) == 2 and all(isinstance(a, ast.Constant) for a in node.args)):
                hole_words.extend(a.value for a in node.args)  # type: ignore[attr-defined]
    imports = re.findall(r'"([^"]+)"|(\S+)', header.split("imports", 1)[-1].split("begin", 1)[0])
    names: dict[str, list[str]] = {k: re.findall(r"theorem (\S+?):", v) for k, v in prompts.items()}
    return {
        "prompts": prompts,
        "doc_template": template,
        "stop": stop,
        "selection_keyword": keyword,
        "theorems_in_prompts": names,
        "header_imports": [a or b for a, b in imports],
        "heuristics": heuristics,
        "hole_words": sorted(set(hole_words)),
    }


def _template_parts(node: ast.AST) -> list[str]:
    """A `+` chain as template text: constants verbatim, `doc['x']` as `{x}`, the prompt as `{prompt}`."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _template_parts(node.left) + _template_parts(node.right)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return ["{" + str(node.slice.value) + "}"]
    if isinstance(node, ast.Name) and node.id == "prompt":
        return ["{prompt}"]
    raise DataError(f"unexpected part of the query block: {ast.dump(node)[:80]}")


def check_llemma_checker_facts(data: dict[str, Any], hole_tactics: Sequence[str],
                               hole_words: Sequence[str] = LLEMMA_HOLE_WORDS) -> None:
    """The header, heuristics and hole words this code uses must be the ones of the fetched checker."""
    if "hole_words" in data and sorted(data["hole_words"]) != sorted(hole_words):
        raise DataError(f"LLEMMA's checker turns {data['hole_words']} into hammer calls, not {sorted(hole_words)}")
    if "header_imports" in data and tuple(data["header_imports"]) != PAPER_IMPORTS:
        raise DataError(f"LLEMMA's checker header imports {data['header_imports']}, not {list(PAPER_IMPORTS)}")
    if "heuristics" in data and tuple(data["heuristics"]) != tuple(hole_tactics):
        raise DataError(f"LLEMMA's checker heuristics are {data['heuristics']}, not {list(hole_tactics)}")


async def ensure_llemma_prompts(cache_root: Path | None = None, spec: UpstreamFile = LLEMMA_PROMPTS) -> PromptData:
    """The cached LLEMMA prompt file, fetched and parsed on first use."""
    from .isabelle import HOLE_TACTICS

    target = cache_path(spec, cache_root)
    if not target.exists():
        git_dir = (cache_root or fetching.default_cache_dir()) / "git" / spec.repo.replace("/", "--")
        try:
            files = await fetching.fetch_git_paths(spec.url, spec.commit, spec.paths, git_dir)
        except DataError as exc:
            raise _offline(spec, exc) from None
        task, checker = spec.paths
        for path in spec.paths:
            if path not in files:
                raise DataError(f"{spec.describe()}: {path} not found at that commit")
        data = parse_llemma_source(files[task], files[checker], spec.describe())
        check_llemma_checker_facts(data, HOLE_TACTICS)
        data["upstream"] = spec.describe()
        fetching._write_atomic(target, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
        log.info("cached LLEMMA's prompts from %s in %s", spec.describe(), target)
    return PromptData(target, sha256_path(target), spec.describe())


# -- DSP ---------------------------------------------------------------------------------------------


async def ensure_dsp_prompts(cache_root: Path | None = None, spec: UpstreamFile = DSP_PROMPTS) -> PromptData:
    """The cached folder of DSP's prompt examples, fetched on first use."""
    target = cache_path(spec, cache_root)
    if not target.is_dir() or not any(target.glob("*.json")):
        git_dir = (cache_root or fetching.default_cache_dir()) / "git" / spec.repo.replace("/", "--")
        try:
            files = await fetching.fetch_git_paths(spec.url, spec.commit, spec.paths, git_dir)
        except DataError as exc:
            raise _offline(spec, exc) from None
        examples = {p: t for p, t in files.items() if p.endswith(".json")}
        if not examples:
            raise DataError(f"{spec.describe()}: no .json examples at that commit")
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for path, text in examples.items():
            (staging / Path(path).name).write_text(text, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        log.info("cached %d DSP prompt examples from %s in %s", len(examples), spec.describe(), target)
    return PromptData(target, sha256_path(target), spec.describe())


def check_context(model: Any, prompts: Sequence[str], max_new_tokens: int, problem_name: str) -> None:
    """The prompt-length guard against the model's own context window, in tokens.

    DSP's character limit (`max_chars` of `dsp_prompt`) is DSP's rule for choosing examples; this is the
    model's hard limit, which a long informal proof plus three examples can pass. A model that cannot
    count its tokens or name its window (an OpenAI-compatible server) is not guarded here: its server
    refuses an over-long prompt itself."""
    count = getattr(model, "count_tokens", None)
    window = getattr(model, "context_window", None)
    if not callable(count) or not callable(window):
        return
    limit = window()
    if not limit:
        return
    for prompt in prompts:
        used = count(prompt)
        if used + max_new_tokens > limit:
            raise ProposerError(
                f"{problem_name}: the prompt is {used} tokens and {max_new_tokens} more may be generated, past the "
                f"model's context of {limit} tokens; lower --max-prompt-chars or the sketch length")


def dsp_category(name: str) -> str:
    """DSP's `get_the_type`: a substring test on the problem name (so `mathd_numbertheory_*` is neither)."""
    if "algebra" in name:
        return "algebra"
    if "number_theory" in name:
        return "number_theory"
    return "unknown"


def _dsp_example_text(example: Example) -> str:
    """DSP's example as its prompt file holds it, stripped, without the newline before `*)\\n\\nFormal:`."""
    text = example.raw.strip()
    for marker in ("*)\n\nFormal:", "\n\nFormal:"):
        index = text.find(marker)
        if index != -1:
            if index > 0 and text[index - 1] == "\n":
                text = text[: index - 1] + text[index:]
            break
    return text


def _boxed(proof: str) -> tuple[str, int, int] | None:
    start = proof.find("\\boxed{")
    if start == -1:
        return None
    depth = 0
    for i in range(start + len("\\boxed{"), len(proof)):
        if proof[i] == "}":
            if depth == 0:
                return proof[start + len("\\boxed{") : i], start, i
            depth -= 1
        elif proof[i] == "{":
            depth += 1
    return None


def strip_theorem_name(statement: str) -> str:
    """DSP's `process_formal_statements`: `theorem name: body` becomes `theorem body`."""
    start = statement.find("theorem") + len("theorem")
    colon = statement.find(":")
    return statement[:start] + statement[colon + 1 :]


def dsp_prompt(problem: InformalProblem, statement: str, informal_proof: str, examples: Sequence[Example],
               attempt: int, seed: int = DSP_SEED, n: int = DSP_EXAMPLES,
               max_chars: int = DSP_MAX_PROMPT_CHARS) -> tuple[str, tuple[str, ...]]:
    """One attempt's prompt and the names of the examples it drew."""
    category = dsp_category(problem.name)
    pool = [e for e in examples if e.category == category] or [
        e for e in examples if e.category in ("algebra", "number_theory")]
    pool = [e for e in pool if e.name != problem.name]
    if len(pool) < n:
        raise ProposerError(f"only {len(pool)} DSP examples to draw {n} from for {problem.name}")
    informal_statement = problem.informal_statement
    informal_proof = informal_proof[:DSP_MAX_INFORMAL_PROOF_CHARS]
    rng = random.Random(f"{seed}:{problem.name}:{attempt}")
    for _ in range(DSP_MAX_DRAWS):
        drawn = rng.sample(pool, k=n)
        prefix = "\n\n".join(_dsp_example_text(e) for e in drawn)
        if len(prefix) + len(informal_statement) + len(informal_proof) <= max_chars:
            break
    else:
        raise ProposerError(f"no draw of {n} examples fits the prompt-length guard of {max_chars} characters "
                            f"for {problem.name}")
    boxed = _boxed(informal_proof)
    if boxed is not None:
        content, start, end = boxed
        content = content.strip()
        if "Show that it is" not in informal_statement:
            informal_statement = f"{informal_statement.strip()} Show that it is {content}."
        informal_proof = informal_proof[:start] + content + informal_proof[end + 1 :]
    prompt = (f"{prefix}\n\nInformal:\n(*### Problem\n\n{informal_statement}\n\n### Solution\n\n{informal_proof}*)"
              f"\n\nFormal:\n{strip_theorem_name(statement)}")
    return prompt.strip(), tuple(e.name for e in drawn)
