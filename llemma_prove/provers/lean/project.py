"""The Lake project Lean runs in: pins, where things live, health checks, and how to launch the REPL.

The REPL is launched as its built binary with the project's `lake env` environment, resolved once,
rather than through `lake exe repl`: then the process we start (and kill by group) is Lean itself,
with no `lake` parent in between that could leave a Lean grandchild behind.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Callable

from ...errors import ProverUnavailable
from ...processes import ChildProcess, ProcessSpec
from ...types import HealthCheck
from .options import LeanOptions
from .repl import ReplLaunch

log = logging.getLogger(__name__)

LEAN_TOOLCHAIN = "leanprover/lean4:v4.24.0"
MATHLIB_URL = "https://github.com/leanprover-community/mathlib4"
MATHLIB_TAG = "v4.24.0"
MATHLIB_REV = "f897ebcf72cd16f89ab4577d0c826cd14afaafc7"
REPL_URL = "https://github.com/leanprover-community/repl"
REPL_TAG = "v4.24.0"
REPL_REV = "8fff8552292860d349b459d6a811e6915671dc0d"  # the commit tag v4.24.0 names (a lightweight tag)
REPL_PACKAGE = "REPL"
# The kernel replay of the final check: leanprover/lean4checker at the toolchain's tag (lakefile.toml,
# executable `lean4checker`), locked in lake-manifest.json.
LEAN4CHECKER_PACKAGE = "lean4checker"
LEAN4CHECKER_TAG = "v4.24.0"
LEAN4CHECKER_REV = "da26eb05e9959402afcb9bd6dfe5dc4f700f70d6"
PROJECT_ENV = "LLEMMA_PROVE_LEAN_PROJECT"
ELAN_INSTALL = "curl https://elan.lean-lang.org/elan-init.sh -sSf | sh"
SETUP_ADVICE = "run `llemma-prove setup lean`"
LAKE_ENV_TIMEOUT_S = 300.0

_ENV_DUMP = "import json, os, sys; sys.stdout.write('\\n' + json.dumps(dict(os.environ)) + '\\n')"


def repository_project_dir() -> Path:
    """`lean_project/` next to the package in a source checkout."""
    return Path(__file__).resolve().parents[3] / "lean_project"


def default_project_dir() -> Path:
    env = os.environ.get(PROJECT_ENV)
    return Path(env).expanduser() if env else repository_project_dir()


def elan_home() -> Path:
    return Path(os.environ.get("ELAN_HOME", Path.home() / ".elan")).expanduser()


def find_tool(name: str) -> Path | None:
    """`lake`, `lean` or `elan` on PATH, else in elan's bin folder."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidate = elan_home() / "bin" / name
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def read_toolchain(project_dir: Path) -> str | None:
    path = project_dir / "lean-toolchain"
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def toolchain_dir(toolchain: str) -> Path:
    """Where elan keeps an installed toolchain (`leanprover/lean4:v4.24.0` ->
    `leanprover--lean4---v4.24.0`)."""
    return elan_home() / "toolchains" / toolchain.replace("/", "--").replace(":", "---")


def packages_dir(project_dir: Path) -> Path:
    return project_dir / ".lake" / "packages"


def repl_binary(project_dir: Path) -> Path:
    """The REPL built as a dependency of the project (or the project itself being the REPL)."""
    for package in (REPL_PACKAGE, REPL_PACKAGE.lower()):
        candidate = packages_dir(project_dir) / package / ".lake" / "build" / "bin" / "repl"
        if candidate.exists():
            return candidate
    own = project_dir / ".lake" / "build" / "bin" / "repl"
    if own.exists():
        return own
    return packages_dir(project_dir) / REPL_PACKAGE / ".lake" / "build" / "bin" / "repl"


