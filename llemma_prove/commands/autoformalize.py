"""`llemma-prove autoformalize`: statement autoformalization or Draft-Sketch-Prove, Lean 4 or Isabelle.

Order: validate the options -> load the problems (a JSONL file, or miniF2F's informal statements with
`--minif2f`) -> load the prompt -> build and start the prover (a missing Lean/Isabelle stops here,
before a model is loaded) -> build the model -> run into the run directory -> print the summary.

The prover (`--prover`, default: the target's built-in one) and the model (`--model-backend`) are
plug-ins built by `llemma_prove.assembly`, as for `minif2f`.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import importlib
import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

import typer

from .. import assembly
from ..config import DEFAULT_MODEL, ModelSpec
from ..console import stderr_console
from ..errors import DataError, ProverUnavailable, UserError
from ..plugins import proposer_plugin, prover_plugin
from ..types import Language
from . import options
from .options import Split

log = logging.getLogger(__name__)

DEFAULT_PROVERS = {"lean4": "lean", "isabelle": "isabelle"}


class TargetChoice(str, enum.Enum):
    lean4 = "lean4"
    isabelle = "isabelle"


class ModeChoice(str, enum.Enum):
    statement = "statement"
    dsp = "dsp"


class PaperChoice(str, enum.Enum):
    none = "none"
    llemma = "llemma"
    dsp = "dsp"


@dataclass(frozen=True)
class AutoformalizeArgs:
    input: Path | None = None
    target: str = "lean4"
    mode: str = "statement"
    minif2f: bool = False
    split: str | None = None
    data: Path | None = None
    limit: int | None = None
    names: tuple[str, ...] = ()
    prompt: Path | None = None
    candidates: int = 1
    sketches: int = 1
    temperature: float = 0.8
    seed: int | None = None
    equivalence: bool = True
    draft: bool = False
    hole_search: bool = True
    max_examples: int | None = None
    model: str = DEFAULT_MODEL
    model_backend: str = "hf"
    endpoint: str | None = None
    device: str | None = None
    dtype: str | None = None
    lean_project: Path | None = None
    workers: int | None = None
    prover: str | None = None  # plug-in name; None: the target's built-in prover
    concurrency: int = 1
    output_dir: Path = Path("runs")
    run_dir: Path | None = None
    resume: bool = True
    force: bool = False
    retry_errors: bool = False
    paper: str = "none"
    equivalence_tactics: tuple[str, ...] = ()
    equivalence_timeout: float = 120.0
    formalize_statement: bool = False
    max_prompt_chars: int | None = None


def validate(args: AutoformalizeArgs) -> None:
    if args.minif2f == (args.input is not None):
        raise UserError("give either an INPUT file of informal problems or --minif2f, not both and not neither")
    if args.minif2f and args.split is None:
        raise UserError("--minif2f needs --split valid or --split test")
    if args.input is not None and args.data is not None:
        raise UserError("--data applies to --minif2f only")
    options.check_at_least_one("--candidates", args.candidates)
    options.check_at_least_one("--sketches", args.sketches)
    options.check_at_least_one("--workers", args.workers)
    if not args.temperature > 0:
        raise UserError(f"--temperature must be positive, got {args.temperature:g}")
    options.check_at_least_one("--concurrency", args.concurrency)
    options.check_at_least_one("--limit", args.limit)
    backend = proposer_plugin(args.model_backend)  # an unknown name is a UserError naming the installed ones
    options.check_endpoint(args.model_backend, backend.remote, args.endpoint, args.device, args.dtype)
    if args.target != "lean4" and args.lean_project is not None:
        raise UserError("--lean-project applies to --target lean4 only")
    prover = prover_plugin(prover_name(args))
    if prover.language is not Language(args.target):
        raise UserError(f"--prover {prover.name} checks {prover.language.value}, not --target {args.target}")
    if args.prompt is not None and not args.prompt.exists():
        raise UserError(f"prompt file {args.prompt} not found")
    if not args.equivalence_timeout > 0:
        raise UserError(f"--equivalence-timeout must be positive, got {args.equivalence_timeout:g}")
    if args.max_prompt_chars is not None and args.max_prompt_chars < 1:
        raise UserError(f"--max-prompt-chars must be at least 1, got {args.max_prompt_chars}")
    if args.formalize_statement and args.mode != "dsp":
        raise UserError("--formalize-statement applies to --mode dsp only")
    if args.paper != "none":
        if args.target != "isabelle" or args.mode != "dsp":
            raise UserError(f"--paper {args.paper} is an Isabelle informal-to-formal setting: "
                            "use it with --target isabelle --mode dsp")
        if args.paper == "llemma" and args.sketches != 1:
            raise UserError("--paper llemma is one greedy proof per problem: leave --sketches at 1")
        if args.paper == "llemma" and args.draft:
            raise UserError("--paper llemma gives the model the human informal proofs: --draft does not apply")
        if args.paper == "llemma" and args.max_examples is not None:
            raise UserError("--paper llemma uses LLEMMA's fixed prompts: --max-examples does not apply")
    elif args.max_prompt_chars is not None:
        raise UserError("--max-prompt-chars applies to --paper dsp only")


# -- problems -----------------------------------------------------------------------------------------


async def load_minif2f_problems(args: AutoformalizeArgs) -> list[Any]:
    """miniF2F problems of the split: informal statement and proof, the benchmark statement as reference
    (the pinned statement sets of the `minif2f` command, or `--data FILE`)."""
    from ..autoformalize.problems import load_minif2f_file, minif2f_problems

    language = Language(args.target)
    if args.data is not None:
        return load_minif2f_file(args.data, language, args.split or "")
    if language is Language.LEAN4:
        from ..data import minif2f

        collection = await minif2f.load_statement_set(minif2f.DEFAULT_STATEMENT_SET)
    else:
        try:
            from ..data.isabelle_minif2f import load_isabelle_statements
        except ImportError as exc:
            raise ProverUnavailable(f"the Isabelle miniF2F statements are not available in this build ({exc})") from None
        collection = await load_isabelle_statements()
    return minif2f_problems(collection, args.split or "")


def select_problems(problems: Sequence[Any], names: Sequence[str], limit: int | None) -> list[Any]:
    if names:
        known = {p.name for p in problems}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise DataError(f"unknown problem name(s): {', '.join(unknown[:5])}")
        wanted = set(names)
        problems = [p for p in problems if p.name in wanted]
    return list(problems[:limit] if limit else problems)


# -- parts ----------------------------------------------------------------------------------------------


def prover_name(args: AutoformalizeArgs) -> str:
    return args.prover or DEFAULT_PROVERS[args.target]


def build_prover(args: AutoformalizeArgs, problems: Sequence[Any]) -> Any:
    theorems = [_theorem_for_header(p, args) for p in problems]
    return assembly.build_prover(assembly.prover_spec(prover_name(args), args.lean_project, args.workers), theorems)


def _theorem_for_header(problem: Any, args: AutoformalizeArgs) -> Any:
    from ..autoformalize.target import problem_theorem, target_for

    return problem_theorem(target_for(Language(args.target)), problem, problem.formal_statement or "")


def build_sketcher(args: AutoformalizeArgs, prover: Any) -> Any:
    from ..autoformalize.protocols import SketchProver

    if isinstance(prover, SketchProver):  # a prover plug-in that opens sketches itself
        return prover
    module_name = "llemma_prove.provers.lean.sketch" if args.target == "lean4" else "llemma_prove.provers.isabelle.sketch"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProverUnavailable(f"DSP mode needs the sketch adapter {module_name}, which cannot be imported ({exc})") from None
    return module.sketch_prover(prover)


def model_spec(args: AutoformalizeArgs) -> ModelSpec:
    return ModelSpec(model_id=args.model, backend=args.model_backend, endpoint=args.endpoint, device=args.device,
                     dtype=args.dtype)


def build_model(args: AutoformalizeArgs) -> Any:
    return assembly.build_model(model_spec(args))


def problems_digest(problems: Sequence[Any]) -> str:
    """sha256 of every problem the run draws from (before --name / --limit), as the run's input identity."""
    rows = [json.dumps(p.to_json(), sort_keys=True, ensure_ascii=False) for p in problems]
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


