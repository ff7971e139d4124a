"""Spread the theorems of a run over a Ray cluster; results stream into the driver's run store.

The driver (the `llemma-prove` process) owns the `RunStore`, exactly as with the local `Runner`: each
theorem's result is appended (one fsynced line) the moment its worker hands it back, so a killed
driver loses nothing already reported, and a re-run skips every finished theorem. Workers are Ray
actors (`ProverWorker`), `workers_per_node` on every node of the cluster, each building its prover and
proposer from a picklable `ComponentFactory` and running up to `searches_per_worker` searches at once:
a per-node model engine (hf, vLLM) or one shared OpenAI-compatible endpoint, as the factory builds it.

Without an address a local cluster is started (`ray.init(num_cpus=...)`) and shut down again when the
run ends, normally or not; with an address ("auto", "host:6379", "ray://host:10001") the driver joins
that cluster and only disconnects. Workers are killed at the end either way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import UserError
from ..runner import RunAborted, RunOutcome, RunProgress, pending_theorems
from ..search import SearchConfig, SearchResult
from ..store import RunStore
from ..types import SearchStatus, Theorem
from .factory import ComponentFactory
from .worker import ProverWorker, WorkerResult

log = logging.getLogger(__name__)

LOCAL_CLUSTER = "local"  # what `--ray` without an address means


class RayUnavailable(UserError):
    """Ray is not installed, or the cluster cannot be reached or used."""


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None or "local": start a local cluster; else join this one
    num_cpus: int | None = None  # CPUs of a local cluster (default: this machine's)
    workers_per_node: int = 1
    searches_per_worker: int = 8  # concurrent searches inside one worker (they share its proposer)
    cpus_per_worker: float = 1.0
    gpus_per_worker: float | None = 0.0  # GPU share of each worker's model engine; None: 1 where a node has one
    theorem_timeout_s: float | None = None
    max_consecutive_errors: int | None = 20
    show_progress: bool = True
    poll_s: float = 0.5  # how often the driver wakes while waiting (keeps Ctrl-C responsive)

    def __post_init__(self) -> None:
        if self.workers_per_node < 1:
            raise ValueError(f"workers_per_node must be at least 1, got {self.workers_per_node}")
        if self.searches_per_worker < 1:
            raise ValueError(f"searches_per_worker must be at least 1, got {self.searches_per_worker}")

    @property
    def local(self) -> bool:
        return self.address in (None, "", LOCAL_CLUSTER)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs Ray: pip install 'llemma-prove[ray]'") from None
    return ray


class RayCluster:
    """Connect to (or start) a cluster for the duration of a `with` block; always shut down what we began.

    If Ray is already initialised in this process (a test, a notebook), that connection is used and
    left open.
    """

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self.ray = import_ray()
        self._owned = False

    def __enter__(self) -> "RayCluster":
        ray = self.ray
        if ray.is_initialized():
            return self
        common = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            if self.options.local:
                cpus = self.options.num_cpus or max(
                    os.cpu_count() or 1, int(self.options.workers_per_node * self.options.cpus_per_worker + 0.999)
                )
                ray.init(address="local", num_cpus=cpus, **common)  # always a new cluster of our own
            else:
                ray.init(address=self.options.address, **common)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            ray.shutdown()
            where = "a local Ray cluster" if self.options.local else f"the Ray cluster at {self.options.address}"
            raise RayUnavailable(f"cannot start or reach {where}: {exc}") from None
        self._owned = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owned:
            self.ray.shutdown()
            self._owned = False

    def nodes(self) -> list[tuple[str, float]]:
        """(node id, GPUs per worker there) for each alive node that can host a worker."""
        wanted = self.options.gpus_per_worker
        nodes = []
        for node in self.ray.nodes():
            resources = node.get("Resources", {})
            gpus = resources.get("GPU", 0)
            per_worker = (1.0 if gpus >= 1 else 0.0) if wanted is None else wanted
            if node.get("Alive") and resources.get("CPU", 0) >= self.options.cpus_per_worker and gpus >= per_worker:
                nodes.append((node["NodeID"], per_worker))
        if not nodes:
            raise RayUnavailable(
                f"no Ray node has {self.options.cpus_per_worker:g} CPU(s) and {wanted or 0:g} GPU(s) "
                "for a prover worker"
            )
        return nodes


@dataclass
class _Slot:
    """One worker actor as the driver sees it."""

    actor: Any
    node: str
    name: str = ""
    busy: int = 0
    alive: bool = True


@dataclass
class RayRunStats:
    workers: list[dict[str, Any]] = field(default_factory=list)  # each worker's `stats()` at the end

    def cache(self) -> dict[str, float] | None:
        """Tactic-cache counters summed over workers (None when no worker had a cache)."""
        parts = [w["cache"] for w in self.workers if w.get("cache")]
        if not parts:
            return None
        hits = sum(p["hits"] for p in parts)
        misses = sum(p["misses"] for p in parts)
        return {"hits": hits, "misses": misses, "replays": sum(p["replays"] for p in parts),
                "hit_rate": hits / (hits + misses) if hits + misses else 0.0}


class RayRunner:
    """Like `Runner`, with the searches on Ray workers and the store on the driver."""

    def __init__(
        self,
        factory: ComponentFactory,
        search: SearchConfig,
        store: RunStore,
        options: RayOptions = RayOptions(),
        console: object | None = None,
    ) -> None:
        self.factory = factory
        self.search = search
        self.store = store
        self.options = options
        self.console = console
        self.stats = RayRunStats()
        self._consecutive_errors = 0
        self._last_error = ""

    async def run(self, theorems: Sequence[Theorem]) -> RunOutcome:
        started = time.monotonic()
        todo, skipped = pending_theorems(self.store, theorems)
        counts = {"tried": 0, "proved": 0, "errors": 0}
        interrupted = False
        progress = RunProgress(self.console, len(todo), self.options.show_progress)
        try:
            if todo:
                with RayCluster(self.options) as cluster, progress:
                    slots = self._spawn(cluster)
                    try:
                        await self._start(cluster.ray, slots)
                        await self._drive(cluster.ray, slots, todo, counts, progress)
                        self.stats.workers = await self._collect_stats(cluster.ray, slots)
                    finally:
                        await self._stop(cluster.ray, slots)
        except asyncio.CancelledError:
            interrupted = True
            log.warning("interrupted: %d theorems recorded in this session; re-run to resume", counts["tried"])
            raise
        finally:
            self.store.write_proofs()
            from ..report import write_summary

            write_summary(self.store)
        if self._too_many_errors():
            raise RunAborted(
                f"stopped after {self._consecutive_errors} theorems in a row ended in an error "
                f"(last: {self._last_error}); fix the cause, then re-run with --retry-errors"
            )
        return RunOutcome(attempted=counts["tried"], skipped=skipped, proved=counts["proved"],
                          errors=counts["errors"], interrupted=interrupted, elapsed_s=time.monotonic() - started)

    # -- workers --------------------------------------------------------------------------------------

    def _spawn(self, cluster: RayCluster) -> list[_Slot]:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = cluster.ray.remote(ProverWorker)
        slots = []
        for node, gpus in cluster.nodes():
            for _ in range(self.options.workers_per_node):
                actor = actor_class.options(
                    num_cpus=self.options.cpus_per_worker,
                    num_gpus=gpus,
                    max_concurrency=self.options.searches_per_worker + 4,  # + stats and close calls
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                ).remote(self.factory, self.search, self.options.theorem_timeout_s)
                slots.append(_Slot(actor, node))
        log.info("started %d prover workers on %d Ray node(s)", len(slots), len({s.node for s in slots}))
        return slots

    async def _start(self, ray: Any, slots: list[_Slot]) -> None:
        """Build every worker's prover and proposer; the first failure (e.g. no Lean there) stops the run."""
        names = await asyncio.to_thread(_get, ray, [s.actor.start.remote() for s in slots])
        for slot, name in zip(slots, names):
            slot.name = name

    async def _drive(self, ray: Any, slots: list[_Slot], todo: list[Theorem], counts: dict[str, int],
                     progress: RunProgress) -> None:
        queue = list(reversed(todo))
        pending: dict[Any, tuple[Theorem, _Slot]] = {}
        while queue or pending:
            for slot in slots:
                while (slot.alive and queue and slot.busy < self.options.searches_per_worker
                       and not self._too_many_errors()):
                    theorem = queue.pop()
                    pending[slot.actor.prove.remote(theorem)] = (theorem, slot)
                    slot.busy += 1
            if not pending:
                if queue and not any(s.alive for s in slots):
                    raise RayUnavailable(f"every Ray prover worker died; {len(queue)} theorems were not run "
                                         "(see the Ray logs), re-run to resume")
                break  # too many errors: stop scheduling
            ready, _ = await asyncio.to_thread(ray.wait, list(pending), num_returns=1, timeout=self.options.poll_s)
            for ref in ready:
                theorem, slot = pending.pop(ref)
                slot.busy -= 1
                result, proof_text = await self._receive(ray, ref, theorem, slot)
                self._record(theorem, result, proof_text, counts)
                progress.advance(counts["proved"], counts["tried"])

    async def _receive(self, ray: Any, ref: Any, theorem: Theorem, slot: _Slot) -> tuple[SearchResult, str | None]:
        """The worker's result, or an ERROR result saying why there is none."""
        from ray.exceptions import RayActorError, RayTaskError

        try:
            answer: WorkerResult = await asyncio.to_thread(ray.get, ref)
            return answer.result, answer.proof_text
        except RayActorError as exc:
            if slot.alive:
                log.error("prover worker %s on node %s died: %s", slot.name, slot.node[:8], exc)
            slot.alive = False
            message = f"prover worker {slot.name or slot.node[:8]} died"
        except RayTaskError as exc:
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            message = f"{type(cause).__name__}: {cause}"
        return SearchResult(theorem.name, SearchStatus.ERROR, error=message), None

    def _record(self, theorem: Theorem, result: SearchResult, proof_text: str | None, counts: dict[str, int]) -> None:
        self.store.append(theorem, result, proof_text)
        log.info("%s: %s (%d expansions, %.1f s)%s", theorem.name, result.status.value, result.expansions,
                 result.elapsed_s, f" {result.error}" if result.error else "")
        counts["tried"] += 1
        counts["proved"] += int(result.proved)
        if result.status is SearchStatus.ERROR:
            counts["errors"] += 1
            self._consecutive_errors += 1
            self._last_error = result.error
        else:
            self._consecutive_errors = 0

    def _too_many_errors(self) -> bool:
        limit = self.options.max_consecutive_errors
        return limit is not None and self._consecutive_errors >= limit

    async def _collect_stats(self, ray: Any, slots: list[_Slot]) -> list[dict[str, Any]]:
        alive = [s for s in slots if s.alive]
        try:
            return await asyncio.to_thread(ray.get, [s.actor.stats.remote() for s in alive], timeout=30)
        except Exception as exc:  # statistics are a nicety; a lost worker must not fail the run here
            log.warning("could not collect worker statistics: %s", exc)
            return []

    async def _stop(self, ray: Any, slots: list[_Slot]) -> None:
        """Close each worker's prover and proposer (so their processes exit), then kill the actors."""
        alive = [s for s in slots if s.alive]
        if alive:
            try:
                await asyncio.shield(asyncio.to_thread(
                    ray.wait, [s.actor.close.remote() for s in alive], num_returns=len(alive), timeout=30))
            except (Exception, asyncio.CancelledError) as exc:
                log.warning("closing the prover workers: %s", exc)
        for slot in slots:
            try:
                ray.kill(slot.actor, no_restart=True)
            except Exception:  # already gone
                pass


def _get(ray: Any, refs: list[Any]) -> list[Any]:
    """`ray.get`, turning a worker's user-facing error (no Lean there, bad factory) back into itself."""
    from ray.exceptions import RayActorError, RayTaskError

    try:
        return ray.get(refs)
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, UserError):
            raise type(cause)(*cause.args) from None
        raise
    except RayActorError as exc:
        raise RayUnavailable(f"a prover worker could not be started: {exc}") from None
