"""Settings of the Lean REPL backend, with defaults sized from the machine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import psutil

# The header of the default miniF2F statement set (yangky11/miniF2F-lean4, Lean v4.24.0), byte for byte.
MINIF2F_HEADER = "import Mathlib\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"

# What one REPL process with Mathlib imported holds in memory, roughly, when sizing the pool.
_WORKER_RESIDENT_MB = 8 * 1024
_MIN_CAP_MB = 8 * 1024
_MAX_CAP_MB = 20 * 1024
# The address-space backstop sits this far above twice the resident limit. Address space counts what
# resident memory does not: every Mathlib `.olean` file `import Mathlib` maps (several GB, mapped but
# mostly never read) and memory Lean's allocator and thread stacks reserve without touching. A cap near
# the resident limit would kill healthy processes; this one only stops an allocation burst faster than
# the resident-memory watcher's poll.
_MAPPED_AND_RESERVED_MB = 16 * 1024
DEFAULT_MEMORY_POLL_S = 1.0


def total_memory_mb() -> int:
    return int(psutil.virtual_memory().total // (1024 * 1024))


def default_workers() -> int:
    """One REPL per core, as many as the memory holds (a Mathlib REPL grows to several GB)."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, total_memory_mb() // _WORKER_RESIDENT_MB))


def default_memory_limit_mb() -> int:
    """Resident-memory limit per REPL (its whole process group): 3/4 of the machine, at least 8 GB, at
    most 20 GB. Over it, the process is killed and restarted."""
    return max(_MIN_CAP_MB, min(_MAX_CAP_MB, total_memory_mb() * 3 // 4))


def address_space_backstop_mb(resident_limit_mb: int) -> int:
    """The RLIMIT_AS backstop for a given resident limit (see _MAPPED_AND_RESERVED_MB for why so large)."""
    return 2 * resident_limit_mb + _MAPPED_AND_RESERVED_MB


@dataclass
class LeanOptions:
    """How to run Lean: which Lake project, how many REPL processes, and every limit.

    `repl_command` replaces the whole launch (argv run in `project_dir`, or the current directory):
    for a REPL in a container or a wrapper script; the tests point it at the stand-in REPL.
    """

    project_dir: Path | None = None  # None: $LLEMMA_PROVE_LEAN_PROJECT, else the repository's lean_project/
    repl_path: Path | None = None  # None: the REPL built inside the project
    workers: int | None = None  # None: default_workers()
    step_timeout_s: float = 60.0
    check_timeout_s: float = 300.0
    import_timeout_s: float = 600.0
    memory_limit_mb: int | None = None  # resident MB of a REPL's process group; None: default_memory_limit_mb(); 0: none
    address_space_limit_mb: int | None = None  # RLIMIT_AS backstop; None: address_space_backstop_mb(); 0: none
    memory_poll_s: float = DEFAULT_MEMORY_POLL_S  # how often the resident memory is read
    max_requests_per_process: int = 2000
    header: str = MINIF2F_HEADER
    max_queue: int = 256  # waiting jobs per worker before callers wait
    rebalance: bool = True  # an idle worker takes over a waiting search (replaying its states)
    max_rebalance_depth: int = 16  # ...only if the state to rebuild is at most this many tactics deep
    repl_command: Sequence[str] | None = None
    repl_env: dict[str, str] | None = field(default=None, repr=False)
    # The final check's tools (`final_check.py`): None resolves `lean` and `lean4checker` in the project;
    # a command replaces each (argv prefix, run with `repl_env`), e.g. for a container.
    lean_command: Sequence[str] | None = None
    lean4checker_command: Sequence[str] | None = None
    check_dir: Path | None = None  # scratch modules; None: <project>/.lake/llemma_prove/check

    def resolved_workers(self) -> int:
        return self.workers if self.workers and self.workers > 0 else default_workers()

    def resolved_memory_limit_mb(self) -> int | None:
        if self.memory_limit_mb == 0:
            return None
        return self.memory_limit_mb if self.memory_limit_mb else default_memory_limit_mb()

    def resolved_address_space_limit_mb(self) -> int | None:
        if self.address_space_limit_mb is not None:
            return self.address_space_limit_mb or None
        resident = self.resolved_memory_limit_mb()
        return address_space_backstop_mb(resident) if resident else None
