"""Install elan (Lean's toolchain manager) with its official installer, non-interactively.

The installer script (leanprover/elan, `elan-init.sh`) is fetched with the project's HTTP client and
run as `sh elan-init.sh -y --default-toolchain none`: `-y` because it cannot prompt without a terminal,
`none` because `setup lean` installs the toolchain the Lake project pins, not elan's default. It runs in
its own process group with a time limit, like every child process here. elan lands in $ELAN_HOME
(default ~/.elan), where `find_tool` looks for `lake`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from ...errors import ProverUnavailable
from .project import ELAN_INSTALL, elan_home, find_tool, run_tool

ELAN_INIT_URL = "https://elan.lean-lang.org/elan-init.sh"
# Where to fetch the installer instead (a mirror, or a copy behind a proxy): an http(s) or file URL.
ELAN_INIT_URL_ENV = "LLEMMA_PROVE_ELAN_INIT_URL"
INSTALLER_ARGS = ("-y", "--default-toolchain", "none")
DOWNLOAD_TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 900.0


def installer_url() -> str:
    return os.environ.get(ELAN_INIT_URL_ENV) or ELAN_INIT_URL


async def fetch_installer(url: str, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> bytes:
    """The installer script's bytes; a one-line `ProverUnavailable` saying we are offline otherwise."""
    if url.startswith("file://"):
        try:
            body = Path(url[len("file://"):]).read_bytes()
        except OSError as exc:
            raise ProverUnavailable(f"cannot read the elan installer {url}: {exc.strerror or exc}") from None
    else:
        body = await _download(url, timeout_s)
    if not body.startswith(b"#!"):
        raise ProverUnavailable(f"{url} did not return the elan installer script (no #! line)")
    return body


async def _download(url: str, timeout_s: float) -> bytes:
    import aiohttp

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            async with session.get(url) as response:
                if response.status != 200:
                    raise ProverUnavailable(f"downloading the elan installer from {url} failed: HTTP {response.status}")
                body = await response.read()
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ProverUnavailable(
            f"offline: cannot download the elan installer from {url} ({reason}); connect to the network and run "
            f"`llemma-prove setup lean` again, or install elan by hand: `{ELAN_INSTALL}`"
        ) from None
    return body


async def install_elan(on_line: Callable[[str], None] | None = None, url: str | None = None,
                       timeout_s: float = INSTALL_TIMEOUT_S) -> Path:
    """Run the official installer; returns the `lake` it installed. Raises `ProverUnavailable` (one line)
    when the download or the installer fails."""
    url = url or installer_url()
    script = await fetch_installer(url)
    with tempfile.TemporaryDirectory(prefix="llemma-prove-elan-") as folder:
        path = Path(folder) / "elan-init.sh"
        path.write_bytes(script)
        code, output = await run_tool([shutil.which("sh") or "/bin/sh", str(path), *INSTALLER_ARGS], Path(folder), timeout_s, on_line=on_line)
    if code != 0:
        tail = " / ".join(line.strip() for line in output.strip().splitlines()[-3:] if line.strip())
        raise ProverUnavailable(f"the elan installer ({url}) exited with {code}: {tail or 'no output'}")
    lake = find_tool("lake")
    if lake is None:
        raise ProverUnavailable(f"the elan installer finished but no `lake` is in {elan_home() / 'bin'} or on PATH")
    return lake


