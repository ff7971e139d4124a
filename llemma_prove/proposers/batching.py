"""One proposer shared by many concurrent searches: their requests travel to the model in batches.

Each search still calls `propose` for its own states and gets exactly its own candidates back; behind
that, requests with equal `SamplingParams` are gathered until `max_batch_size` requests are waiting or
the oldest has waited `max_wait_ms`, then sent as one inner call. While an inner call runs (at most
`max_in_flight` at once), new requests queue up, so batches grow by themselves under load and prover
work of some searches overlaps generation for others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import ProposerError
from ..interfaces import Proposer
from ..types import Candidate, ProposalRequest, SamplingParams
from ..waits import WaitMeter, current_meter

log = logging.getLogger(__name__)


@dataclass
class BatchStats:
    """What the front did: inner calls made, requests and callers served, largest batch."""

    inner_calls: int = 0
    requests: int = 0
    callers: int = 0
    largest_batch: int = 0

    @property
    def mean_batch_size(self) -> float:
        return self.requests / self.inner_calls if self.inner_calls else 0.0


@dataclass(eq=False)
class _Waiter:
    requests: list[ProposalRequest]
    future: asyncio.Future
    arrived: float = field(default=0.0)
    meter: WaitMeter | None = None  # the caller's queueing meter: the wait for its batch is not its time
    wait_token: int = 0

    def started(self) -> None:
        if self.meter is not None:
            self.meter.end(self.wait_token)


class BatchingProposer:
    """A `Proposer` that batches the calls of many concurrent callers into few calls of `inner`."""

    def __init__(
        self, inner: Proposer, max_batch_size: int = 32, max_wait_ms: float = 5.0, max_in_flight: int = 1
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self.inner = inner
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_in_flight = max_in_flight
        self.stats = BatchStats()
        self._queues: dict[SamplingParams, deque[_Waiter]] = {}
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._dispatcher: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self._closed = False

    async def propose(self, requests: Sequence[ProposalRequest], params: SamplingParams) -> list[list[Candidate]]:
        if self._closed:
            raise ProposerError("the batching proposer is closed")
        if not requests:
            return []
        loop = asyncio.get_running_loop()
        meter = current_meter()
        waiter = _Waiter(list(requests), loop.create_future(), loop.time(), meter, meter.begin() if meter else 0)
        self._queues.setdefault(params, deque()).append(waiter)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="batching-proposer-dispatch")
        self._wake.set()
        try:
            return await waiter.future  # a cancelled caller cancels its future; the dispatcher skips it
        finally:
            waiter.started()

    # ------------------------------------------------------------------------------------ dispatching
    def _prune(self) -> None:
        for params in list(self._queues):
            queue = self._queues[params]
            while queue and queue[0].future.done():
                queue.popleft()
            if not any(not w.future.done() for w in queue):
                del self._queues[params]

    def _ready(self, now: float) -> tuple[SamplingParams | None, float | None]:
        """The queue to send now (oldest first), or else the earliest time one becomes due."""
        best: SamplingParams | None = None
        best_age = None
        due: float | None = None
        for params, queue in self._queues.items():
            pending = sum(len(w.requests) for w in queue if not w.future.done())
            oldest = queue[0].arrived
            if pending >= self.max_batch_size or now >= oldest + self.max_wait_s:
                if best_age is None or oldest < best_age:
                    best, best_age = params, oldest
            else:
                due = oldest + self.max_wait_s if due is None else min(due, oldest + self.max_wait_s)
        return best, due

    def _take(self, params: SamplingParams) -> list[_Waiter]:
        queue = self._queues[params]
        batch: list[_Waiter] = []
        size = 0
        while queue:
            waiter = queue[0]
            if waiter.future.done():
                queue.popleft()
                continue
            if batch and size + len(waiter.requests) > self.max_batch_size:
                break
            batch.append(queue.popleft())
            size += len(waiter.requests)
        if not queue:
            del self._queues[params]
        return batch

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._prune()
            if not self._queues:
                return
            await self._slots.acquire()
            params = None
            while True:
                self._prune()
                if not self._queues:
                    break
                params, due = self._ready(loop.time())
                if params is not None:
                    break
                self._wake.clear()
                timeout = max(0.0, (due or loop.time()) - loop.time())
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except asyncio.TimeoutError:
                    pass
            if params is None:
                self._slots.release()
                continue
            batch = self._take(params)
            task = asyncio.create_task(self._run(params, batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, params: SamplingParams, batch: list[_Waiter]) -> None:
        try:
            for waiter in batch:
                waiter.started()
            flat = [r for w in batch for r in w.requests]
            self.stats.inner_calls += 1
            self.stats.requests += len(flat)
            self.stats.callers += len(batch)
            self.stats.largest_batch = max(self.stats.largest_batch, len(flat))
            log.debug("proposing for %d requests from %d callers", len(flat), len(batch))
            results = await self.inner.propose(flat, params)
            if len(results) != len(flat):
                raise ProposerError(f"inner proposer answered {len(results)} of {len(flat)} requests")
            start = 0
            for waiter in batch:
                part = list(results[start : start + len(waiter.requests)])
                start += len(waiter.requests)
                if not waiter.future.done():
                    waiter.future.set_result(part)
        except asyncio.CancelledError:
            for waiter in batch:
                waiter.future.cancel()
            raise
        except Exception as exc:  # every caller of this batch sees the failure
            for waiter in batch:
                if not waiter.future.done():
                    waiter.future.set_exception(exc)
        finally:
            self._slots.release()

    async def close(self) -> None:
        """Stop dispatching, fail waiting callers, and close the inner proposer if it can be closed."""
        self._closed = True
        tasks = [t for t in [self._dispatcher, *self._running] if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for queue in self._queues.values():
            for waiter in queue:
                if not waiter.future.done():
                    waiter.future.set_exception(ProposerError("the batching proposer was closed"))
        self._queues.clear()
        close = getattr(self.inner, "close", None)
        if close is not None:
            await close()
