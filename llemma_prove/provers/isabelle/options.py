"""Configuration of the Isabelle backend: where Isabelle and PISA live, ports, time limits.

Values come from the CLI, or from the environment (`IsabelleOptions.from_env`) so that tests and
`doctor` see the same installation as a run does.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

# PISA's in-server step limit (10 s) and the raised one after `<allow more time>` (30 s).
PISA_STEP_LIMIT_S = 10.0
PISA_MORE_TIME_LIMIT_S = 30.0
# Ports PISA's main branch compiles a `PisaOneStageServer<PORT>` object for (used without a jar listing).
DEFAULT_PORTS = (9000, 8000, 10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000)
CONTEXT_THEORY_NAME = "Interactive"
# The session image holding the context theory's imports (`isabelle/ROOT`). PISA picks its logic
# from the working directory's path below `src/` (PisaOS.scala, `currentProjectName`), so the
# working directory `$ISABELLE_HOME/src/HOL/LLemma_Prove` selects exactly this session.
CONTEXT_SESSION = "HOL-LLemma_Prove"
CONTEXT_DIR = ("src", "HOL", "LLemma_Prove")

ENV_ISABELLE_HOME = "ISABELLE_HOME"
ENV_PISA_JAR = "LLEMMA_PROVE_PISA_JAR"
ENV_WORKING_DIR = "LLEMMA_PROVE_PISA_WORKING_DIR"
ENV_THEORY_FILE = "LLEMMA_PROVE_PISA_THEORY_FILE"
ENV_PORTS = "LLEMMA_PROVE_PISA_PORTS"
ENV_AFP = "LLEMMA_PROVE_AFP"


@dataclass(frozen=True)
class IsabelleOptions:
    """Everything the PISA backend needs; `None` paths fall back to conventional places."""

    isabelle_home: Path | None = None
    pisa_jar: Path | None = None
    working_dir: Path | None = None  # PISA working directory; default <isabelle_home>/src/HOL/LLemma_Prove
    theory_file: Path | None = None  # context theory; default <working_dir>/Interactive.thy
    afp_thys: Path | None = None  # AFP `thys` folder (Symmetric_Polynomials), for the final check
    java: str = "java"
    host: str = "127.0.0.1"
    ports: tuple[int, ...] | None = None  # None: the first `num_servers` ports the jar provides
    num_servers: int = 1
    step_timeout_s: float = PISA_STEP_LIMIT_S  # above 10 s, steps are sent with `<allow more time>`
    statement_timeout_s: float = PISA_MORE_TIME_LIMIT_S  # header + statement (imports load here)
    replay_timeout_s: float = PISA_MORE_TIME_LIMIT_S  # each command of the final replay (`<allow more time>`)
    rpc_grace_s: float = 5.0  # client deadline = commands x limit + grace; past it the server counts as hung
    parse_timeout_s: float = 60.0  # `<parse text>` of a final proof
    use_heuristics: bool = True  # hammer: try the DSP tactics first
    use_sledgehammer: bool = True  # hammer: then `normalhammer`
    hammer_timeout_s: float = 60.0  # budget of one `normalhammer` call
    startup_timeout_s: float = 120.0  # JVM up and listening
    handshake_timeout_s: float = 600.0  # IsabelleContext starts Isabelle and loads the heap
    ping_timeout_s: float = 10.0
    watchdog_interval_s: float = 5.0
    max_restarts: int = 5
    max_message_bytes: int = 100 * 1024 * 1024
    memory_limit_bytes: int | None = None  # RLIMIT_AS for the JVM; off by default (the JVM reserves a lot)
    official_check: bool = True  # also check through `isabelle server` when Isabelle is configured
    official_session: str | None = None  # None: the context session image when built, else HOL
    official_timeout_s: float = 600.0
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "IsabelleOptions":
        env = os.environ if env is None else env

        def path(key: str) -> Path | None:
            value = env.get(key, "").strip()
            return Path(value).expanduser() if value else None

        ports = None
        if env.get(ENV_PORTS, "").strip():
            ports = tuple(int(p) for p in env[ENV_PORTS].replace(",", " ").split())
        opts = cls(
            isabelle_home=path(ENV_ISABELLE_HOME),
            pisa_jar=path(ENV_PISA_JAR),
            working_dir=path(ENV_WORKING_DIR),
            theory_file=path(ENV_THEORY_FILE),
            afp_thys=path(ENV_AFP),
            ports=ports,
        )
        return replace(opts, **overrides) if overrides else opts

    # Derived values --------------------------------------------------------------------------

    @property
    def resolved_working_dir(self) -> Path | None:
        if self.working_dir is not None:
            return self.working_dir
        if self.isabelle_home is not None:
            return self.isabelle_home.joinpath(*CONTEXT_DIR)
        return None

    @property
    def resolved_official_session(self) -> str:
        """The logic of the official check: the prebuilt context session when its heap exists."""
        if self.official_session:
            return self.official_session
        from .health import heap_dirs, session_built  # health imports this module

        wd = self.resolved_working_dir
        if wd is not None and (wd / "ROOT").is_file() and session_built(CONTEXT_SESSION, heap_dirs(self)):
            return CONTEXT_SESSION
        return "HOL"

    def session_dirs(self) -> tuple[Path, ...]:
        """Folders that define sessions the official check may need (`-d` of `isabelle build`)."""
        from .health import is_registered  # health imports this module

        dirs: list[Path] = []
        wd = self.resolved_working_dir
        if wd is not None and (wd / "ROOT").is_file():
            dirs.append(wd)
        if self.afp_thys is not None:
            dirs.append(self.afp_thys)
        # A folder already in the user's ROOTS file is known to Isabelle; naming it again with -d
        # could define its sessions twice.
        return tuple(d for d in dirs if not is_registered(d, self))

    @property
    def resolved_theory_file(self) -> Path | None:
        if self.theory_file is not None:
            return self.theory_file
        wd = self.resolved_working_dir
        return wd / f"{CONTEXT_THEORY_NAME}.thy" if wd is not None else None

    @property
    def isabelle_executable(self) -> Path | None:
        return self.isabelle_home / "bin" / "isabelle" if self.isabelle_home is not None else None

    @property
    def allow_more_time(self) -> bool:
        """Steps get PISA's 30 s limit (`<allow more time>`) when the configured limit exceeds 10 s."""
        return self.step_timeout_s > PISA_STEP_LIMIT_S

    def step_deadline_s(self, commands: int = 1) -> float:
        """Client deadline for a step of `commands` Isar commands (PISA limits each command)."""
        limit = PISA_MORE_TIME_LIMIT_S if self.allow_more_time else PISA_STEP_LIMIT_S
        return max(1, commands) * min(self.step_timeout_s, limit) + self.rpc_grace_s

    def resolved_ports(self) -> tuple[int, ...]:
        if self.ports:
            return tuple(self.ports)
        available = jar_server_ports(self.pisa_jar) if self.pisa_jar is not None else ()
        pool = available or DEFAULT_PORTS
        return tuple(pool[: max(1, self.num_servers)])


def jar_server_ports(jar: Path) -> tuple[int, ...]:
    """Ports a PISA jar has a `pisa.server.PisaOneStageServer<PORT>` main object for (9000 first)."""
    try:
        with zipfile.ZipFile(jar) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return ()
    prefix = "pisa/server/PisaOneStageServer"
    ports: set[int] = set()
    for name in names:
        if name.startswith(prefix) and name.endswith(".class"):
            digits = name[len(prefix) : -len(".class")].rstrip("$")
            if digits.isdigit():
                ports.add(int(digits))
    return tuple(sorted(ports, key=lambda p: (p != 9000, p)))
