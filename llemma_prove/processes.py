"""Child processes that cannot outlive us.

Every external tool (Lean REPL, PISA, the Isabelle server) is started through `ChildProcess`:
- in its own process group (a new session), so a kill reaches its grandchildren too;
- with PR_SET_PDEATHSIG on Linux, so the kernel kills it if this Python process dies, even by kill -9;
- optionally with an address-space cap (RLIMIT_AS), a backstop against a runaway allocation (the
  resident memory that matters is watched by the caller with `resident_bytes`);
- registered for an `atexit` sweep, so a normal exit or an uncaught exception kills the group.

The registry of live children is the one piece of process-wide state in the project: cleanup at exit
cannot be done without it.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import logging
import os
import resource
import signal
import sys
import weakref
from dataclasses import dataclass, field
from typing import Mapping, Sequence

log = logging.getLogger(__name__)

_LIVE: "weakref.WeakSet[ChildProcess]" = weakref.WeakSet()
_PR_SET_PDEATHSIG = 1


def _kill_all_live() -> None:
    for child in list(_LIVE):
        child.kill_now()


atexit.register(_kill_all_live)


def _preexec(memory_limit_bytes: int | None) -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except OSError:
            pass
    if memory_limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))


@dataclass
class ProcessSpec:
    """How to start one child: argv, working directory, extra environment, memory cap."""

    argv: Sequence[str]
    cwd: str | None = None
    env: Mapping[str, str] | None = None
    memory_limit_bytes: int | None = None
    stderr_to_stdout: bool = False
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ if self.env is None else self.env)
        env.update(self.extra_env)
        return env


class ChildProcess:
    """An asyncio subprocess in its own process group with a guaranteed kill."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Start the child. Must be called from the event loop's thread (PDEATHSIG follows the thread)."""
        limit = self.spec.memory_limit_bytes
        self.proc = await asyncio.create_subprocess_exec(
            *self.spec.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if self.spec.stderr_to_stdout else asyncio.subprocess.PIPE,
            cwd=self.spec.cwd,
            env=self.spec.environment(),
            start_new_session=True,
            preexec_fn=lambda: _preexec(limit),
            limit=64 * 1024 * 1024,  # one REPL response can be large (infotrees, long goals)
        )
        _LIVE.add(self)
        log.debug("started %s (pid %s)", self.spec.argv[0], self.proc.pid)

    def kill_now(self) -> None:
        """Kill the whole process group at once (synchronous, safe to call twice)."""
        proc = self.proc
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _LIVE.discard(self)

    async def stop(self, grace_s: float = 2.0) -> None:
        """Ask the group to stop (SIGTERM), then kill it; always reaps the child."""
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            if proc.stdin is not None and not proc.stdin.is_closing():
                try:
                    proc.stdin.close()
                except (BrokenPipeError, ConnectionResetError, RuntimeError):
                    pass
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except asyncio.TimeoutError:
                pass
        self.kill_now()
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except asyncio.TimeoutError:  # pragma: no cover - the kernel reaps a SIGKILLed child quickly
            log.warning("process group %s did not exit after SIGKILL", proc.pid)
        self.proc = proc  # keep returncode available

    async def __aenter__(self) -> "ChildProcess":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def live_children() -> list[ChildProcess]:
    """Children started through this module that have not been stopped (used by tests)."""
    return [c for c in _LIVE if c.running]


def resident_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (its process group, short of a child that
    left it with setsid); 0 when it is gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in family:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total
