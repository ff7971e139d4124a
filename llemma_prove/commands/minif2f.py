"""`llemma-prove minif2f`: best-first search over a miniF2F split, recorded in a run directory.

Order matters and is fixed: validate every argument -> load the statements (downloading the pinned
set on first use) -> check the run directory -> build the prover and `start()` it (a missing Lean
stops here, before any model is loaded) -> build the model and proposer -> run -> print the summary.

This module turns the options into a `RunConfig` and the results into output; the prover, the model,
batching and the cache are built by `llemma_prove.assembly` from that configuration, the prover and the
model backend chosen by plug-in name (`--prover`, `--model-backend`; see `llemma_prove.plugins`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import typer

from .. import assembly
from ..assembly import CACHE_FILE, LEAN_PROJECT_ENV, build_proposer, build_prover, preflight_prover, record_cache_stats
from ..config import DEFAULT_MODEL, EngineSpec, ModelSpec, ProverSpec, RunConfig, package_versions
from ..data import minif2f
from ..console import stderr_console
from ..errors import ModelLoadError, ProverUnavailable, UserError
from ..plugins import proposer_plugin, prover_plugin
from ..search import Priority, SearchConfig
from ..types import DecodingMethod, Language, SamplingParams, Theorem
from . import options
from .options import Split

log = logging.getLogger(__name__)

__all__ = ["CACHE_FILE", "LEAN_PROJECT_ENV", "build_proposer", "build_prover", "preflight_prover", "record_cache_stats"]


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
    parallel_checks: int | None = None
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
    options.check_budget(args.expansions, args.candidates, args.time_limit, args.max_new_tokens)
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
    if args.parallel_checks is not None and args.parallel_checks < 0:
        raise UserError(f"--parallel-checks must be 0 (as many as the prover runs at once) or more, got {args.parallel_checks}")
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
        parallel_checks=args.parallel_checks if args.parallel_checks is not None else base.parallel_checks,
    )


def validate_args(args: Minif2fArgs) -> None:
    """Combinations that cannot work, caught before anything is loaded."""
    if args.split not in ("valid", "test"):
        raise UserError(f"unknown split '{args.split}' (choose valid or test)")
    if args.concurrency is not None:  # None: sized from the machine
        options.check_at_least_one("--concurrency", args.concurrency)
    options.check_at_least_one("--workers", args.workers)
    options.check_at_least_one("--limit", args.limit)
    options.check_statements(args.data, args.statement_set, minif2f.STATEMENT_SETS)
    prover, backend = prover_plugin(args.prover), proposer_plugin(args.model_backend)  # unknown names: UserError
    if prover.language is Language.ISABELLE and args.statement_set is not None:
        raise UserError(f"--statement-set names a Lean 4 set; --prover {args.prover} uses the Isabelle miniF2F statements")
    if not prover.uses_lean_project and args.lean_project is not None:
        raise UserError("--lean-project applies to the Lean backends (--prover lean or dojo)")
    options.check_endpoint(args.model_backend, backend.remote, args.endpoint, args.device, args.dtype)
    if args.run_dir is not None and args.output_dir != Path("runs"):
        raise UserError("use either --run-dir DIR or --output-dir DIR, not both")
    if args.prompt is not None and str(args.prompt) != BUILTIN_PROMPT and not args.prompt.is_file():
        raise UserError(f"prompt file {args.prompt} not found (or use --prompt builtin for the project's own prompt)")
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
    isabelle = assembly.language_of(args.prover) is Language.ISABELLE
    if args.prompt is None:
        return prompts.default_isabelle_template() if isabelle else None
    if str(args.prompt) == BUILTIN_PROMPT:
        return prompts.default_isabelle_template() if isabelle else prompts.default_lean4_template()
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
    if assembly.language_of(args.prover) is Language.ISABELLE:
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


def prover_spec(args: Minif2fArgs) -> ProverSpec:
    return assembly.prover_spec(args.prover, args.lean_project, args.workers)


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


# -- engine -------------------------------------------------------------------------------------------


def resolve_concurrency(args: Minif2fArgs) -> tuple[Minif2fArgs, str]:
    """--concurrency not given: sized from this machine (the rule is in llemma_prove/sizing.py); returns
    the arguments with it and the line that says why."""
    from ..sizing import default_concurrency, detect_machine

    remote = proposer_plugin(args.model_backend).remote
    machine = detect_machine(probe_gpu=not remote and not (args.device or "").startswith("cpu"))
    choice = default_concurrency(machine, remote, args.device, args.candidates, args.max_new_tokens)
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
    if not proposer_plugin(args.model_backend).remote:
        if args.model == DEFAULT_MODEL:
            from ..sizing import weights_gb

            lines.append(f"later, on first use: the {args.model} weights, about {weights_gb():.0f} GB in bfloat16 "
                         "(7 B parameters x 2 bytes), unless already in the Hugging Face cache")
        else:
            lines.append(f"later, on first use: the {args.model} weights, unless already in the Hugging Face cache")
    return lines


async def preflight_or_offer_setup(args: Minif2fArgs, spec: ProverSpec, err_console: Any = None) -> None:
    """The installation check; when the Lean project is not ready, offer `setup lean` on a terminal (a
    yes/no prompt), else stop with one line naming it."""
    import sys

    try:
        await preflight_prover(spec)
        return
    except ProverUnavailable as exc:
        if not prover_plugin(args.prover).uses_lean_project:
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

    await lean_setup.setup_lean_async(assembly.lean_project_dir(args.lean_project), err_console)
    await preflight_prover(spec)


def cache_path(args: Minif2fArgs, run_dir: Path) -> Path | None:
    """The tactic-outcome cache file: --cache-file, else one in the run directory; None without --cache."""
    if not args.cache:
        return None
    return (args.cache_file or run_dir / CACHE_FILE).resolve()


def engine_spec(args: Minif2fArgs, run_dir: Path) -> EngineSpec:
    return assembly.engine_spec(cache_path(args, run_dir), args.concurrency, args.batch_size, args.batch_wait_ms,
                                args.ray)


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
    if loaded is not None and prover_plugin(args.prover).language is Language.LEAN4:
        minif2f.check_lean_statement_forms(loaded[0])
    spec = prover_spec(args)
    if args.ray in (None, "local"):  # a remote cluster checks its own
        await preflight_or_offer_setup(args, spec, err_console)
    template = await resolve_prompt(template)
    theorems, source = loaded or await load_theorems(args)
    if prover_plugin(args.prover).language is Language.LEAN4:
        minif2f.check_lean_statement_forms(theorems)
    config = run_config(args, search, source, theorems, template)
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

        summary = await run_on_ray(config, theorems, run_dir, template, resume=args.resume, force=args.force,
                                   retry_errors=args.retry_errors, progress=args.progress, err_console=err_console)
        if console is not None:
            console.print(rich_table(summary))
            console.print(f"results: {run_dir}")
        return 0

    prover = build_prover(config.prover, theorems, search)
    proposer = None
    try:
        await prover.start()  # raises ProverUnavailable (what to install) before any model is loaded
        language = assembly.language_of(config.prover.name)
        proposer = await asyncio.to_thread(build_proposer, config.model, language, template, theorems)
        proposer = assembly.with_batching(proposer, config.engine)
        with RunStore.open(run_dir, config, resume=args.resume, force=args.force,
                           retry_errors=args.retry_errors) as store:
            # opened after the store, which may move an old run aside
            prover = assembly.with_cache(prover, config.engine)
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
            if config.engine.cache_file is not None:
                record_cache_stats(store, prover.cache.stats.to_json(), err_console)
    finally:
        if proposer is not None:
            await assembly.close_quietly(proposer)
        await assembly.close_quietly(prover)
    if console is not None:
        console.print(rich_table(summary))
        console.print(f"results: {run_dir}")
    return 0


def register(app: typer.Typer) -> None:
    @app.command("minif2f")
    def minif2f_command(
        split: Split = typer.Option(Split.test, "--split", help="miniF2F split.", rich_help_panel=options.SELECTION_PANEL),
        statement_set: Optional[str] = options.statement_set(),
        data: Optional[Path] = options.data(),
        theorem: list[str] = options.theorems(),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N theorems.", rich_help_panel=options.SELECTION_PANEL),
        model: str = options.model(),
        model_backend: str = options.model_backend(),
        endpoint: Optional[str] = options.endpoint(),
        device: Optional[str] = options.device(),
        dtype: Optional[str] = options.dtype(),
        prompt: Optional[Path] = typer.Option(None, "--prompt", help="Prompt JSON file, or 'builtin' for the project's own prompt (default: the paper harness's prompt, fetched at its pinned commit).", rich_help_panel=options.MODEL_PANEL),
        max_new_tokens: int = options.max_new_tokens(),
        prover: str = options.prover(),
        lean_project: Optional[Path] = options.lean_project(),
        workers: Optional[int] = options.workers(),
        expansions: int = options.expansions(),
        candidates: int = options.candidates(),
        time_limit: float = options.time_limit(),
        decoding: Decoding = typer.Option(Decoding.beam, "--decoding", help="beam (paper) or sample.", rich_help_panel=options.DECODING_PANEL),
        temperature: Optional[float] = typer.Option(None, "--temperature", help="Sampling temperature (--decoding sample).", rich_help_panel=options.DECODING_PANEL),
        top_p: Optional[float] = typer.Option(None, "--top-p", help="Nucleus sampling mass (--decoding sample).", rich_help_panel=options.DECODING_PANEL),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for sampling.", rich_help_panel=options.DECODING_PANEL),
        merge_states: bool = typer.Option(False, "--merge-states", help="Identical goal states share one node.", rich_help_panel=options.SEARCH_PANEL),
        clean_candidates: bool = typer.Option(False, "--clean-candidates", help="Strip, drop empty and deduplicate candidates.", rich_help_panel=options.SEARCH_PANEL),
        priority: Optional[PriorityChoice] = typer.Option(None, "--priority", help="Node priority: sum (paper) or depth-normalised.", rich_help_panel=options.SEARCH_PANEL),
        exclude_model_wait: bool = typer.Option(False, "--exclude-model-wait", help="Generation time does not count against --time-limit (queueing never does).", rich_help_panel=options.SEARCH_PANEL),
        prune_sorry: bool = typer.Option(False, "--prune-sorry", help="Drop states reached by a step that uses sorry (paper: queued).", rich_help_panel=options.SEARCH_PANEL),
        replay_after_crash: bool = typer.Option(False, "--replay-after-crash", help="A Lean crash costs a replay, not the theorem (paper: the theorem ends).", rich_help_panel=options.SEARCH_PANEL),
        step_time_limit: Optional[float] = typer.Option(None, "--step-time-limit", help="Seconds per tactic (paper: none, only the theorem's clock).", rich_help_panel=options.SEARCH_PANEL),
        parallel_checks: Optional[int] = typer.Option(None, "--parallel-checks", help="Candidates of one expansion checked at once (paper: 1; 0: as many as the prover runs; --improved: 0).", rich_help_panel=options.SEARCH_PANEL),
        improved: bool = typer.Option(False, "--improved", help="All search improvements on (budgets unchanged).", rich_help_panel=options.SEARCH_PANEL),
        concurrency: Optional[int] = typer.Option(None, "--concurrency", help="Theorems searched at once "
                                                  "(default: sized from the machine, see docs/performance.md).", rich_help_panel=options.THROUGHPUT_PANEL),
        output_dir: Path = typer.Option(Path("runs"), "--output-dir", help="Parent folder of run directories.", rich_help_panel=options.RUN_PANEL),
        run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Exact run directory (default: derived from the configuration).", rich_help_panel=options.RUN_PANEL),
        resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip theorems already finished in the run directory.", rich_help_panel=options.RUN_PANEL),
        force: bool = typer.Option(False, "--force", help="Start over in a run directory made with another configuration (old files are kept).", rich_help_panel=options.RUN_PANEL),
        retry_errors: bool = typer.Option(False, "--retry-errors", help="Run again the theorems that ended in an error.", rich_help_panel=options.RUN_PANEL),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar.", rich_help_panel=options.RUN_PANEL),
        cache: bool = typer.Option(False, "--cache/--no-cache", help="Tactic-outcome cache: steps already answered (same prover, header, state, tactic) are not sent to the prover again.", rich_help_panel=options.THROUGHPUT_PANEL),
        cache_file: Optional[Path] = typer.Option(None, "--cache-file", help="Cache file (implies --cache; default: tactic-cache.sqlite in the run directory); share one between runs.", rich_help_panel=options.THROUGHPUT_PANEL),
        batch_size: int = typer.Option(32, "--batch-size", help="Most generation requests of concurrent searches sent to the model in one batch.", rich_help_panel=options.THROUGHPUT_PANEL),
        batch_wait_ms: float = typer.Option(5.0, "--batch-wait-ms", help="Longest wait (ms) to fill a generation batch.", rich_help_panel=options.THROUGHPUT_PANEL),
        ray: bool = typer.Option(False, "--ray", help="Spread the theorems over a Ray cluster (a new local one unless --ray-address).", rich_help_panel=options.THROUGHPUT_PANEL),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join this Ray cluster (auto, host:6379, ray://host:10001); implies --ray.", rich_help_panel=options.THROUGHPUT_PANEL),
    ) -> None:
        """Run best-first proof search on a miniF2F split and record the results in a run directory."""
        from rich.console import Console

        args = Minif2fArgs(
            split=split.value, statement_set=statement_set, data=data, theorems=tuple(theorem), limit=limit,
            model=model, model_backend=model_backend, endpoint=endpoint, device=device, dtype=dtype,
            prompt=prompt, max_new_tokens=max_new_tokens, prover=prover, lean_project=lean_project,
            workers=workers, expansions=expansions, candidates=candidates, time_limit=time_limit,
            decoding=decoding.value, temperature=temperature, top_p=top_p, seed=seed, merge_states=merge_states,
            clean_candidates=clean_candidates, priority=priority.value if priority else None,
            exclude_model_wait=exclude_model_wait, prune_sorry=prune_sorry, replay_after_crash=replay_after_crash,
            step_time_limit=step_time_limit, parallel_checks=parallel_checks, improved=improved, concurrency=concurrency,
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
