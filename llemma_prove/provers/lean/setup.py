"""`llemma-prove setup lean`: build the pinned Lake project (toolchain, Mathlib cache, REPL).

Each step prints what it does and how long it took. Where something cannot be done the error names
exactly what is missing: no elan, no network (offline), or a toolchain other than the pinned one.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from ...errors import ProverUnavailable, UserError
from .elan import INSTALLER_ARGS, install_elan, installer_url
from .messages import CommandRequest, CommandResponse
from .options import LeanOptions
from .project import (
    LEAN_TOOLCHAIN,
    LEAN4CHECKER_PACKAGE,
    LEAN4CHECKER_TAG,
    REPL_PACKAGE,
    REPL_REV,
    REPL_TAG,
    default_project_dir,
    find_tool,
    lean4checker_binary,
    mathlib_built,
    read_toolchain,
    repl_binary,
    repl_pin,
    repository_project_dir,
    resolve_launch,
    run_tool,
    toolchain_dir,
)
from .repl import LeanRepl

_TEMPLATE_FILES = ("lakefile.lean", "lean-toolchain", "lake-manifest.json")
_VERSION = re.compile(r"Lean \(?version (\d+\.\d+\.\d+(?:-rc\d+)?)")


def _say(console: Any, text: str) -> None:
    if console is None:
        return
    printer = getattr(console, "print", None)
    if printer is None:
        console.write(text + "\n")
    else:
        printer(text)


async def online(host: str = "github.com", port: int = 443, timeout_s: float = 5.0) -> bool:
    """Whether the network needed for downloads (GitHub, the Mathlib cache) can be reached."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True


def ensure_project(project_dir: Path) -> None:
    """Make `project_dir` a Lake project: use it as is, or copy the pinned template into an empty folder."""
    if (project_dir / "lakefile.lean").exists() or (project_dir / "lakefile.toml").exists():
        return
    template = repository_project_dir()
    if project_dir.exists() and any(project_dir.iterdir()):
        raise UserError(f"{project_dir} is not a Lake project (no lakefile) and is not empty")
    if not (template / "lakefile.lean").exists():
        raise UserError(f"{project_dir} has no Lake project and the pinned template is not available")
    project_dir.mkdir(parents=True, exist_ok=True)
    for name in _TEMPLATE_FILES:
        shutil.copy2(template / name, project_dir / name)


class _Steps:
    def __init__(self, console: Any, total: int) -> None:
        self.console = console
        self.total = total
        self.index = 0

    async def run(self, title: str, action: Callable[[], Awaitable[str]]) -> None:
        self.index += 1
        _say(self.console, f"[{self.index}/{self.total}] {title} ...")
        started = time.monotonic()
        detail = await action()
        _say(self.console, f"[{self.index}/{self.total}] {title}: {detail} ({time.monotonic() - started:.1f} s)")

    def skip(self, title: str, why: str) -> None:
        self.index += 1
        _say(self.console, f"[{self.index}/{self.total}] {title}: {why} (0.0 s)")


