"""`llemma-prove minif2f`: best-first search over a miniF2F split, recorded in a run directory.

Order matters and is fixed: validate every argument -> load the statements (downloading the pinned
set on first use) -> check the run directory -> build the prover and `start()` it (a missing Lean
stops here, before any model is loaded) -> build the model and proposer -> run -> print the summary.

Testing seam: when the environment variable `LLEMMA_PROVE_TEST_DOUBLES` names `module:function`, that
function is called as `function(theorems, args)` and must return `(prover, proposer)`; it replaces
the real prover and model and nothing else (validation, store, runner and report are the real ones).
The test suite uses it to run this command against scripted test doubles; it is not for users.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import typer

from ..config import DEFAULT_MODEL, EngineSpec, ModelSpec, ProverSpec, RunConfig, package_versions
from ..data import minif2f
from ..console import stderr_console
from ..errors import ModelLoadError, ProverUnavailable, UserError
from ..search import Priority, SearchConfig
from ..types import DecodingMethod, SamplingParams, Theorem

log = logging.getLogger(__name__)

TEST_DOUBLES_ENV = "LLEMMA_PROVE_TEST_DOUBLES"
LEAN_PROJECT_ENV = "LLEMMA_PROVE_LEAN_PROJECT"


class Split(str, enum.Enum):
    valid = "valid"
    test = "test"


class Backend(str, enum.Enum):
    hf = "hf"
    vllm = "vllm"
    openai = "openai"


class ProverKind(str, enum.Enum):
    lean = "lean"
    dojo = "dojo"
    isabelle = "isabelle"


class Decoding(str, enum.Enum):
    beam = "beam"
    sample = "sample"


class PriorityChoice(str, enum.Enum):
    sum = "sum"
    depth_normalised = "depth-normalised"


@dataclass(frozen=True)
class Minif2fArgs:
    """Everything `minif2f` was asked for, before any validation."""

    split: str = "test"
    statement_set: str | None = None
    data: Path | None = None
    theorems: tuple[str, ...] = ()
    limit: int | None = None
    model: str = DEFAULT_MODEL
    model_backend: str = "hf"
    endpoint: str | None = None
    device: str | None = None
    dtype: str | None = None
    prompt: Path | None = None
    max_new_tokens: int = 256
    prover: str = "lean"
    lean_project: Path | None = None
    workers: int | None = None
    expansions: int = 100
    candidates: int = 32
    time_limit: float = 600.0
    decoding: str = "beam"
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    merge_states: bool = False
    clean_candidates: bool = False
    priority: str | None = None
    exclude_model_wait: bool = False
    prune_sorry: bool = False
    replay_after_crash: bool = False
    step_time_limit: float | None = None
    improved: bool = False
    concurrency: int | None = 1  # None: sized from the machine (sizing.default_concurrency)
    output_dir: Path = Path("runs")
    run_dir: Path | None = None
    resume: bool = True
    force: bool = False
    retry_errors: bool = False
    progress: bool = True
    cache: bool = False
    cache_file: Path | None = None
    batch_size: int = 32
    batch_wait_ms: float = 5.0
    ray: str | None = None  # None: this process; "local": start a local Ray cluster; else its address
    training_search: bool = False  # `iterate` searching its own training statements: not an evaluation


# -- validation (no model, no prover) ----------------------------------------------------------------


def build_search_config(args: Minif2fArgs) -> SearchConfig:
    """The search configuration, or a `UserError` saying which budget or decoding setting is impossible."""
    if args.expansions < 1:
        raise UserError(f"--expansions must be at least 1, got {args.expansions}")
    if args.candidates < 1:
        raise UserError(f"--candidates must be at least 1, got {args.candidates}")
    if not args.time_limit > 0:
        raise UserError(f"--time-limit must be a positive number of seconds, got {args.time_limit:g}")
    if args.max_new_tokens < 1:
        raise UserError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    method = DecodingMethod(args.decoding)
    if method is DecodingMethod.BEAM:
        if args.temperature is not None:
            raise UserError("--temperature applies to --decoding sample only (beam search has no temperature)")
        if args.top_p is not None:
            raise UserError("--top-p applies to --decoding sample only (beam search has no top-p)")
        temperature, top_p = 1.0, 1.0
    else:
        temperature = 1.0 if args.temperature is None else args.temperature
        top_p = 1.0 if args.top_p is None else args.top_p
        if not temperature > 0:
            raise UserError(f"--temperature must be positive for sampling, got {temperature:g}")
        if not 0 < top_p <= 1:
            raise UserError(f"--top-p must be in (0, 1], got {top_p:g}")
    sampling = SamplingParams(
        n=args.candidates, method=method, temperature=temperature, top_p=top_p,
        max_new_tokens=args.max_new_tokens, stop=("---",), seed=args.seed,
    )
    if args.step_time_limit is not None and not args.step_time_limit > 0:
        raise UserError(f"--step-time-limit must be a positive number of seconds, got {args.step_time_limit:g}")
    base = SearchConfig.improved() if args.improved else SearchConfig.paper()
    priority = Priority(args.priority) if args.priority else base.priority
    return SearchConfig(
        max_expansions=args.expansions,
        sampling=sampling,
        time_limit_s=float(args.time_limit),
        merge_duplicate_states=base.merge_duplicate_states or args.merge_states,
        clean_candidates=base.clean_candidates or args.clean_candidates,
        priority=priority,
        exclude_model_wait=base.exclude_model_wait or args.exclude_model_wait,
        prune_sorry=base.prune_sorry or args.prune_sorry,
        replay_after_crash=base.replay_after_crash or args.replay_after_crash,
        step_time_limit_s=float(args.step_time_limit) if args.step_time_limit is not None else base.step_time_limit_s,
    )


def validate_args(args: Minif2fArgs) -> None:
    """Combinations that cannot work, caught before anything is loaded."""
    if args.split not in ("valid", "test"):
        raise UserError(f"unknown split '{args.split}' (choose valid or test)")
    if args.concurrency is not None and args.concurrency < 1:
        raise UserError(f"--concurrency must be at least 1, got {args.concurrency}")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    if args.data is not None and args.statement_set is not None:
        raise UserError("use either --data FILE or --statement-set NAME, not both")
    if args.statement_set is not None and args.statement_set not in minif2f.STATEMENT_SETS:
        raise UserError(
            f"unknown statement set '{args.statement_set}' (choose one of {', '.join(sorted(minif2f.STATEMENT_SETS))})"
        )
    if args.prover == "isabelle" and args.statement_set is not None:
        raise UserError("--statement-set names a Lean 4 set; --prover isabelle uses the Isabelle miniF2F statements")
    if args.prover == "isabelle" and args.lean_project is not None:
        raise UserError("--lean-project applies to the Lean backends (--prover lean or dojo)")
    if args.model_backend == "openai" and not args.endpoint:
        raise UserError("--model-backend openai needs --endpoint URL (an OpenAI-compatible completions server)")
    if args.model_backend != "openai" and args.endpoint:
        raise UserError("--endpoint applies to --model-backend openai only")
    if args.model_backend == "openai" and (args.device or args.dtype):
        raise UserError("--device and --dtype apply to local models (--model-backend hf or vllm), not to a server")
    if args.run_dir is not None and args.output_dir != Path("runs"):
        raise UserError("use either --run-dir DIR or --output-dir DIR, not both")
    if args.prompt is not None and str(args.prompt) != BUILTIN_PROMPT and not args.prompt.is_file():
        raise UserError(f"prompt file {args.prompt} not found (or use --prompt builtin for the project's own prompt)")
    if args.data is not None and not args.data.exists():
        raise UserError(f"data file {args.data} not found")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not args.batch_wait_ms >= 0:
        raise UserError(f"--batch-wait-ms must be 0 or more, got {args.batch_wait_ms:g}")


BUILTIN_PROMPT = "builtin"


def load_prompt(args: Minif2fArgs) -> Any:
    """The prompt given by --prompt (a file, parsed now so a malformed one fails before Lean starts, or
    the project's own with `builtin`); None for the default, the harness's prompt, fetched later."""
    try:
        from ..proposers import prompts
    except ImportError as exc:  # pragma: no cover - the proposers package ships with the project
        raise ModelLoadError(f"the proposers package cannot be imported: {exc}") from None
    if args.prompt is None:
        return prompts.default_isabelle_template() if args.prover == "isabelle" else None
    if str(args.prompt) == BUILTIN_PROMPT:
        return prompts.default_isabelle_template() if args.prover == "isabelle" else prompts.default_lean4_template()
    return prompts.PromptTemplate.load(args.prompt)


async def resolve_prompt(template: Any) -> Any:
    """The paper's harness prompt when none was given (downloaded at its pinned commit on first use)."""
    if template is not None:
        return template
    from ..proposers.prompts import harness_prompt

    return await harness_prompt()


# -- statements ---------------------------------------------------------------------------------------


async def load_theorems(args: Minif2fArgs) -> tuple[list[Theorem], Any]:
    """(selected theorems, StatementSource) for the run."""
    if args.prover == "isabelle":
        collection = await _load_isabelle_statements(args)
    elif args.data is not None:
        collection = minif2f.load_data_file(args.data)
    else:
        collection = await minif2f.load_statement_set(args.statement_set or minif2f.DEFAULT_STATEMENT_SET)
    theorems = minif2f.select_theorems(collection, args.split, args.theorems, args.limit)
    return theorems, collection.source


async def _load_isabelle_statements(args: Minif2fArgs) -> Any:
    try:
        from ..data import isabelle_minif2f
    except ImportError as exc:
        raise ProverUnavailable(f"the Isabelle backend cannot be imported ({exc})") from None
    if args.data is not None:
        return isabelle_minif2f.load_isabelle_data_file(args.data)
    return await isabelle_minif2f.load_isabelle_statements()


# -- run directory ------------------------------------------------------------------------------------


def default_run_dir(args: Minif2fArgs, config: RunConfig) -> Path:
    """`<output-dir>/minif2f-<split>-<set>-<model>-<prover>-<fingerprint>`: the same command, the same
    directory, so re-running it resumes."""
    model = re.sub(r"[^A-Za-z0-9_.\-]", "_", config.model.model_id.rstrip("/").split("/")[-1])
    stem = f"minif2f-{config.split}-{config.statements.statement_set}-{model}-{config.prover.name}"
    return args.output_dir / f"{stem}-{config.fingerprint()}"


def lean_project_dir(args: Minif2fArgs) -> Path | None:
    """--lean-project, else $LLEMMA_PROVE_LEAN_PROJECT, else the repository's `lean_project/`."""
    if args.lean_project is not None:
        return args.lean_project
    if os.environ.get(LEAN_PROJECT_ENV):
        return Path(os.environ[LEAN_PROJECT_ENV]).expanduser()
    bundled = Path(__file__).resolve().parents[2] / "lean_project"
    return bundled if bundled.is_dir() else None


def prover_spec(args: Minif2fArgs) -> ProverSpec:
    options: dict[str, Any] = {}
    toolchain = None
    if args.prover in ("lean", "dojo"):  # dojo runs its final check through the Lean REPL
        project = lean_project_dir(args)
        if project is not None:
            options["project_dir"] = str(project.resolve())
            toolchain_file = project / "lean-toolchain"
            if toolchain_file.is_file():
                toolchain = toolchain_file.read_text(encoding="utf-8").strip()
        if args.workers:
            options["workers"] = args.workers
    return ProverSpec(name=args.prover, toolchain=toolchain, options=options)


def run_config(args: Minif2fArgs, search: SearchConfig, source: Any, theorems: Sequence[Theorem],
               template: Any) -> RunConfig:
    model = ModelSpec(
        model_id=args.model, backend=args.model_backend, endpoint=args.endpoint, device=args.device,
        dtype=args.dtype, prompt_path=template.source if args.prompt and str(args.prompt) != BUILTIN_PROMPT else None,
        prompt_sha256=template.sha256, prompt_source=template.source,
    )
    return RunConfig(
        split=args.split, statements=source, search=search, model=model, prover=prover_spec(args),
        concurrency=args.concurrency, selection=tuple(t.name for t in theorems), versions=package_versions(),
    )


# -- prover and model ---------------------------------------------------------------------------------


async def preflight_prover(args: Minif2fArgs) -> None:
    """Cheap installation check of the chosen prover: ProverUnavailable names what to install."""
    if args.prover in ("lean", "dojo"):
        from ..provers.lean import LeanOptions
        from ..provers.lean.project import resolve_launch

        await resolve_launch(LeanOptions(project_dir=lean_project_dir(args)))
        return
    from ..provers.isabelle.health import blocking_problems, isabelle_health, unavailable_message
    from ..provers.isabelle.options import IsabelleOptions

    problems = blocking_problems(isabelle_health(IsabelleOptions.from_env()))
    if problems:
        raise ProverUnavailable(unavailable_message(problems))


def resolve_concurrency(args: Minif2fArgs) -> tuple[Minif2fArgs, str]:
    """--concurrency not given: sized from this machine (the rule is in llemma_prove/sizing.py); returns
    the arguments with it and the line that says why."""
    from ..sizing import default_concurrency, detect_machine

    local_gpu = args.model_backend != "openai" and not (args.device or "").startswith("cpu")
    machine = detect_machine(probe_gpu=local_gpu and not os.environ.get(TEST_DOUBLES_ENV))
    choice = default_concurrency(machine, args.model_backend, args.device, args.candidates, args.max_new_tokens)
    line = (f"concurrency {choice.concurrency} (sized from this machine: {choice.reason}; "
            "set --concurrency to choose)")
    return replace(args, concurrency=choice.concurrency), line


def download_plan(args: Minif2fArgs) -> list[str]:
    """What setting up Lean and running will download, with the sizes we can state."""
    from ..provers.lean.elan import installer_url
    from ..provers.lean.project import LEAN_TOOLCHAIN, find_tool

    lines = []
    if find_tool("lake") is None:
        lines.append(f"elan, Lean's toolchain manager (its installer from {installer_url()}, elan from GitHub)")
    lines += [f"the Lean toolchain {LEAN_TOOLCHAIN} (through elan)",
              "Mathlib's compiled cache (`lake exe cache get`; its size is not measured here)",
              "the Lean REPL and lean4checker sources (built here)"]
    if args.model_backend != "openai":
        if args.model == DEFAULT_MODEL:
            from ..sizing import weights_gb

            lines.append(f"later, on first use: the {args.model} weights, about {weights_gb():.0f} GB in bfloat16 "
                         "(7 B parameters x 2 bytes), unless already in the Hugging Face cache")
        else:
            lines.append(f"later, on first use: the {args.model} weights, unless already in the Hugging Face cache")
    return lines


async def preflight_or_offer_setup(args: Minif2fArgs, err_console: Any = None) -> None:
    """The installation check; when Lean is not ready, offer `setup lean` on a terminal (a yes/no
    prompt), else stop with one line naming it."""
    import sys

    try:
        await preflight_prover(args)
        return
    except ProverUnavailable as exc:
        if args.prover not in ("lean", "dojo"):
            raise
        problem = str(exc)
    if err_console is None or not sys.stdin.isatty():
        if "llemma-prove setup lean" not in problem:
            problem += "; run `llemma-prove setup lean`"
        raise ProverUnavailable(problem)
    err_console.print(f"Lean is not ready: {problem}", markup=False, highlight=False)
    err_console.print("`llemma-prove setup lean` can set it up now; it downloads:", highlight=False)
    for line in download_plan(args):
        err_console.print(f"  - {line}", markup=False, highlight=False)
    if not typer.confirm("Set up Lean now?", default=True, err=True):
        raise ProverUnavailable("Lean is not set up; run `llemma-prove setup lean` when ready")
    from ..provers.lean import setup as lean_setup

    await lean_setup.setup_lean_async(lean_project_dir(args), err_console)
    await preflight_prover(args)


def step_limit_s(search: SearchConfig) -> float:
    """The prover's per-tactic limit: the opt-in one, else (the paper's) only the theorem's clock."""
    return search.step_time_limit_s if search.step_time_limit_s is not None else search.time_limit_s


def build_prover(args: Minif2fArgs, theorems: Sequence[Theorem], spec: ProverSpec,
                 search: SearchConfig | None = None) -> Any:
    """The prover for `--prover`; nothing is started here (that is `await prover.start()`)."""
    if args.prover in ("lean", "dojo"):
        try:
            from ..provers.lean import LeanOptions, LeanReplProver
        except ImportError as exc:
            raise ProverUnavailable(f"the Lean REPL backend cannot be imported ({exc})") from None
        options: dict[str, Any] = {}
        if spec.options.get("project_dir"):
            options["project_dir"] = Path(spec.options["project_dir"])
        if args.workers:
            options["workers"] = args.workers
        if search is not None:
            options["step_timeout_s"] = step_limit_s(search)
        headers = {t.header for t in theorems}
        if len(headers) == 1:  # every miniF2F set has one header: import it once per REPL process
            options["header"] = headers.pop()
        repl = LeanReplProver(LeanOptions(**options))
        if args.prover == "lean":
            return repl
        from ..provers.lean.dojo import LeanDojoProver

        return LeanDojoProver(checker=repl, timeout_s=int(args.time_limit))
    try:
        from ..provers.isabelle.options import IsabelleOptions
        from ..provers.isabelle.prover import PisaProver
    except ImportError as exc:
        raise ProverUnavailable(f"the Isabelle backend cannot be imported ({exc})") from None
    return PisaProver(IsabelleOptions.from_env())


def build_proposer(args: Minif2fArgs, template: Any) -> Any:
    """Load the model (the slow part) and wrap it in a next-step proposer."""
    try:
        from .. import proposers
    except ImportError as exc:  # pragma: no cover
        raise ModelLoadError(f"the proposers package cannot be imported: {exc}") from None
    model = proposers.model_from_settings(args)
    if args.prover == "isabelle":
        from ..provers.isabelle.prompt import HammerCandidates

        # Sledgehammer (after DSP's heuristic tactics) is one more candidate at every state.
        return HammerCandidates(proposers.TacticProposer(model, template or proposers.default_isabelle_template()))
    return proposers.TacticProposer(model, template or proposers.default_lean4_template())


CACHE_FILE = "tactic-cache.sqlite"


def cache_path(args: Minif2fArgs, run_dir: Path) -> Path | None:
    """The tactic-outcome cache file: --cache-file, else one in the run directory; None without --cache."""
    if not args.cache:
        return None
    return (args.cache_file or run_dir / CACHE_FILE).resolve()


def with_batching(proposer: Any, args: Minif2fArgs) -> Any:
    """With several searches at once, one batching front gathers their generation requests."""
    from ..proposers.batching import BatchingProposer

    if args.concurrency <= 1 or isinstance(proposer, BatchingProposer):
        return proposer
    return BatchingProposer(proposer, max_batch_size=args.batch_size, max_wait_ms=args.batch_wait_ms)


def engine_spec(args: Minif2fArgs, run_dir: Path) -> EngineSpec:
    path = cache_path(args, run_dir)
    batching = args.concurrency > 1
    return EngineSpec(cache_file=str(path) if path else None, batch_size=args.batch_size if batching else None,
                      batch_wait_ms=args.batch_wait_ms if batching else None, ray=args.ray)


def record_cache_stats(store: Any, stats: dict[str, Any] | None, err_console: Any) -> None:
    """Show the tactic cache's hit rate and add it to summary.json / summary.md."""
    if not stats:
        return
    from ..report import summarise, to_markdown

    lookups = stats["hits"] + stats["misses"]
    line = (f"tactic cache: {stats['hits']} of {lookups} steps answered from the cache "
            f"({100 * stats['hit_rate']:.1f}% hit rate), {stats['replays']} replays; {store.config.engine.cache_file}")
    summary = summarise(store.config, store.records())
    data = summary.to_json()
    data["tactic_cache"] = {**stats, "file": store.config.engine.cache_file}
    store.write_summary(data, to_markdown(summary) + f"\n{line[0].upper()}{line[1:]}.\n")
    if err_console is not None:
        err_console.print(line)


def _test_doubles(theorems: Sequence[Theorem], args: Minif2fArgs) -> tuple[Any, Any] | None:
    target = os.environ.get(TEST_DOUBLES_ENV)
    if not target:
        return None
    module_name, _, function = target.partition(":")
    factory = getattr(importlib.import_module(module_name), function)
    log.warning("using test doubles from %s instead of a real prover and model", target)
    return factory(theorems, args)


async def _close(thing: Any) -> None:
    close = getattr(thing, "close", None)
    if close is None:
        return
    try:
        await close()
    except Exception:  # closing must not hide the run's own outcome
        log.exception("closing %r failed", thing)


# -- the command --------------------------------------------------------------------------------------


async def run_minif2f(args: Minif2fArgs, console: Any = None, err_console: Any = None) -> int:
    """The whole `minif2f` command. Returns the exit status (0, or 130 when interrupted)."""
    from ..report import rich_table, summarise
    from ..runner import Runner, RunnerOptions
    from ..store import RunStore, check_run_dir, check_writable

    validate_args(args)
    search = build_search_config(args)
    template = load_prompt(args)
    check_writable(args.run_dir or args.output_dir)  # an unwritable place fails now, not after loading
    sized = ""
    if args.concurrency is None:
        args, sized = resolve_concurrency(args)
    # A local data file is checked first (cheap, and its errors are the user's); a missing Lean or
    # Isabelle then stops the command before any download, run directory or model.
    loaded = await load_theorems(args) if args.data is not None else None
    if loaded is not None and args.prover in ("lean", "dojo"):
        minif2f.check_lean_statement_forms(loaded[0])
    if not os.environ.get(TEST_DOUBLES_ENV) and args.ray in (None, "local"):  # a remote cluster checks its own
        await preflight_or_offer_setup(args, err_console)
    template = await resolve_prompt(template)
    theorems, source = loaded or await load_theorems(args)
    if args.prover in ("lean", "dojo"):
        minif2f.check_lean_statement_forms(theorems)
    config = run_config(args, search, source, theorems, template)
    if os.environ.get(TEST_DOUBLES_ENV):  # recorded as such, so no report mistakes it for a real run
        config = replace(config, prover=ProverSpec(name="test-doubles", options={"factory": os.environ[TEST_DOUBLES_ENV]}))
    if not args.training_search:  # a model trained on the evaluated statements is refused (issue 18)
        from ..learning.leakage import refuse_leaky_model

        refuse_leaky_model(args.model, args.split, source, theorems)
    run_dir = args.run_dir or default_run_dir(args, config)
    config = replace(config, engine=engine_spec(args, run_dir))
    check_run_dir(run_dir, config, resume=args.resume, force=args.force)
    if source.lean_version and config.prover.toolchain and source.lean_version not in config.prover.toolchain:
        log.warning("statement set %s is written for Lean %s but the Lake project uses %s",
                    source.statement_set, source.lean_version, config.prover.toolchain)
    if err_console is not None:  # every cheap check passed: say what the run will cost
        from ..sizing import budget_line

        if sized:
            err_console.print(sized, highlight=False)
        err_console.print(budget_line(len(theorems), search.time_limit_s, args.concurrency), highlight=False)

    if args.ray is not None:
        from ..distributed.cli import run_on_ray

        summary = await run_on_ray(args, theorems, config, run_dir, search, template, err_console)
        if console is not None:
            console.print(rich_table(summary))
            console.print(f"results: {run_dir}")
        return 0

    doubles = _test_doubles(theorems, args)
    prover = doubles[0] if doubles else build_prover(args, theorems, config.prover, search)
    proposer = None
    try:
        await prover.start()  # raises ProverUnavailable (what to install) before any model is loaded
        if doubles:
            proposer = doubles[1]
        else:
            proposer = await asyncio.to_thread(build_proposer, args, template)
        proposer = with_batching(proposer, args)
        with RunStore.open(run_dir, config, resume=args.resume, force=args.force,
                           retry_errors=args.retry_errors) as store:
            cache_file = cache_path(args, run_dir)
            if cache_file is not None:  # opened after the store, which may move an old run aside
                from ..provers.cache import CachingProver, TacticCache

                prover = CachingProver(prover, TacticCache(cache_file))
            if err_console is not None:
                err_console.print(f"run directory: {run_dir}  ({len(theorems)} theorems, "
                                  f"{len(store.finished() & set(config.selection))} already finished)")
            runner = Runner(
                prover, proposer, search, store,
                RunnerOptions(
                    concurrency=args.concurrency,
                    # The search's own clock is hard (and leaves queueing out); a runner cap would count
                    # queueing and so let concurrency change a result.
                    theorem_timeout_s=None,
                    show_progress=args.progress,
                ),
                console=err_console,
            )
            await runner.run(theorems)
            summary = summarise(store.config, store.records())
            if cache_file is not None:
                record_cache_stats(store, prover.cache.stats.to_json(), err_console)
    finally:
        if proposer is not None:
            await _close(proposer)
        await _close(prover)
    if console is not None:
        console.print(rich_table(summary))
        console.print(f"results: {run_dir}")
    return 0


def register(app: typer.Typer) -> None:
    @app.command("minif2f")
    def minif2f_command(
        split: Split = typer.Option(Split.test, "--split", help="miniF2F split."),
        statement_set: Optional[str] = typer.Option(
            None, "--statement-set",
            help="Lean 4 statement set: lean4-v4.24.0 (default, yangky11/miniF2F-lean4) or lean4-v4.9.0 "
                 "(DeepSeek-Prover-V1.5). Downloaded from its pinned git commit on first use."),
        data: Optional[Path] = typer.Option(None, "--data", help="Local JSONL of statements instead of a set."),
        theorem: list[str] = typer.Option([], "--theorem", help="Only this theorem (repeatable)."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N theorems."),
        model: str = typer.Option(DEFAULT_MODEL, "--model", help="Model id (Hugging Face) or server model name."),
        model_backend: Backend = typer.Option(Backend.hf, "--model-backend", help="hf (transformers), vllm, or openai (HTTP server)."),
        endpoint: Optional[str] = typer.Option(None, "--endpoint", help="Base URL of an OpenAI-compatible server."),
        device: Optional[str] = typer.Option(None, "--device", help="Device for local models (auto, cuda, cuda:1, cpu)."),
        dtype: Optional[str] = typer.Option(None, "--dtype", help="Weights dtype for local models (auto, bfloat16, float16, float32)."),
        prompt: Optional[Path] = typer.Option(None, "--prompt", help="Prompt JSON file, or 'builtin' for the project's own prompt (default: the paper harness's prompt, fetched at its pinned commit)."),
        max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Most tokens generated per candidate."),
        prover: ProverKind = typer.Option(ProverKind.lean, "--prover", help="Proof assistant backend."),
        lean_project: Optional[Path] = typer.Option(None, "--lean-project", help="Lake project with Mathlib and the REPL."),
        workers: Optional[int] = typer.Option(None, "--workers", help="Prover processes (default: sized from the machine)."),
        expansions: int = typer.Option(100, "--expansions", help="Most node expansions per theorem (paper: 100)."),
        candidates: int = typer.Option(32, "--candidates", help="Candidates per expansion (paper: 32)."),
        time_limit: float = typer.Option(600.0, "--time-limit", help="Seconds per theorem (paper: 600)."),
        decoding: Decoding = typer.Option(Decoding.beam, "--decoding", help="beam (paper) or sample."),
        temperature: Optional[float] = typer.Option(None, "--temperature", help="Sampling temperature (--decoding sample)."),
        top_p: Optional[float] = typer.Option(None, "--top-p", help="Nucleus sampling mass (--decoding sample)."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for sampling."),
        merge_states: bool = typer.Option(False, "--merge-states", help="Identical goal states share one node."),
        clean_candidates: bool = typer.Option(False, "--clean-candidates", help="Strip, drop empty and deduplicate candidates."),
        priority: Optional[PriorityChoice] = typer.Option(None, "--priority", help="Node priority: sum (paper) or depth-normalised."),
        exclude_model_wait: bool = typer.Option(False, "--exclude-model-wait", help="Generation time does not count against --time-limit (queueing never does)."),
        prune_sorry: bool = typer.Option(False, "--prune-sorry", help="Drop states reached by a step that uses sorry (paper: queued)."),
        replay_after_crash: bool = typer.Option(False, "--replay-after-crash", help="A Lean crash costs a replay, not the theorem (paper: the theorem ends)."),
        step_time_limit: Optional[float] = typer.Option(None, "--step-time-limit", help="Seconds per tactic (paper: none, only the theorem's clock)."),
        improved: bool = typer.Option(False, "--improved", help="All search improvements on (budgets unchanged)."),
        concurrency: Optional[int] = typer.Option(None, "--concurrency", help="Theorems searched at once "
                                                  "(default: sized from the machine, see docs/performance.md)."),
        output_dir: Path = typer.Option(Path("runs"), "--output-dir", help="Parent folder of run directories."),
        run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Exact run directory (default: derived from the configuration)."),
        resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip theorems already finished in the run directory."),
        force: bool = typer.Option(False, "--force", help="Start over in a run directory made with another configuration (old files are kept)."),
        retry_errors: bool = typer.Option(False, "--retry-errors", help="Run again the theorems that ended in an error."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
        cache: bool = typer.Option(False, "--cache/--no-cache", help="Tactic-outcome cache: steps already answered (same prover, header, state, tactic) are not sent to the prover again."),
        cache_file: Optional[Path] = typer.Option(None, "--cache-file", help="Cache file (implies --cache; default: tactic-cache.sqlite in the run directory); share one between runs."),
        batch_size: int = typer.Option(32, "--batch-size", help="Most generation requests of concurrent searches sent to the model in one batch."),
        batch_wait_ms: float = typer.Option(5.0, "--batch-wait-ms", help="Longest wait (ms) to fill a generation batch."),
        ray: bool = typer.Option(False, "--ray", help="Spread the theorems over a Ray cluster (a new local one unless --ray-address)."),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join this Ray cluster (auto, host:6379, ray://host:10001); implies --ray."),
    ) -> None:
        """Run best-first proof search on a miniF2F split and record the results in a run directory."""
        from rich.console import Console

        args = Minif2fArgs(
            split=split.value, statement_set=statement_set, data=data, theorems=tuple(theorem), limit=limit,
            model=model, model_backend=model_backend.value, endpoint=endpoint, device=device, dtype=dtype,
            prompt=prompt, max_new_tokens=max_new_tokens, prover=prover.value, lean_project=lean_project,
            workers=workers, expansions=expansions, candidates=candidates, time_limit=time_limit,
            decoding=decoding.value, temperature=temperature, top_p=top_p, seed=seed, merge_states=merge_states,
            clean_candidates=clean_candidates, priority=priority.value if priority else None,
            exclude_model_wait=exclude_model_wait, prune_sorry=prune_sorry, replay_after_crash=replay_after_crash,
            step_time_limit=step_time_limit, improved=improved, concurrency=concurrency,
            output_dir=output_dir, run_dir=run_dir, resume=resume, force=force, retry_errors=retry_errors,
            progress=progress, cache=cache or cache_file is not None, cache_file=cache_file, batch_size=batch_size, batch_wait_ms=batch_wait_ms,
            ray=ray_address or ("local" if ray else None),
        )
        try:
            code = asyncio.run(run_minif2f(args, Console(), stderr_console()))
        except KeyboardInterrupt:
            typer.echo("interrupted: finished theorems are saved; run the same command again to resume", err=True)
            raise typer.Exit(130)
        raise typer.Exit(code)
