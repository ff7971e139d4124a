"""Run many proof searches at once and record each theorem the moment it ends.

Per theorem: `search.prove_theorem` (`prover.open` -> best-first search -> `session.close` ->
`prover.verify`, the final check from scratch) -> store. A theorem counts as proved only when that check says ACCEPTED. One theorem's
crash becomes that theorem's ERROR record, not the run's end; Ctrl-C (task cancellation) leaves the
store consistent because every write is synchronous and whole. The runner knows the `Prover` and
`Proposer` interfaces only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Sequence

from .errors import UserError
from .interfaces import Proposer, Prover
from .search import SearchConfig, SearchResult, prove_theorem
from .store import RunStore
from .types import SearchStatus, Theorem

log = logging.getLogger(__name__)

AttemptFn = Callable[[Theorem, Prover, Proposer, SearchConfig], Awaitable[SearchResult]]


class RunAborted(UserError):
    """Too many theorems in a row failed with an error: the setup is broken, not the theorems."""


@dataclass(frozen=True)
class RunnerOptions:
    concurrency: int = 1
    theorem_timeout_s: float | None = None  # hard cap per theorem (search + check); None: the search's own
    max_consecutive_errors: int | None = 20  # stop scheduling after this many ERROR results in a row
    show_progress: bool = True

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")


@dataclass(frozen=True)
class RunOutcome:
    """What one invocation did (the summary covers the whole run directory)."""

    attempted: int
    skipped: int
    proved: int
    errors: int
    interrupted: bool
    elapsed_s: float


class Runner:
    def __init__(
        self,
        prover: Prover,
        proposer: Proposer,
        search: SearchConfig,
        store: RunStore,
        options: RunnerOptions = RunnerOptions(),
        console: object | None = None,
        attempt: AttemptFn = prove_theorem,
    ) -> None:
        self.prover = prover
        self.proposer = proposer
        self.search = search
        self.store = store
        self.options = options
        self.console = console
        self.attempt = attempt
        self._consecutive_errors = 0
        self._last_error = ""

    async def prove_one(self, theorem: Theorem) -> tuple[SearchResult, str | None]:
        """One attempt (search, then the final check); returns the result and, if proved, its text."""
        result = await self.attempt(theorem, self.prover, self.proposer, self.search)
        if not result.proved or result.proof is None:
            return result, None
        return result, self.prover.render(theorem, result.proof)

    async def _run_theorem(self, theorem: Theorem) -> SearchResult:
        started = time.monotonic()
        proof_text = None
        try:
            if self.options.theorem_timeout_s is not None:
                result, proof_text = await asyncio.wait_for(self.prove_one(theorem), self.options.theorem_timeout_s)
            else:
                result, proof_text = await self.prove_one(theorem)
        except asyncio.TimeoutError:
            result = SearchResult(
                theorem.name, SearchStatus.TIMEOUT, elapsed_s=time.monotonic() - started,
                error=f"stopped by the runner's hard cap of {self.options.theorem_timeout_s:g} s per theorem",
            )
        except Exception as exc:
            log.exception("theorem %s failed", theorem.name)
            result = SearchResult(
                theorem.name, SearchStatus.ERROR, elapsed_s=time.monotonic() - started,
                error=f"{type(exc).__name__}: {exc}",
            )
        self.store.append(theorem, result, proof_text)
        log.info("%s: %s (%d expansions, %.1f s)%s", theorem.name, result.status.value, result.expansions,
                 result.elapsed_s, f" {result.error}" if result.error else "")
        if result.status is SearchStatus.ERROR:
            self._consecutive_errors += 1
            self._last_error = result.error
        else:
            self._consecutive_errors = 0
        return result

    def _too_many_errors(self) -> bool:
        limit = self.options.max_consecutive_errors
        return limit is not None and self._consecutive_errors >= limit

    async def run(self, theorems: Sequence[Theorem]) -> RunOutcome:
        """Run every theorem not yet finished in the store, `concurrency` at a time."""
        started = time.monotonic()
        todo, skipped = pending_theorems(self.store, theorems)
        counts = {"tried": 0, "proved": 0, "errors": 0}
        queue: asyncio.Queue[Theorem] = asyncio.Queue()
        for theorem in todo:
            queue.put_nowait(theorem)
        progress = RunProgress(self.console, len(todo), self.options.show_progress)

        async def worker() -> None:
            while not queue.empty() and not self._too_many_errors():
                theorem = queue.get_nowait()
                result = await self._run_theorem(theorem)
                counts["tried"] += 1
                counts["proved"] += int(result.proved)
                counts["errors"] += int(result.status is SearchStatus.ERROR)
                progress.advance(counts["proved"], counts["tried"])

        interrupted = False
        with progress:
            workers = [asyncio.create_task(worker()) for _ in range(min(self.options.concurrency, len(todo)))]
            try:
                await asyncio.gather(*workers)
            except asyncio.CancelledError:
                interrupted = True
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise
            finally:
                self.store.write_proofs()
                from .report import write_summary

                write_summary(self.store)
                if interrupted:
                    log.warning("interrupted: %d theorems recorded in this session; re-run to resume", counts["tried"])
        if self._too_many_errors():
            raise RunAborted(
                f"stopped after {self._consecutive_errors} theorems in a row ended in an error "
                f"(last: {self._last_error}); fix the cause, then re-run with --retry-errors"
            )
        return RunOutcome(
            attempted=counts["tried"], skipped=skipped, proved=counts["proved"], errors=counts["errors"],
            interrupted=interrupted, elapsed_s=time.monotonic() - started,
        )


def pending_theorems(store: RunStore, theorems: Sequence[Theorem]) -> tuple[list[Theorem], int]:
    """The theorems without a result yet (resume), and how many were skipped."""
    finished = store.finished()
    todo = [t for t in theorems if t.name not in finished]
    skipped = len(theorems) - len(todo)
    if skipped:
        log.info("resuming: %d of %d theorems already have results", skipped, len(theorems))
    return todo, skipped


class RunProgress:
    """A rich progress bar (proved / tried / rate / elapsed), or nothing when disabled."""

    def __init__(self, console: object | None, total: int, enabled: bool, label: str = "miniF2F",
                 success: str = "proved") -> None:
        self._bar = None
        self._task = None
        if not enabled or total == 0:
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._bar = Progress(
            TextColumn(f"[bold]{label}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(success + " {task.fields[proved]}/{task.fields[tried]} ({task.fields[rate]})"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),  # from the pace so far; the budget's upper bound is printed at the start
            console=console,  # type: ignore[arg-type]
            transient=False,
        )
        self._task = self._bar.add_task("run", total=total, proved=0, tried=0, rate="-")

    def advance(self, proved: int, tried: int) -> None:
        if self._bar is not None and self._task is not None:
            rate = f"{100 * proved / tried:.1f}%" if tried else "-"
            self._bar.update(self._task, advance=1, proved=proved, tried=tried, rate=rate)

    def __enter__(self) -> "RunProgress":
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