async def setup_lean_async(project_dir: Path | None, console: Any = None) -> None:
    project = Path(project_dir) if project_dir else default_project_dir()
    steps = _Steps(console, 8)
    net: dict[str, bool] = {}

    async def need_network(what: str) -> None:
        if "up" not in net:
            net["up"] = await online()
        if not net["up"]:
            raise ProverUnavailable(f"offline: {what} needs network access to github.com, which cannot be reached")

    def lake_step(argv: list[str], timeout_s: float, failure: str) -> Callable[[], Awaitable[str]]:
        async def action() -> str:
            code, output = await run_tool(argv, project, timeout_s, on_line=lambda line: _say(console, "    " + line))
            if code != 0:
                tail = " / ".join(output.strip().splitlines()[-3:])
                raise ProverUnavailable(f"{failure}: `{' '.join(argv[1:])}` exited with {code}: {tail}")
            return "done"
        return action

    async def project_step() -> str:
        ensure_project(project)
        return f"{project} pins {read_toolchain(project)}"

    await steps.run("Lake project", project_step)

    lake = find_tool("lake")

    async def elan_step() -> str:
        nonlocal lake
        if lake is not None:
            return f"lake at {lake}"
        # No elan: install it with the official installer (a one-line error when offline).
        _say(console, f"    elan is not installed; running its installer ({installer_url()}) with "
                      f"`{' '.join(INSTALLER_ARGS)}`")
        lake = await install_elan(on_line=lambda line: _say(console, "    " + line))
        return f"installed elan; lake at {lake} (open a new shell to have it on PATH)"

    await steps.run("elan and lake", elan_step)
    assert lake is not None
    toolchain = read_toolchain(project) or LEAN_TOOLCHAIN

    async def toolchain_step() -> str:
        if (find_tool("elan") is not None) and not toolchain_dir(toolchain).is_dir():
            await need_network(f"installing the toolchain {toolchain}")
        code, output = await run_tool([str(lake), "--version"], project, 1800.0)
        if code != 0:
            raise ProverUnavailable(f"`lake --version` failed in {project}: {output.strip()[-300:]}")
        found = _VERSION.search(output)
        wanted = toolchain.split(":")[-1].lstrip("v")
        if found and found.group(1) != wanted:
            raise ProverUnavailable(
                f"wrong toolchain: `lake` in {project} runs Lean {found.group(1)}, but the project pins {toolchain}. "
                "Use elan's `lake` (it follows lean-toolchain) or install that toolchain with "
                f"`elan toolchain install {toolchain}`"
            )
        return f"Lean {found.group(1) if found else '?'}"

    await steps.run(f"toolchain {toolchain}", toolchain_step)

    async def pin_step() -> str:
        # Never `lake update`: it would move every pin and run Mathlib's post-update hook, which downloads
        # the whole Mathlib cache inside this step's time limit. The pin lives in lake-manifest.json.
        pin = repl_pin(project)
        if pin is None:
            raise ProverUnavailable(
                f"lake-manifest.json in {project} does not lock the REPL (package `{REPL_PACKAGE}`): copy its entry "
                f"from {repository_project_dir() / 'lake-manifest.json'} (tag {REPL_TAG} = commit {REPL_REV}); "
                "setup does not run `lake update`"
            )
        if pin != REPL_REV:
            return f"locked at {pin[:12]}, not tag {REPL_TAG} ({REPL_REV[:12]}): Lean may answer differently"
        return f"locked at tag {REPL_TAG} ({pin[:12]}) in lake-manifest.json"

    await steps.run("REPL pin", pin_step)

    if mathlib_built(project):
        steps.skip("Mathlib cache", "already present")
    else:
        await need_network("downloading Mathlib and its compiled cache")
        await steps.run("Mathlib cache (`lake exe cache get`)",
                        lake_step([str(lake), "exe", "cache", "get"], 3600.0, "downloading the Mathlib cache failed"))

    if repl_binary(project).exists():
        steps.skip("REPL build", f"already built at {repl_binary(project)}")
    else:
        if not (project / ".lake" / "packages" / REPL_PACKAGE).is_dir():
            await need_network("downloading the REPL")
        await steps.run(f"REPL build (`lake build {REPL_PACKAGE}/repl`)",
                        lake_step([str(lake), "build", f"{REPL_PACKAGE}/repl"], 1800.0, "building the REPL failed"))

    checker = lean4checker_binary(project)
    if checker.exists():
        steps.skip("lean4checker build", f"already built at {checker}")
    else:
        if not (project / ".lake" / "packages" / LEAN4CHECKER_PACKAGE).is_dir():
            await need_network(f"downloading lean4checker {LEAN4CHECKER_TAG}")
        target = f"{LEAN4CHECKER_PACKAGE}/lean4checker"
        await steps.run(f"lean4checker build (`lake build {target}`, kernel replay of the final check)",
                        lake_step([str(lake), "build", target], 1800.0, "building lean4checker failed"))

    async def smoke_step() -> str:
        options = LeanOptions(project_dir=project, header="import Mathlib")
        launch = await resolve_launch(options)
        repl = LeanRepl(launch, header="import Mathlib", import_timeout_s=900.0, name="setup")
        try:
            await repl.start()
            check = CommandRequest("example : (2 : ℕ) + 2 = 4 := by norm_num", env=repl.base_env)
            response = await repl.request(check, 120.0)
        finally:
            await repl.close()
        if not isinstance(response, CommandResponse) or response.errors:
            raise ProverUnavailable(f"the REPL runs but a Mathlib check failed: {response}")
        return f"`import Mathlib` in {repl.last_import_s:.1f} s, norm_num works"

    await steps.run("REPL with Mathlib", smoke_step)
    _say(console, f"Lean is ready: {project}")


def setup_lean(project_dir: Path | None, console: Any = None) -> None:
    """Build the Lake project at `project_dir` (None: the default one), printing each step and its time.

    Raises ProverUnavailable naming what is missing (elan, network, toolchain) when it cannot.
    """
    asyncio.run(setup_lean_async(project_dir, console))