def manifest_revs(project_dir: Path) -> dict[str, str]:
    """Package name -> locked commit, from lake-manifest.json."""
    try:
        data = json.loads((project_dir / "lake-manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {p.get("name", ""): p.get("rev", "") for p in data.get("packages", []) if isinstance(p, dict)}


def repl_pin(project_dir: Path) -> str | None:
    """The commit lake-manifest.json locks the REPL at (package `REPL`), None when it is not locked."""
    revs = manifest_revs(project_dir)
    return revs.get(REPL_PACKAGE) or revs.get(REPL_PACKAGE.lower()) or None


def _git_head(repo: Path) -> str | None:
    head = repo / ".git" / "HEAD"
    try:
        text = head.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if text.startswith("ref:"):
        ref = repo / ".git" / text.split(None, 1)[1]
        try:
            return ref.read_text(encoding="utf-8").strip()
        except OSError:
            return None
    return text


def installation_identity(project_dir: Path) -> dict[str, str]:
    """What decides Lean's answers in this project: the toolchain and the Mathlib and REPL commits
    (checked out where they are, else as locked). The tactic cache keys on it."""
    revs = manifest_revs(project_dir)
    packages = packages_dir(project_dir)
    return {
        "toolchain": read_toolchain(project_dir) or "",
        "mathlib": _git_head(packages / "mathlib") or revs.get("mathlib", ""),
        "repl": _git_head(packages / REPL_PACKAGE) or repl_pin(project_dir) or "",
    }


def mathlib_built(project_dir: Path) -> bool:
    lib = packages_dir(project_dir) / "mathlib" / ".lake" / "build" / "lib"
    return any(p.exists() for p in (lib / "lean" / "Mathlib.olean", lib / "Mathlib.olean"))


# ------------------------------------------------------------------------------------ doctor


def lean_health(project_dir: Path | None = None) -> list[HealthCheck]:
    """Toolchain, Mathlib and REPL build status, from the file system alone (fast, no Lean run)."""
    project = Path(project_dir) if project_dir else default_project_dir()
    checks: list[HealthCheck] = []
    lake = find_tool("lake")
    toolchain = read_toolchain(project)
    if lake is None:
        checks.append(HealthCheck("Lean toolchain (elan, lake)", False, "no `lake` on PATH or in ~/.elan/bin",
                                  f"{SETUP_ADVICE}: it installs elan first (the official installer, "
                                  "elan.lean-lang.org/elan-init.sh)"))
    elif toolchain and (elan_home() / "toolchains").is_dir() and not toolchain_dir(toolchain).is_dir():
        checks.append(HealthCheck("Lean toolchain (elan, lake)", False,
                                  f"lake at {lake}; toolchain {toolchain} is not installed",
                                  f"{SETUP_ADVICE} (elan installs {toolchain})"))
    else:
        checks.append(HealthCheck("Lean toolchain (elan, lake)", True, f"lake at {lake}; {toolchain or 'no pin'}"))

    checks.append(memory_health(LeanOptions()))

    if not (project / "lakefile.lean").exists() and not (project / "lakefile.toml").exists():
        checks.append(HealthCheck("Lean project", False, f"no Lake project at {project}",
                                  f"{SETUP_ADVICE}, or pass --lean-project DIR"))
        return checks
    pin_note = "" if toolchain == LEAN_TOOLCHAIN else f" (the default statement set needs {LEAN_TOOLCHAIN})"
    checks.append(HealthCheck("Lean project", True, f"{project}, {toolchain}{pin_note}"))

    mathlib_dir = packages_dir(project) / "mathlib"
    locked = manifest_revs(project).get("mathlib")
    if not mathlib_dir.is_dir():
        checks.append(HealthCheck("Mathlib", False, "not downloaded", SETUP_ADVICE))
    elif not mathlib_built(project):
        checks.append(HealthCheck("Mathlib", False, "downloaded, compiled cache missing",
                                  f"{SETUP_ADVICE} (runs `lake exe cache get`)"))
    else:
        head = _git_head(mathlib_dir)
        if locked and head and head != locked:
            checks.append(HealthCheck("Mathlib", False, f"checked out at {head[:12]}, manifest locks {locked[:12]}",
                                      f"{SETUP_ADVICE} (`lake update` was run by hand?)"))
        else:
            checks.append(HealthCheck("Mathlib", True, f"built, {(head or locked or '?')[:12]}"))

    binary = repl_binary(project)
    pin = repl_pin(project)
    if pin is None:
        checks.append(HealthCheck("Lean REPL", False, f"lake-manifest.json in {project} does not lock package "
                                  f"`{REPL_PACKAGE}`", f"copy its entry from {repository_project_dir()}/lake-manifest.json "
                                  f"(tag {REPL_TAG} = {REPL_REV})"))
        return checks
    locked = f"locked at {pin[:12]}" + (f" (tag {REPL_TAG})" if pin == REPL_REV else f", not tag {REPL_TAG} ({REPL_REV[:12]})")
    if binary.exists() and os.access(binary, os.X_OK):
        checks.append(HealthCheck("Lean REPL", True, f"built at {binary}, {locked}"))
    else:
        checks.append(HealthCheck("Lean REPL", False, f"not built ({binary} missing), {locked}", SETUP_ADVICE))
    checker = lean4checker_binary(project)
    if checker.exists() and os.access(checker, os.X_OK):
        checks.append(HealthCheck("lean4checker", True, f"built at {checker} (kernel replay of the final check)"))
    else:
        checks.append(HealthCheck("lean4checker", False, f"not built ({checker} missing); the final check needs it",
                                  SETUP_ADVICE))
    return checks


def lean4checker_binary(project_dir: Path) -> Path:
    """lean4checker (pinned in lakefile.lean / lake-manifest.json), built as a dependency of the project."""
    return packages_dir(project_dir) / LEAN4CHECKER_PACKAGE / ".lake" / "build" / "bin" / "lean4checker"


def memory_health(options: LeanOptions) -> HealthCheck:
    """How each REPL's memory is limited: the watched resident limit, and the address-space backstop."""
    resident = options.resolved_memory_limit_mb()
    backstop = options.resolved_address_space_limit_mb()
    if not resident:
        detail = "resident memory not watched (memory_limit_mb=0)"
    else:
        detail = (f"each REPL's process group restarted above {resident} MB resident (psutil, every "
                  f"{options.memory_poll_s:g} s)")
    detail += f"; address-space backstop {backstop} MB" if backstop else "; no address-space backstop"
    return HealthCheck("Lean memory limits", True, detail, required=False)


def unavailable_message(checks: list[HealthCheck]) -> str | None:
    bad = [c for c in checks if c.required and not c.ok]
    if not bad:
        return None
    parts = [f"{c.name}: {c.detail}" for c in bad]
    advice = bad[0].advice or SETUP_ADVICE
    return "Lean is not ready (" + "; ".join(parts) + f"). To fix: {advice}. See `llemma-prove doctor`."


# ------------------------------------------------------------------------------------ launch


async def run_tool(
    argv: list[str],
    cwd: Path,
    timeout_s: float,
    env: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> tuple[int, str]:
    """Run a helper command (lake, lean) to completion under a time limit; returns the exit code and
    its output (stdout and stderr together, the last 400 lines), passing each line to `on_line`."""
    child = ChildProcess(ProcessSpec(argv=argv, cwd=str(cwd), env=env, stderr_to_stdout=True))
    try:
        await child.start()
    except OSError as exc:
        return 127, f"cannot run {argv[0]}: {exc}"
    proc = child.proc
    assert proc is not None and proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    lines: collections.deque[str] = collections.deque(maxlen=400)

    async def pump() -> int:
        assert proc.stdout is not None
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\n")
            lines.append(line)
            if on_line is not None:
                on_line(line)
        return await proc.wait()

    try:
        code = await asyncio.wait_for(pump(), timeout_s)
    except asyncio.TimeoutError:
        lines.append(f"`{' '.join(argv)}` ran past {timeout_s:g} s and was stopped")
        code = 124
    finally:
        await child.stop(grace_s=1.0)
    return code, "\n".join(lines)


async def lake_environment(lake: Path, project_dir: Path) -> dict[str, str]:
    """The environment `lake env` gives programs in the project (LEAN_PATH, LEAN_SYSROOT, ...)."""
    code, output = await run_tool([str(lake), "env", sys.executable, "-c", _ENV_DUMP], project_dir, LAKE_ENV_TIMEOUT_S)
    if code != 0:
        tail = output.strip().splitlines()[-3:]
        raise ProverUnavailable(f"`lake env` failed in {project_dir}: {' / '.join(tail)}. {SETUP_ADVICE}.")
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            try:
                return {str(k): str(v) for k, v in json.loads(line).items()}
            except ValueError:
                break
    raise ProverUnavailable(f"could not read the environment from `lake env` in {project_dir}")


async def resolve_launch(options: LeanOptions) -> ReplLaunch:
    """How to start the REPL for these options; ProverUnavailable (naming what is missing) if Lean is absent."""
    if options.repl_command:
        cwd = str(options.project_dir) if options.project_dir else None
        return ReplLaunch(tuple(options.repl_command), cwd, options.repl_env)
    project = Path(options.project_dir) if options.project_dir else default_project_dir()
    checks = lean_health(project)
    if options.repl_path is not None:  # a REPL built elsewhere: only the toolchain and project matter
        checks = [c for c in checks if c.name != "Lean REPL"]
    if options.lean4checker_command:  # the final check runs its tools from elsewhere
        checks = [c for c in checks if c.name != "lean4checker"]
        if not Path(options.repl_path).is_file():
            checks.append(HealthCheck("Lean REPL", False, f"{options.repl_path} does not exist", SETUP_ADVICE))
    message = unavailable_message(checks)
    if message:
        raise ProverUnavailable(message)
    lake = find_tool("lake")
    assert lake is not None
    env = await lake_environment(lake, project)
    binary = Path(options.repl_path) if options.repl_path else repl_binary(project)
    return ReplLaunch((str(binary),), str(project), env)
