"""PISA server processes: start, wait until ready, stop, and a watchdog that restarts them.

One PISA server is one JVM (`java -cp <jar> pisa.server.PisaOneStageServer<PORT>`) that drives one
Isabelle process. Its own step timeouts are unreliable, so each server sits behind a `PisaWorker`:
the worker serialises commands (PISA keeps its states in an unsynchronised map), notices when the
server is dead or hung, restarts it, and bumps a `generation` counter so that sessions know their
named states are gone and rebuild them by replaying their steps.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Sequence, TypeVar

import psutil

from ...errors import ProverError, ProverUnavailable
from ...processes import ChildProcess, ProcessSpec
from .client import PisaClient, PisaRpcError
from .options import IsabelleOptions

log = logging.getLogger(__name__)

T = TypeVar("T")
SpecFactory = Callable[[int], ProcessSpec]


def pisa_process_spec(options: IsabelleOptions, port: int) -> ProcessSpec:
    """The real PISA command line for `port`, run in the working directory with Isabelle's home set."""
    if options.pisa_jar is None:
        raise ProverUnavailable("no PISA jar configured (set LLEMMA_PROVE_PISA_JAR; see isabelle/README.md)")
    env = dict(options.extra_env)
    if options.isabelle_home is not None:
        env["ISABELLE_HOME"] = str(options.isabelle_home)
    wd = options.resolved_working_dir
    return ProcessSpec(
        argv=[options.java, "-cp", str(options.pisa_jar), f"pisa.server.PisaOneStageServer{port}"],
        cwd=str(wd) if wd is not None and wd.is_dir() else None,
        memory_limit_bytes=options.memory_limit_bytes,
        stderr_to_stdout=True,
        extra_env=env,
    )


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class PisaProcess:
    """One server child process: own process group, output drained and kept for diagnostics."""

    def __init__(self, host: str, port: int, spec_factory: SpecFactory, startup_timeout_s: float) -> None:
        self.host = host
        self.port = port
        self.spec_factory = spec_factory
        self.startup_timeout_s = startup_timeout_s
        self.child: ChildProcess | None = None
        self.output: collections.deque[str] = collections.deque(maxlen=60)
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.running

    async def start(self) -> None:
        if not port_is_free(self.host, self.port):
            raise ProverError(f"port {self.port} is already in use (another PISA server?); choose other ports")
        spec = self.spec_factory(self.port)
        self.child = ChildProcess(spec)
        try:
            await self.child.start()
        except FileNotFoundError as exc:
            self.child = None
            raise ProverUnavailable(f"cannot run {spec.argv[0]!r}: {exc.strerror} (install Java 11+ for PISA)") from None
        self._drain = asyncio.create_task(self._read_output())
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                await asyncio.sleep(0.05)  # let the drain task collect the last lines
                raise ProverError(
                    f"PISA server on port {self.port} exited with code {self.child.proc.returncode} before it "
                    f"was ready; last output: {' | '.join(list(self.output)[-5:])}"
                )
            if await _port_open(self.host, self.port):
                log.info("PISA server on port %s is listening (pid %s)", self.port, self.pid)
                return
            await asyncio.sleep(0.1)
        await self.stop()
        raise ProverError(f"PISA server on port {self.port} did not listen within {self.startup_timeout_s:.0f} s")

    async def _read_output(self) -> None:
        assert self.child is not None and self.child.proc is not None and self.child.proc.stdout is not None
        stream = self.child.proc.stdout
        while True:
            line = await stream.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            self.output.append(text)
            log.debug("pisa:%s %s", self.port, text)

    async def stop(self) -> None:
        """Stop the group, then any descendant that left it (Isabelle starts its own groups)."""
        child, self.child = self.child, None
        if child is None:
            return
        strays = self._descendants_of(child)
        await child.stop(grace_s=1.0)
        for proc in strays:
            with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._drain
            self._drain = None

    @staticmethod
    def _descendants_of(child: ChildProcess) -> list[psutil.Process]:
        if child.pid is None:
            return []
        try:
            return psutil.Process(child.pid).children(recursive=True)
        except psutil.Error:
            return []

    def kill_now(self) -> None:
        if self.child is not None:
            self.child.kill_now()


@dataclass(frozen=True)
class HandshakeConfig:
    isabelle_home: str
    working_dir: str
    theory_file: str
    timeout_s: float


class WorkerFailed(ProverError):
    """A worker's server could not be brought back (too many restarts or a failed start)."""


