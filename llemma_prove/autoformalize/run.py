"""Run autoformalization over many problems: leak rules, resume, one crash-safe line per problem, report."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import ProposerError, ProverError
from ..runner import RunProgress
from .config import AutoformalizeConfig, Mode, Parts
from .dsp import draft_sketch_prove
from .problems import InformalProblem
from .report import summarise, to_markdown
from .selection import Selection, select
from .statement import autoformalize_statement
from .prompts import prompt_digest
from .store import ERROR, AutoformalizeStore, ProblemRecord, RunMeta

log = logging.getLogger(__name__)

# Verdicts counted as a success on the progress bar.
SUCCESS_VERDICTS = frozenset({"proved", "equivalent", "well-formed"})

@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    markdown: str
    ran: tuple[str, ...]
    skipped: tuple[str, ...]  # finished in an earlier run (resume)
    selection: Selection


async def run_problem(problem: InformalProblem, config: AutoformalizeConfig, parts: Parts) -> ProblemRecord:
    """One problem, start to end. A prover or model failure (or a time limit) makes an `error` record:
    never another outcome; it stays in the denominator and is run again with `--retry-errors`."""
    start = time.monotonic()
    has_reference = problem.formal_statement is not None
    try:
        if config.mode is Mode.STATEMENT:
            outcome = await autoformalize_statement(problem, config, parts)
            return ProblemRecord.make(problem.name, problem.split, config, outcome.verdict(),
                                      has_reference=has_reference, elapsed_s=round(time.monotonic() - start, 4),
                                      statement=outcome.to_json())
        dsp = await draft_sketch_prove(problem, config, parts)
        return ProblemRecord.make(problem.name, problem.split, config, dsp.verdict().value, reason=dsp.reason,
                                  has_reference=has_reference, elapsed_s=round(time.monotonic() - start, 4),
                                  dsp=dsp.to_json())
    except (ProverError, ProposerError, asyncio.TimeoutError) as exc:
        message = str(exc) or type(exc).__name__
        log.warning("%s: %s", problem.name, message)
        return ProblemRecord.make(problem.name, problem.split, config, ERROR, has_reference=has_reference,
                                  elapsed_s=round(time.monotonic() - start, 4), error=message[:500])


def prepare(problems: Sequence[InformalProblem], config: AutoformalizeConfig, prompts: Any,
            evaluated_split: str = "") -> tuple[Selection, AutoformalizeConfig]:
    """The leak rules applied, and the config with the hash of the prompt that will reach the model."""
    selection = select(problems, prompts, evaluated_split)
    return selection, replace(config, prompt_sha256=prompt_digest(selection.prompts))


def preflight(run_dir: Path, problems: Sequence[InformalProblem], config: AutoformalizeConfig, prompts: Any,
              evaluated_split: str = "", resume: bool = True, force: bool = False) -> None:
    """Refuse early (before a prover or model is started) what opening the run directory would refuse."""
    _, config = prepare(problems, config, prompts, evaluated_split)
    if Path(run_dir).exists():
        AutoformalizeStore._reconcile(Path(run_dir), RunMeta(config), resume, force)


async def run_autoformalize(
    problems: Sequence[InformalProblem],
    config: AutoformalizeConfig,
    parts: Parts,
    run_dir: Path,
    evaluated_split: str = "",
    concurrency: int = 1,
    resume: bool = True,
    force: bool = False,
    retry_errors: bool = False,
    extra: dict[str, Any] | None = None,
    on_record: Callable[[ProblemRecord], None] | None = None,
    console: Any = None,
    show_progress: bool = False,
) -> RunResult:
    """Evaluate `problems` into `run_dir`; problems with a result there already are skipped."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    # the prompt that reaches the model is part of the run's identity
    selection, config = prepare(problems, config, parts.prompts, evaluated_split)
    parts = replace(parts, prompts=selection.prompts)
    meta_extra = dict(extra or {})
    meta_extra["excluded"] = [{"name": e.name, "reason": e.reason} for e in selection.excluded]
    meta_extra["dropped_examples"] = list(selection.dropped_examples)
    meta_extra["prompt_source"] = selection.prompts.source
    with AutoformalizeStore.open(Path(run_dir), RunMeta(config, meta_extra), resume=resume, force=force,
                                 retry_errors=retry_errors) as store:
        done = store.finished()
        todo = [p for p in selection.problems if p.name not in done]
        skipped = tuple(p.name for p in selection.problems if p.name in done)
        if skipped:
            log.info("resuming: %d problems already finished, %d to go", len(skipped), len(todo))
        semaphore = asyncio.Semaphore(concurrency)
        lock = asyncio.Lock()
        progress = RunProgress(console, len(todo), show_progress, label=f"autoformalize {config.mode.value}",
                               success="ok")
        counts = {"ok": 0, "tried": 0}

        async def one(problem: InformalProblem) -> None:
            async with semaphore:
                record = await run_problem(problem, config, parts)
            async with lock:
                store.append(record)
            counts["tried"] += 1
            counts["ok"] += int(record.verdict in SUCCESS_VERDICTS)
            progress.advance(counts["ok"], counts["tried"])
            if on_record is not None:
                on_record(record)

        with progress:
            await asyncio.gather(*(one(p) for p in todo))
        wanted = {p.name for p in selection.problems}
        records = [r for r in store.records() if r.name in wanted]
        summary = summarise(config, records, total=len(selection.problems),
                            excluded=meta_extra["excluded"], extra={k: v for k, v in meta_extra.items() if k != "excluded"})
        markdown = to_markdown(summary)
        store.write_summary(summary, markdown)
    return RunResult(Path(run_dir), summary, markdown, tuple(p.name for p in todo), skipped, selection)
