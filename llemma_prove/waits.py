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
    """Seconds the search spent wholly queued, and since when it is (if it is now).

    A search with one call in flight at a time (the paper's loop) is queued whenever a wait is open.
    A search with several calls in flight (improved mode checks candidates at once, and generates
    while they run) tells the meter about each call (`call_started`/`call_ended`); it is queued only
    while every call it has in flight is waiting, so queueing of one check while another runs, or of
    a generation while checks run, stays on the clock. Overlapping waits count once."""

    clock: Callable[[], float] = time.monotonic
    queued_s: float = 0.0
    _open: dict[int, float] = field(default_factory=dict)
    _ids: int = 0
    _calls: int = 0  # calls in flight that the search declared (0: it declares none, one at a time)
    _since: float | None = None  # when the search last became wholly queued

    def _queued(self) -> bool:
        return bool(self._open) and len(self._open) >= max(1, self._calls)

    def _changed(self, was_queued: bool) -> None:
        now_queued = self._queued()
        if was_queued and not now_queued and self._since is not None:
            self.queued_s += max(0.0, self.clock() - self._since)
            self._since = None
        elif now_queued and not was_queued:
            self._since = self.clock()

    def begin(self) -> int:
        """A wait starts now; returns its token for `end`."""
        was = self._queued()
        self._ids += 1
        self._open[self._ids] = self.clock()
        self._changed(was)
        return self._ids

    def end(self, token: int) -> None:
        """The wait `token` is over (its work starts, or its caller gave up). A second call is a no-op."""
        was = self._queued()
        if self._open.pop(token, None) is not None:
            self._changed(was)

    def call_started(self) -> None:
        """The search has one more call in flight (only searches with several at once say so)."""
        was = self._queued()
        self._calls += 1
        self._changed(was)

    def call_ended(self) -> None:
        was = self._queued()
        self._calls = max(0, self._calls - 1)
        self._changed(was)

    def add(self, seconds: float) -> None:
        """A wait measured elsewhere (e.g. by a component with its own clock)."""
        self.queued_s += max(0.0, seconds)

    def total(self) -> float:
        """Queued seconds, the current stretch included."""
        if self._since is None:
            return self.queued_s
        return self.queued_s + max(0.0, self.clock() - self._since)


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