async def load_run_prompts(args: AutoformalizeArgs, language: Language, paper: Any) -> tuple[Any, Any]:
    """The prompt set, and for a paper mode the prompt data (fetched at its pinned commit on first use,
    or `--prompt PATH`) with its sha256."""
    from ..autoformalize.config import Paper
    from ..autoformalize.paper import PromptData, ensure_dsp_prompts, ensure_llemma_prompts, sha256_path
    from ..autoformalize.prompts import default_prompts, load_prompts

    if paper is Paper.NONE:
        return (load_prompts(args.prompt, language) if args.prompt else default_prompts(language)), None
    if args.prompt is not None:
        data = PromptData(args.prompt, sha256_path(args.prompt), "local")
    elif paper is Paper.LLEMMA:
        data = await ensure_llemma_prompts()
    else:
        data = await ensure_dsp_prompts()
    prompts = load_prompts(data.path, language)
    if paper is Paper.LLEMMA and prompts.fixed is None:
        raise DataError(f"--paper llemma needs LLEMMA's prompt file (prompts/doc_template), not {data.path}")
    if paper is Paper.DSP and (prompts.fixed is not None or not any(e.category for e in prompts.examples)):
        raise DataError(f"--paper dsp needs DSP's prompt examples with their categories "
                        f"(data/paper_prompt_examples/*.json), not {data.path}")
    return prompts, data


