"""N REPL processes serving many concurrent searches.

Each worker owns one `LeanRepl` and runs the jobs of its bounded queue one at a time (the REPL
answers requests sequentially). A search is bound to one worker, so all its proof states live in one
process. When a search's worker is busy and another worker sits idle, the search moves to the idle
worker (its states are rebuilt there by replay, which sessions do anyway after a restart), so no
worker waits while work is queued. A job that finds its process dead or worn out restarts it first.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Generic, TypeVar

from ...errors import ProverError
from ...waits import WaitMeter, current_meter
from .repl import LeanRepl

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[LeanRepl], Awaitable[T]]


@dataclass
class _Item(Generic[T]):
    job: Job[T]
    future: "asyncio.Future[T]"
    meter: WaitMeter | None = None  # the caller's queueing meter: waiting for this worker is not its time
    wait_token: int = 0

    def started(self) -> None:
        if self.meter is not None:
            self.meter.end(self.wait_token)


@dataclass
class Worker:
    index: int
    repl: LeanRepl
    queue: "asyncio.Queue[_Item]"
    sessions: int = 0
    busy: bool = False
    jobs_done: int = 0
    task: "asyncio.Task[None] | None" = field(default=None, repr=False)

    @property
    def load(self) -> int:
        return self.queue.qsize() + (1 if self.busy else 0)

    @property
    def idle(self) -> bool:
        return not self.busy and self.queue.empty()

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            if item.future.done():  # the caller gave up before the job started
                continue
            self.busy = True
            try:
                await self.repl.ensure_ready()
                item.started()
                # The job runs as its own task so that a caller who gives up (the theorem's hard clock)
                # interrupts it; the REPL kills a process interrupted mid-request.
                job = asyncio.ensure_future(item.job(self.repl))
                item.future.add_done_callback(lambda f, job=job: job.cancel() if f.cancelled() else None)
                try:
                    await asyncio.wait({job})
                except asyncio.CancelledError:
                    job.cancel()
                    await asyncio.gather(job, return_exceptions=True)
                    raise
                if job.cancelled():
                    continue
                result = job.result()
            except asyncio.CancelledError:
                if not item.future.done():
                    item.future.cancel()
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                if not item.future.done():
                    item.future.set_exception(exc)
            else:
                if not item.future.done():
                    item.future.set_result(result)
            finally:
                self.busy = False
                self.jobs_done += 1


class ReplPool:
    """The workers, their queues, and which search sits on which worker."""

    def __init__(self, repls: list[LeanRepl], max_queue: int = 256) -> None:
        if not repls:
            raise ValueError("a pool needs at least one REPL")
        self.max_queue = max_queue
        self.workers = [Worker(i, repl, asyncio.Queue(maxsize=max_queue)) for i, repl in enumerate(repls)]
        self._started = False

    async def start(self) -> None:
        """Start every process (header imports run in parallel); on any failure stop them all."""
        if self._started:
            return
        results = await asyncio.gather(*(w.repl.ensure_ready() for w in self.workers), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await asyncio.gather(*(w.repl.close() for w in self.workers), return_exceptions=True)
            raise failures[0]
        for worker in self.workers:
            worker.task = asyncio.ensure_future(worker.run())
        self._started = True

    async def close(self) -> None:
        for worker in self.workers:
            if worker.task is not None:
                worker.task.cancel()
        for worker in self.workers:
            if worker.task is not None:
                try:
                    await worker.task
                except (asyncio.CancelledError, Exception):
                    pass
                worker.task = None
            while not worker.queue.empty():
                item = worker.queue.get_nowait()
                if not item.future.done():
                    item.future.set_exception(ProverError("the Lean prover was closed"))
        await asyncio.gather(*(w.repl.close() for w in self.workers), return_exceptions=True)
        self._started = False

    @property
    def started(self) -> bool:
        return self._started

    # ------------------------------------------------------------------ placement

    def assign(self) -> Worker:
        """A worker for a new search: the one with the fewest searches, then the least work."""
        worker = min(self.workers, key=lambda w: (w.sessions, w.load, w.index))
        worker.sessions += 1
        return worker

    def release(self, worker: Worker) -> None:
        worker.sessions = max(0, worker.sessions - 1)

    def idle_worker(self, exclude: Worker | None = None) -> Worker | None:
        """An idle worker, one whose REPL is running first: a step cancelled mid-request (a proof found
        by another check, a hard clock) kills its process, and the next job there waits for a restart."""
        idle = [w for w in self.workers if w is not exclude and w.idle]
        return min(idle, key=lambda w: (w.repl.needs_restart, w.index), default=None)

    def move(self, source: Worker, target: Worker) -> None:
        self.release(source)
        target.sessions += 1

    def least_loaded(self) -> Worker:
        return min(self.workers, key=lambda w: (w.load, w.sessions, w.index))

    # ------------------------------------------------------------------ running

    async def run(self, worker: Worker, job: Job[T]) -> T:
        """Queue `job` on `worker` (waiting while its queue is full) and wait for its result."""
        if not self._started:
            raise ProverError("the Lean REPL pool is not started")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        meter = current_meter()
        item = _Item(job, future, meter, meter.begin() if meter is not None else 0)
        try:
            await worker.queue.put(item)
            return await future
        finally:
            item.started()  # a wait given up is over too (no-op once the job started)