class PisaWorker:
    """A PISA server (managed or external) behind a lock, with restart and a generation counter."""

    def __init__(
        self,
        host: str,
        port: int,
        handshake: HandshakeConfig,
        spec_factory: SpecFactory | None = None,
        startup_timeout_s: float = 120.0,
        ping_timeout_s: float = 10.0,
        max_restarts: int = 5,
        max_message_bytes: int = 100 * 1024 * 1024,
        restart_window_s: float = 600.0,
    ) -> None:
        self.host = host
        self.port = port
        self.handshake_config = handshake
        self.process = PisaProcess(host, port, spec_factory, startup_timeout_s) if spec_factory else None
        self.client = PisaClient(host, port, max_message_bytes)
        self.ping_timeout_s = ping_timeout_s
        self.max_restarts = max_restarts
        self.restart_window_s = restart_window_s
        self.generation = 0
        self.restarts = 0
        self._restart_times: collections.deque[float] = collections.deque()
        self.sessions = 0
        self.lock = asyncio.Lock()
        self._recovering: asyncio.Lock = asyncio.Lock()
        self.failed: str | None = None
        self.handshake_messages: list[str] = []

    @property
    def managed(self) -> bool:
        return self.process is not None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def process_dead(self) -> bool:
        return self.process is not None and self.generation > 0 and not self.process.running

    async def start(self) -> None:
        """Start (if managed), handshake and `<initialise>`; generation 1 is the first live server."""
        if self.process is not None:
            await self.process.start()
        await self._handshake()
        self.generation += 1

    async def _handshake(self) -> None:
        cfg = self.handshake_config
        await self.client.close()
        try:
            self.handshake_messages = await self.client.handshake(
                cfg.isabelle_home, cfg.working_dir, cfg.theory_file, cfg.timeout_s
            )
        except PisaRpcError as exc:
            output = " | ".join(list(self.process.output)[-5:]) if self.process else ""
            raise ProverError(
                f"PISA handshake on port {self.port} failed ({exc.code.name}: {exc.details})"
                + (f"; server output: {output}" if output else "")
            ) from None

    async def restart(self, reason: str) -> None:
        """Replace the server (kill and start again, or reconnect to an external one)."""
        if self.failed:
            raise WorkerFailed(self.failed)
        now = time.monotonic()
        while self._restart_times and now - self._restart_times[0] > self.restart_window_s:
            self._restart_times.popleft()
        if len(self._restart_times) >= self.max_restarts:
            self.failed = (
                f"PISA server on port {self.port} needed {self.max_restarts} restarts within "
                f"{self.restart_window_s:.0f} s; giving up (last: {reason})"
            )
            raise WorkerFailed(self.failed)
        self._restart_times.append(now)
        self.restarts += 1
        log.warning("restarting PISA server on port %s: %s", self.port, reason)
        await self.client.close()
        if self.process is not None:
            await self.process.stop()
            await self.process.start()
        await self._handshake()
        self.generation += 1

    async def recover(self, seen_generation: int, reason: str, probe: bool = True) -> None:
        """Make sure the server is usable after a failure seen at `seen_generation`.

        Restarts once no matter how many sessions report the same failure: whoever comes second
        finds the generation already moved on. With `probe`, a server that still answers a ping
        is left alone.
        """
        async with self._recovering:
            if self.generation != seen_generation:
                return
            if probe and not self.process_dead():
                async with self.lock:
                    if await self.client.ping(self.ping_timeout_s):
                        return
            async with self.lock:
                await self.restart(reason)

    async def run(self, fn: Callable[[PisaClient], Awaitable[T]]) -> T:
        """Run `fn(client)` while holding this server's lock."""
        if self.failed:
            raise WorkerFailed(self.failed)
        async with self.lock:
            return await fn(self.client)

    async def stop(self) -> None:
        await self.client.close()
        if self.process is not None:
            await self.process.stop()


class PisaPool:
    """Several PISA servers on distinct ports, handed to sessions least-loaded first, watched."""

    def __init__(self, workers: Sequence[PisaWorker], watchdog_interval_s: float = 5.0) -> None:
        if not workers:
            raise ValueError("a PISA pool needs at least one server")
        self.workers = list(workers)
        self.watchdog_interval_s = watchdog_interval_s
        self._watchdog: asyncio.Task[None] | None = None

    @classmethod
    def from_options(cls, options: IsabelleOptions, spec_factory: SpecFactory | None = None) -> "PisaPool":
        """Managed servers on `options.resolved_ports()` (spec_factory defaults to the real java command)."""
        theory_file = options.resolved_theory_file
        working_dir = options.resolved_working_dir
        if options.isabelle_home is None or theory_file is None or working_dir is None:
            raise ProverUnavailable("Isabelle home, PISA working directory and theory file must be configured")
        handshake = HandshakeConfig(
            str(options.isabelle_home), str(working_dir), str(theory_file), options.handshake_timeout_s
        )
        factory = spec_factory or (lambda port: pisa_process_spec(options, port))
        workers = [
            PisaWorker(
                options.host,
                port,
                handshake,
                spec_factory=factory,
                startup_timeout_s=options.startup_timeout_s,
                ping_timeout_s=options.ping_timeout_s,
                max_restarts=options.max_restarts,
                max_message_bytes=options.max_message_bytes,
            )
            for port in options.resolved_ports()
        ]
        return cls(workers, options.watchdog_interval_s)

    async def start(self) -> None:
        try:
            await asyncio.gather(*(w.start() for w in self.workers))
        except BaseException:
            await self.stop()
            raise
        self._watchdog = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        """Restart managed servers whose process died while nobody was talking to them."""
        while True:
            await asyncio.sleep(self.watchdog_interval_s)
            for worker in self.workers:
                if worker.failed or not worker.process_dead():
                    continue
                try:
                    await worker.recover(worker.generation, "process died", probe=False)
                except Exception as exc:  # noqa: BLE001 - keep watching the other servers
                    log.error("watchdog could not restart PISA on port %s: %s", worker.port, exc)

    def acquire(self) -> PisaWorker:
        live = [w for w in self.workers if not w.failed]
        if not live:
            raise ProverError("every PISA server has failed: " + "; ".join(w.failed or "" for w in self.workers))
        worker = min(live, key=lambda w: w.sessions)
        worker.sessions += 1
        return worker

    def release(self, worker: PisaWorker) -> None:
        worker.sessions = max(0, worker.sessions - 1)

    async def stop(self) -> None:
        task, self._watchdog = self._watchdog, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)


def write_context_theory(path: Path, imports: Sequence[str]) -> None:
    """Write the context theory PISA starts from (`theory Interactive imports ... begin end`)."""
    names = " ".join(f'"{name}"' if "." in name or "-" in name else name for name in imports)
    path.write_text(f"theory {path.stem}\n  imports {names}\nbegin\n\nend\n")
