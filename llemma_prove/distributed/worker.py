"""A prover worker: builds its prover and proposer where it runs, then proves theorems on request.

Plain Python so it can be tested and reused without Ray; `ray_runner` turns it into a Ray actor. One
worker runs many searches at once on its own event loop (the Ray actor is asynchronous), so with a
`BatchingProposer` from the factory its prover checks overlap generation, as in the local runner.
Each theorem is handled as `Runner` handles it: `prove_theorem` (search, then the final check from
scratch), a hard time cap, and any crash turned into that theorem's ERROR result.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from ..interfaces import Proposer, Prover
from ..search import SearchConfig, SearchResult, prove_theorem
from ..types import SearchStatus, Theorem
from .factory import ComponentFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerResult:
    """One finished theorem as the worker hands it back to the driver."""

    result: SearchResult
    proof_text: str | None
    worker: str


async def attempt_theorem(
    theorem: Theorem, prover: Prover, proposer: Proposer, search: SearchConfig, timeout_s: float | None
) -> tuple[SearchResult, str | None]:
    """Search and check one theorem; a time-out or crash becomes a result, never an exception."""
    started = time.monotonic()
    try:
        attempt = prove_theorem(theorem, prover, proposer, search)
        result = await (asyncio.wait_for(attempt, timeout_s) if timeout_s is not None else attempt)
    except asyncio.TimeoutError:
        result = SearchResult(theorem.name, SearchStatus.TIMEOUT, elapsed_s=time.monotonic() - started,
                              error=f"stopped by the runner's hard cap of {timeout_s:g} s per theorem")
    except Exception as exc:
        log.exception("theorem %s failed", theorem.name)
        result = SearchResult(theorem.name, SearchStatus.ERROR, elapsed_s=time.monotonic() - started,
                              error=f"{type(exc).__name__}: {exc}")
    proof_text = prover.render(theorem, result.proof) if result.proved and result.proof is not None else None
    return result, proof_text


class ProverWorker:
    """Owns one prover and one proposer built from `factory`; `start` before `prove`, `close` at the end."""

    def __init__(self, factory: ComponentFactory, search: SearchConfig, theorem_timeout_s: float | None = None) -> None:
        self.factory = factory
        self.search = search
        self.theorem_timeout_s = theorem_timeout_s
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.prover: Prover | None = None
        self.proposer: Proposer | None = None
        self.proved_here = 0

    async def start(self) -> str:
        """Build and start the components (idempotent); raises what the prover or factory raises."""
        if self.prover is None:
            prover, proposer = self.factory.build()
            await prover.start()
            self.prover, self.proposer = prover, proposer
        return self.name

    async def prove(self, theorem: Theorem) -> WorkerResult:
        await self.start()
        assert self.prover is not None and self.proposer is not None
        result, proof_text = await attempt_theorem(theorem, self.prover, self.proposer, self.search,
                                                   self.theorem_timeout_s)
        self.proved_here += int(result.proved)
        return WorkerResult(result, proof_text, self.name)

    def stats(self) -> dict[str, Any]:
        """Counters worth showing on the driver: the tactic cache's, when the prover has one."""
        out: dict[str, Any] = {"worker": self.name, "proved": self.proved_here}
        cache = getattr(self.prover, "cache", None)
        if cache is not None and hasattr(cache, "stats"):
            out["cache"] = cache.stats.to_json()
        return out

    async def close(self) -> None:
        for part in (self.proposer, self.prover):
            close = getattr(part, "close", None)
            if close is None:
                continue
            try:
                await close()
            except Exception:  # closing must not hide the run's outcome
                log.exception("closing %r failed", part)
        self.prover = self.proposer = None
