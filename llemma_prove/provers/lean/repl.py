"""One Lean REPL process: start it, import the header once, send requests with a wall-clock limit.

The REPL has no timeout and never frees anything, so this driver owns every limit: a request that
runs past its limit kills the process group (the driver restarts it on the next use and reports a
timeout); the resident memory of the process group is watched (psutil) and a process over its limit
is killed and restarted; an address-space cap far above that stays only as a backstop (address space
counts the memory-mapped Mathlib `.olean` files and reserved but untouched memory, so a tight cap
would kill healthy processes); and the process is restarted after a number of requests. Each
(re)start bumps `generation`, which is how sessions notice that their proof-state ids are gone and
must be rebuilt by replay.

The process is the REPL binary itself (the `lake env` environment resolved once, in `project.py`), in
its own process group with PDEATHSIG, so killing us or it never leaves a Lean grandchild behind.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import signal
import sys
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from ...errors import ProverError, ProverUnavailable
from ...processes import ChildProcess, ProcessSpec, resident_bytes
from .messages import (
    CommandRequest,
    CommandResponse,
    ReplFailure,
    ReplProtocolError,
    Request,
    Response,
    decode_response,
    encode_request,
)
from .render import split_header

log = logging.getLogger(__name__)

_UIDS = itertools.count(1)
_STDERR_TAIL = 16 * 1024
_MEMORY_MARKERS = ("out of memory", "bad_alloc", "cannot allocate memory", "memoryerror")
_MB = 1024 * 1024

# Packages `import Mathlib` brings along: a theorem header importing these is served by a Mathlib process.
_MATHLIB_CLOSURE = ("Mathlib", "Aesop", "Batteries", "Qq", "ProofWidgets", "Plausible", "ImportGraph",
                    "LeanSearchClient", "Lean", "Init", "Std")

if sys.version_info >= (3, 11):
    _timeout = asyncio.timeout
else:  # pragma: no cover - the project targets 3.11; this keeps 3.10 working
    import contextlib

    @contextlib.asynccontextmanager
    async def _timeout(delay: float):
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        handle = loop.call_later(delay, task.cancel) if task else None
        try:
            yield
        except asyncio.CancelledError:
            raise TimeoutError from None
        finally:
            if handle:
                handle.cancel()


class ReplTimeout(ProverError):
    """A request ran past its wall-clock limit; the process group was killed."""

    def __init__(self, message: str, elapsed_s: float) -> None:
        super().__init__(message)
        self.elapsed_s = elapsed_s


class ReplCrashed(ProverError):
    """The REPL process died (crash, signal, memory cap)."""

    def __init__(self, message: str, *, memory: bool = False, returncode: int | None = None) -> None:
        super().__init__(message)
        self.memory = memory
        self.returncode = returncode


@dataclass(frozen=True)
class ReplLaunch:
    """How to start the REPL: argv, working directory, full environment (None: inherit ours)."""

    argv: tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] | None = None

    def describe(self) -> str:
        return " ".join(self.argv)


def imports_covered(wanted: Sequence[str], have: Sequence[str]) -> bool:
    """Whether a process that imported `have` can serve a theorem whose header imports `wanted`."""
    have_set = set(have)
    for module in wanted:
        if module in have_set:
            continue
        if "Mathlib" in have_set and module.split(".")[0] in _MATHLIB_CLOSURE:
            continue
        return False
    return True


class LeanRepl:
    """A single REPL process with its header imported. Not safe for concurrent use: the pool gives
    each process to one job at a time."""

    def __init__(
        self,
        launch: ReplLaunch,
        *,
        header: str = "",
        memory_limit_mb: int | None = None,
        max_requests: int | None = None,
        import_timeout_s: float = 600.0,
        name: str = "repl",
        address_space_limit_mb: int | None = None,
        memory_poll_s: float = 1.0,
    ) -> None:
        self.launch = launch
        self.header = header
        self.memory_limit_mb = memory_limit_mb  # resident memory of the process group; None: unwatched
        self.address_space_limit_mb = address_space_limit_mb  # RLIMIT_AS backstop; None: none
        self.memory_poll_s = memory_poll_s
        self.peak_resident_mb = 0.0
        self.memory_restarts = 0
        self._over_memory: float | None = None  # resident MB seen when the watcher killed this incarnation
        self._watch_task: asyncio.Task[None] | None = None
        self.max_requests = max_requests
        self.import_timeout_s = import_timeout_s
        self.name = name
        self.uid = next(_UIDS)
        self.generation = 0
        self.requests = 0  # since the last start
        self.total_requests = 0
        self.restarts = 0
        self.import_env: int | None = None  # env after the header's imports
        self.base_env: int | None = None  # env after the whole header
        self._header = split_header(header)
        self._header_envs: dict[str, int | None] = {}
        self._child: ChildProcess | None = None
        self._stdin: asyncio.StreamWriter | None = None
        self._stdout: asyncio.StreamReader | None = None
        self._stderr_tail: collections.deque[bytes] = collections.deque()
        self._stderr_size = 0
        self._stderr_task: asyncio.Task[None] | None = None
        self.last_import_s = 0.0
        self._in_flight = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def token(self) -> tuple[int, int]:
        """Identifies this process incarnation: proof-state ids are only valid for the same token."""
        return (self.uid, self.generation)

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.running

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child and self._child.running else None

    @property
    def needs_restart(self) -> bool:
        return not self.alive or (self.max_requests is not None and self.requests >= self.max_requests)

    def resident_mb(self) -> float:
        """Resident memory of the REPL and its descendants, in MB (0 when it is not running)."""
        pid = self.pid
        return resident_bytes(pid) / _MB if pid else 0.0

    async def _watch_memory(self, child: ChildProcess) -> None:
        """Kill the process group when its resident memory passes the limit, busy or idle: a request in
        flight then fails with ReplCrashed(memory=True), and the next job restarts the process."""
        assert self.memory_limit_mb
        while child.running and child.pid is not None:
            await asyncio.sleep(self.memory_poll_s)
            used = (await asyncio.to_thread(resident_bytes, child.pid)) / _MB
            self.peak_resident_mb = max(self.peak_resident_mb, used)
            if used > self.memory_limit_mb and child.running:
                self._over_memory = used
                self.memory_restarts += 1
                log.warning("%s: %.0f MB resident, over the limit of %d MB: killing the process group",
                            self.name, used, self.memory_limit_mb)
                child.kill_now()
                return

    async def start(self) -> None:
        """Start the process and import the header. Raises ProverUnavailable when the
        header cannot be imported (Mathlib missing), ProverError on a timeout or crash."""
        await self._kill()
        self.generation += 1
        self.requests = 0
        self._header_envs = {}
        self.import_env = self.base_env = None
        self._over_memory = None
        limit = self.address_space_limit_mb * _MB if self.address_space_limit_mb else None
        spec = ProcessSpec(
            argv=list(self.launch.argv),
            cwd=self.launch.cwd,
            env=dict(self.launch.env) if self.launch.env is not None else None,
            memory_limit_bytes=limit,
        )
        child = ChildProcess(spec)
        try:
            await child.start()
        except OSError as exc:
            raise ProverUnavailable(f"cannot start the Lean REPL `{self.launch.describe()}`: {exc}") from None
        self._child = child
        assert child.proc is not None
        self._stdin = child.proc.stdin
        self._stdout = child.proc.stdout
        self._stderr_tail.clear()
        self._stderr_size = 0
        self._stderr_task = asyncio.ensure_future(self._drain_stderr(child.proc.stderr))
        if self.memory_limit_mb:
            self._watch_task = asyncio.ensure_future(self._watch_memory(child))
        log.info("%s: started pid %s (generation %d)", self.name, child.pid, self.generation)
        started = time.monotonic()
        try:
            await self._import_header()
        except BaseException:
            await self._kill()
            raise
        self.last_import_s = time.monotonic() - started

    async def ensure_ready(self) -> None:
        """Restart when the process is gone or has served its quota of requests."""
        if self.needs_restart:
            if self.generation > 0:
                self.restarts += 1
                log.info("%s: restarting (alive=%s, requests=%d)", self.name, self.alive, self.requests)
            await self.start()

    async def close(self) -> None:
        await self._kill(graceful=True)

    async def _kill(self, graceful: bool = False) -> None:
        child, self._child = self._child, None
        if child is not None:
            if graceful:
                await child.stop(grace_s=1.0)
            else:
                child.kill_now()
                if child.proc is not None:
                    try:
                        await asyncio.wait_for(child.proc.wait(), 5.0)
                    except asyncio.TimeoutError:  # pragma: no cover
                        log.warning("%s: pid %s did not exit after SIGKILL", self.name, child.pid)
        for task in (self._stderr_task, self._watch_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._stderr_task = self._watch_task = None

    async def _drain_stderr(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while True:
            chunk = await stream.read(4096)
            if not chunk:
                return
            self._stderr_tail.append(chunk)
            self._stderr_size += len(chunk)
            while self._stderr_size > _STDERR_TAIL and len(self._stderr_tail) > 1:
                self._stderr_size -= len(self._stderr_tail.popleft())

    def stderr_tail(self) -> str:
        return b"".join(self._stderr_tail).decode("utf-8", "replace")

    # ------------------------------------------------------------------ requests

    async def request(self, request: Request, timeout_s: float) -> Response:
        """Send one request and wait for its response, at most `timeout_s` seconds.

        Raises ReplTimeout (process killed), ReplCrashed (process died), ReplProtocolError (output
        that is not a response; process killed). A killed process is restarted by `ensure_ready`.
        """
        if not self.alive or self._stdin is None or self._stdout is None:
            if self._over_memory is not None:
                raise ReplCrashed(self._memory_message(), memory=True)
            raise ReplCrashed(f"{self.name}: the REPL process is not running")
        if self._in_flight:
            raise ProverError(f"{self.name}: a second request while one is in flight (the pool must serialise them)")
        data = encode_request(request)
        started = time.monotonic()
        self._in_flight = True
        try:
            async with _timeout(timeout_s):
                self._stdin.write(data)
                await self._stdin.drain()
                text = await self._read_block(self._stdout)
        except TimeoutError:
            elapsed = time.monotonic() - started
            await self._kill()
            raise ReplTimeout(f"no answer from Lean within {timeout_s:g} s", elapsed) from None
        except (BrokenPipeError, ConnectionResetError, asyncio.IncompleteReadError):
            raise await self._crashed() from None
        except asyncio.LimitOverrunError:
            await self._kill()
            raise ReplProtocolError("REPL response larger than the read buffer") from None
        except asyncio.CancelledError:
            # Interrupted mid-request (a theorem's hard clock): the answer would arrive for the next
            # request, so this process must go; `ensure_ready` starts a fresh one.
            await asyncio.shield(self._kill())
            raise
        finally:
            self._in_flight = False
        self.requests += 1
        self.total_requests += 1
        try:
            return decode_response(text)
        except ReplProtocolError:
            await self._kill()
            raise

    @staticmethod
    async def _read_block(stdout: asyncio.StreamReader) -> str:
        while True:
            chunk = await stdout.readuntil(b"\n\n")
            text = chunk.strip()
            if text:
                return text.decode("utf-8", "replace")

    async def _crashed(self) -> ReplCrashed:
        child = self._child
        returncode = None
        if child is not None and child.proc is not None:
            try:
                returncode = await asyncio.wait_for(child.proc.wait(), 2.0)
            except asyncio.TimeoutError:
                returncode = None
        if self._stderr_task is not None:  # let the last stderr bytes arrive
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 0.5)
            except (asyncio.TimeoutError, Exception):
                pass
        tail = self.stderr_tail()
        await self._kill()
        memory = any(marker in tail.lower() for marker in _MEMORY_MARKERS)
        how = _describe_exit(returncode)
        if self._over_memory is not None:
            memory = True
            message = self._memory_message()
        elif memory:
            cap = f" of {self.address_space_limit_mb} MB" if self.address_space_limit_mb else ""
            message = f"Lean ran out of memory (address-space backstop{cap}) and {how}"
        else:
            last = tail.strip().splitlines()[-1] if tail.strip() else ""
            message = f"the Lean REPL {how}" + (f": {last[:300]}" if last else "")
        log.warning("%s: %s", self.name, message)
        return ReplCrashed(message, memory=memory, returncode=returncode)

    def _memory_message(self) -> str:
        return (f"Lean used {self._over_memory:.0f} MB resident, over the limit of {self.memory_limit_mb} MB; "
                "the process was killed and is restarted on its next use")

    # ------------------------------------------------------------------ header environments

    async def _import_header(self) -> None:
        """Import the header's modules once per process, then run the rest of it on them.

        There is deliberately no `pickleTo`/`unpickleEnvFrom` shortcut. At REPL v4.24.0,
        `CommandSnapshot.unpickle` (REPL/Snapshots.lean) calls `importModules` without
        `enableInitializersExecution`, so Mathlib's initializers (environment extensions, attributes)
        would not run in a fresh process; it re-imports every module anyway, so it saves no import time;
        and an unpickle failure is an uncaught exception (`unpickleCommandSnapshot` in REPL/Main.lean
        has no `try`) that ends the process. Within a process the header's `env` is reused by every
        theorem (`env_for_header`).
        """
        header = self._header
        key = self.header.strip()
        if header.imports:
            self.import_env = await self._run_header_command(header.import_command, None, importing=True)
        self.base_env = self.import_env
        if header.rest.strip():
            self.base_env = await self._run_header_command(header.rest, self.import_env, importing=False)
        self._header_envs[key] = self.base_env

    async def _run_header_command(self, text: str, env: int | None, *, importing: bool) -> int:
        try:
            response = await self.request(CommandRequest(text, env=env), self.import_timeout_s)
        except ReplTimeout:
            raise ProverError(
                f"importing the header took longer than {self.import_timeout_s:g} s "
                "(raise LeanOptions.import_timeout_s on a slow machine)"
            ) from None
        except ReplCrashed as exc:
            raise ProverError(f"the Lean REPL died while importing the header: {exc}") from None
        if isinstance(response, ReplFailure):
            raise ProverError(f"the REPL refused the header: {response.message}")
        if not isinstance(response, CommandResponse):
            raise ReplProtocolError(f"unexpected answer to the header: {response!r}")
        if response.errors:
            first = response.errors[0].data.strip().splitlines()[0]
            if importing:
                raise ProverUnavailable(
                    f"Lean could not import `{text.replace(chr(10), '; ')}`: {first}. "
                    "Build the Lake project with `llemma-prove setup lean` (see `llemma-prove doctor`)."
                )
            raise ProverError(f"the header does not elaborate: {first}")
        return response.env

    async def env_for_header(self, header: str, timeout_s: float) -> int | None:
        """The environment a theorem with this header runs on: the process header's env, or the
        header's non-import part run once on the imports (cached per process). An empty header gets
        the imports alone, so the process header's `open`s cannot change what a statement means."""
        key = header.strip()
        if key == self.header.strip():
            return self.base_env
        if key in self._header_envs:
            return self._header_envs[key]
        wanted = split_header(header)
        if not imports_covered(wanted.imports, self._header.imports):
            raise ProverError(
                f"the theorem's header imports {', '.join(wanted.imports)}, but the REPL processes import "
                f"only {', '.join(self._header.imports) or 'nothing'} (set LeanOptions.header)"
            )
        env = self.import_env
        if wanted.rest.strip():
            response = await self.request(CommandRequest(wanted.rest, env=env), timeout_s)
            if not isinstance(response, CommandResponse):
                raise ProverError(f"the REPL refused the theorem's header: {response}")
            if response.errors:
                raise ProverError(f"the theorem's header does not elaborate: {response.errors[0].data}")
            env = response.env
        self._header_envs[key] = env
        return env


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "stopped answering"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"