def default_run_dir(args: AutoformalizeArgs) -> Path:
    source = f"minif2f-{args.split}" if args.minif2f else re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(args.input or "input").stem)
    model = re.sub(r"[^A-Za-z0-9_.\-]", "_", args.model.rstrip("/").split("/")[-1])
    paper = f"-paper-{args.paper}" if args.paper != "none" else ""
    return args.output_dir / f"autoformalize-{args.mode}-{args.target}-{source}-{model}{paper}"


async def run_command(args: AutoformalizeArgs, console: Any = None, err_console: Any = None) -> dict[str, Any]:
    """The whole command; returns the run's summary."""
    from ..autoformalize.config import AutoformalizeConfig, Mode, Paper, Parts
    from ..autoformalize.isabelle import default_header
    from ..autoformalize.paper import PAPER_IMPORTS
    from ..autoformalize.problems import load_problems
    from ..autoformalize.run import preflight, run_autoformalize
    from ..autoformalize.target import target_for

    validate(args)
    language = Language(args.target)
    # A local input file is checked first (its errors are the user's); a missing Lean or Isabelle then
    # stops the command before any download or model.
    problems = None if args.minif2f else load_problems(args.input)  # type: ignore[arg-type]
    await assembly.preflight_prover(assembly.prover_spec(prover_name(args), args.lean_project))
    if problems is None:
        problems = await load_minif2f_problems(args)
    input_sha256 = problems_digest(problems)
    problems = select_problems(problems, args.names, args.limit)
    paper = Paper(args.paper)
    prompts, prompt_data = await load_run_prompts(args, language, paper)
    if paper is not Paper.NONE:
        # both checkers wrap every problem in one fixed header
        problems = [replace(p, header=default_header(p.name, PAPER_IMPORTS)) for p in problems]
    config = AutoformalizeConfig(
        target=language, mode=Mode(args.mode), model=args.model, model_backend=args.model_backend,
        input_sha256=input_sha256, candidates=args.candidates, sketches=args.sketches,
        temperature=args.temperature, seed=args.seed, check_equivalence=args.equivalence, always_draft=args.draft,
        formalize_statement=args.formalize_statement,
        hole_search=args.hole_search, max_examples=args.max_examples, prompt_source=prompts.source,
        equivalence_tactics=args.equivalence_tactics, equivalence_timeout_s=args.equivalence_timeout,
        paper=paper, allow_oracles=paper is not Paper.NONE,
        sketch_tokens=2048 if paper is Paper.DSP else AutoformalizeConfig.sketch_tokens,
        max_prompt_chars=args.max_prompt_chars,
    )
    run_dir = args.run_dir or default_run_dir(args)
    # a run directory holding another run is refused before any prover or model is started
    preflight(run_dir, problems, config, prompts, args.split or "", resume=args.resume, force=args.force)
    model = sketcher = proposer = None
    prover = build_prover(args, problems)
    try:
        await prover.start()
        if config.mode is Mode.DSP:
            sketcher = build_sketcher(args, prover)
        model = await asyncio.to_thread(build_model, args)
        if config.mode is Mode.DSP and language is Language.LEAN4 and args.hole_search:
            from .. import proposers

            proposer = proposers.build_tactic_proposer(model)
        parts = Parts(model=model, prover=prover, target=target_for(language), prompts=prompts,
                      sketcher=sketcher, proposer=proposer)
        extra: dict[str, Any] = {"input": str(args.input) if args.input else f"minif2f:{args.split}"}
        if prompt_data is not None:
            extra["prompt_data"] = prompt_data.to_json()
        result = await run_autoformalize(problems, config, parts, run_dir, evaluated_split=args.split or "",
                                         concurrency=args.concurrency, resume=args.resume, force=args.force,
                                         retry_errors=args.retry_errors, extra=extra,
                                         console=err_console, show_progress=err_console is not None)
    finally:
        if model is not None:
            await assembly.close_quietly(model)
        await assembly.close_quietly(prover)
    if console is not None:
        console.print(result.markdown)
        console.print(f"results: {run_dir}")
    return result.summary


