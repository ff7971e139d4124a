"""Time a search spends queueing for a shared resource (the model, a free prover process).

The LLEMMA harness ran one theorem at a time, so none of its 600 s went to waiting for another
theorem's work. A search here may share a batched model and a pool of Lean processes with other
searches; the queueing that causes is recorded on a `WaitMeter` and left out of the theorem's clock,
so the same theorem gets the same result at concurrency 1 and 32.

The search installs one meter per theorem in a context variable. A shared component takes the meter
of the caller (`current_meter()`) when a request arrives, calls `begin()` then, and `end()` when the
request's own work starts (both are idempotent per request, so a cancelled wait is closed once).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable


@dataclass
class WaitMeter:
    """Seconds queued so far, and since when the current wait runs (if one does)."""

    clock: Callable[[], float] = time.monotonic
    queued_s: float = 0.0
    _open: dict[int, float] = field(default_factory=dict)
    _ids: int = 0

    def begin(self) -> int:
        """A wait starts now; returns its token for `end`."""
        self._ids += 1
        self._open[self._ids] = self.clock()
        return self._ids

    def end(self, token: int) -> None:
        """The wait `token` is over (its work starts, or its caller gave up). A second call is a no-op."""
        started = self._open.pop(token, None)
        if started is not None:
            self.queued_s += max(0.0, self.clock() - started)

    def add(self, seconds: float) -> None:
        """A wait measured elsewhere (e.g. by a component with its own clock)."""
        self.queued_s += max(0.0, seconds)

    def total(self) -> float:
        """Queued seconds, the waits still running included (overlapping waits count once)."""
        if not self._open:
            return self.queued_s
        return self.queued_s + max(0.0, self.clock() - min(self._open.values()))


_current: contextvars.ContextVar[WaitMeter | None] = contextvars.ContextVar("llemma_prove_wait_meter", default=None)


def current_meter() -> WaitMeter | None:
    """The meter of the search this code runs for, if any."""
    return _current.get()


def install_meter(meter: WaitMeter) -> contextvars.Token:
    return _current.set(meter)


def remove_meter(token: contextvars.Token) -> None:
    _current.reset(token)


@contextlib.asynccontextmanager
async def queued_for(lock: asyncio.Lock) -> AsyncIterator[None]:
    """Hold `lock`; the time spent waiting for it goes on the caller's meter as queueing."""
    meter = current_meter()
    token = meter.begin() if meter is not None else 0
    try:
        await lock.acquire()
    finally:
        if meter is not None:
            meter.end(token)
    try:
        yield
    finally:
        lock.release()