def register(app: typer.Typer) -> None:
    @app.command("autoformalize")
    def autoformalize_command(
        input: Optional[Path] = typer.Argument(None, help="JSONL of informal problems (name, informal_statement, "
                                                          "optional informal_proof, formal_statement)."),
        target: TargetChoice = typer.Option(TargetChoice.lean4, "--target", help="Formal language."),
        mode: ModeChoice = typer.Option(ModeChoice.statement, "--mode", help="statement: autoformalize statements; "
                                                                             "dsp: Draft, Sketch, Prove."),
        minif2f: bool = typer.Option(False, "--minif2f", help="Use miniF2F's informal statements and proofs."),
        split: Optional[Split] = typer.Option(None, "--split", help="miniF2F split (with --minif2f)."),
        data: Optional[Path] = typer.Option(None, "--data", help="Local miniF2F JSONL (with --minif2f) instead of the pinned set."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N problems."),
        name: list[str] = options.theorems("problem"),
        prompt: Optional[Path] = typer.Option(None, "--prompt", help="Prompt file or folder: the project's format, DSP's "
                                                                     "paper_prompt_examples, or Llemma's llemma_isabelle_informal2formal.json."),
        candidates: int = typer.Option(1, "--candidates", help="Statement candidates per problem (1 = greedy)."),
        sketches: int = typer.Option(1, "--sketches", help="DSP sketches per problem (1 = greedy, the paper's setting)."),
        temperature: float = typer.Option(0.8, "--temperature", help="Sampling temperature when more than one sample is drawn."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for sampling."),
        equivalence: bool = typer.Option(True, "--equivalence/--no-equivalence", help="Try to prove candidates equivalent to the reference."),
        draft: bool = typer.Option(False, "--draft", help="DSP: draft informal proofs with the model even where the "
                                                          "input gives one (default: use the given proof)."),
        hole_search: bool = typer.Option(True, "--hole-search/--no-hole-search", help="Lean: best-first search on holes the tactic list leaves open."),
        max_examples: Optional[int] = typer.Option(None, "--max-examples", help="At most this many few-shot examples."),
        model: str = options.model(),
        model_backend: str = options.model_backend(),
        endpoint: Optional[str] = options.endpoint(),
        device: Optional[str] = options.device(),
        dtype: Optional[str] = options.dtype(),
        lean_project: Optional[Path] = options.lean_project(),
        workers: Optional[int] = options.workers(),
        prover: Optional[str] = options.prover(None, " Default: the --target's own (lean, isabelle)."),
        concurrency: int = typer.Option(1, "--concurrency", help="Problems worked on at once."),
        output_dir: Path = typer.Option(Path("runs"), "--output-dir", help="Parent folder of run directories."),
        run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Exact run directory."),
        resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip problems already finished in the run directory."),
        force: bool = typer.Option(False, "--force", help="Start over in a run directory made with other settings (old files are kept)."),
        retry_errors: bool = typer.Option(False, "--retry-errors", help="Run again the problems that ended in an error."),
        paper: PaperChoice = typer.Option(PaperChoice.none, "--paper", help="llemma: LLEMMA's Isabelle informal-to-formal "
                                          "setting; dsp: DSP's prompt sampling (both fetch their prompts at a pinned commit)."),
        equivalence_tactic: list[str] = typer.Option([], "--equivalence-tactic", help="Tactic tried on each equivalence "
                                                     "direction (repeatable; default: the target's list)."),
        equivalence_timeout: float = typer.Option(120.0, "--equivalence-timeout", help="Seconds for one equivalence direction."),
        formalize_statement: bool = typer.Option(False, "--formalize-statement", help="DSP: autoformalize the statement even "
                                                 "where a reference exists (a proof counts only if it is proved equivalent)."),
        max_prompt_chars: Optional[int] = typer.Option(None, "--max-prompt-chars", help="--paper dsp: prompt-length guard "
                                                       "in characters (DSP's: 10000)."),
    ) -> None:
        """Autoformalize informal problems: formal statements, or Draft-Sketch-Prove proofs."""
        from rich.console import Console

        args = AutoformalizeArgs(
            input=input, target=target.value, mode=mode.value, minif2f=minif2f,
            split=split.value if split else None, data=data, limit=limit, names=tuple(name), prompt=prompt,
            candidates=candidates, sketches=sketches, temperature=temperature, seed=seed, equivalence=equivalence,
            draft=draft, hole_search=hole_search, max_examples=max_examples, model=model, model_backend=model_backend,
            endpoint=endpoint, device=device, dtype=dtype, lean_project=lean_project, workers=workers, prover=prover,
            concurrency=concurrency, output_dir=output_dir, run_dir=run_dir, resume=resume,
            force=force, retry_errors=retry_errors, paper=paper.value, equivalence_tactics=tuple(equivalence_tactic),
            equivalence_timeout=equivalence_timeout, formalize_statement=formalize_statement,
            max_prompt_chars=max_prompt_chars,
        )
        try:
            asyncio.run(run_command(args, Console(), stderr_console()))
        except KeyboardInterrupt:
            typer.echo("interrupted: finished problems are saved; run the same command again to resume", err=True)
            raise typer.Exit(130)
