"""`llemma-prove setup lean` installs elan itself when it is missing, with the official installer script
fetched over HTTP; here the installer is the stand-in tests/lean/fake_elan_init.sh (a test double),
served from a local HTTP server, and `lake` is the stand-in tests/lean/fake_lake.py."""

from __future__ import annotations

import functools
import http.server
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

from llemma_prove.errors import ProverUnavailable
from llemma_prove.provers.lean import lean_health, setup_lean
from llemma_prove.provers.lean import setup as setup_mod
from llemma_prove.provers.lean.elan import INSTALLER_ARGS, fetch_installer, install_elan

HERE = Path(__file__).resolve().parent
FAKE_INSTALLER = HERE / "fake_elan_init.sh"
FAKE_LAKE = HERE / "fake_lake.py"


def unreachable_url() -> str:
    """An http URL on this machine where nothing listens (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/elan-init.sh"


@pytest.fixture
def served_installer(tmp_path: Path) -> Iterator[str]:
    """The stand-in installer at http://127.0.0.1:PORT/elan-init.sh."""
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(FAKE_INSTALLER, root / "elan-init.sh")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/elan-init.sh"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_elan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Lean on PATH (only the system's /usr/bin and /bin) and an empty ELAN_HOME; returns the log of
    installer calls."""
    if shutil.which("lake", path="/usr/bin:/bin"):
        pytest.skip("a system lake is on /usr/bin or /bin")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan-home"))
    monkeypatch.setenv("FAKE_ELAN_PYTHON", sys.executable)
    monkeypatch.setenv("FAKE_ELAN_LAKE", str(FAKE_LAKE))
    log = tmp_path / "installer-calls.txt"
    monkeypatch.setenv("FAKE_ELAN_LOG", str(log))
    monkeypatch.setenv("FAKE_LAKE_LOG", str(tmp_path / "lake-calls.jsonl"))
    return log


def test_the_stand_in_installer_is_as_strict_as_the_real_one(tmp_path: Path) -> None:
    env = {**os.environ, "ELAN_HOME": str(tmp_path / "h"), "FAKE_ELAN_PYTHON": sys.executable,
           "FAKE_ELAN_LAKE": str(FAKE_LAKE)}
    prompt = subprocess.run(["sh", str(FAKE_INSTALLER)], env=env, capture_output=True, text=True)
    assert prompt.returncode == 1 and "Unable to run interactively" in prompt.stderr
    unknown = subprocess.run(["sh", str(FAKE_INSTALLER), "-y", "--bogus"], env=env, capture_output=True, text=True)
    assert unknown.returncode == 1 and "--bogus" in unknown.stderr
    assert not (tmp_path / "h").exists()


def test_setup_installs_elan_when_missing(no_elan: Path, served_installer: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, no_leftover_children) -> None:
    async def reachable(*args, **kwargs) -> bool:
        return True

    monkeypatch.setattr(setup_mod, "online", reachable)
    monkeypatch.setenv("LLEMMA_PROVE_ELAN_INIT_URL", served_installer)
    project = tmp_path / "proj"
    out = io.StringIO()
    setup_lean(project, out)
    text = out.getvalue()
    assert no_elan.read_text().split() == list(INSTALLER_ARGS)  # run once, non-interactively, no toolchain
    assert "elan is installed now" in text and "installed elan; lake at" in text
    assert (tmp_path / "elan-home" / "bin" / "lake").is_file()
    assert not (tmp_path / "elan-home" / "toolchains").exists()  # `--default-toolchain none`
    assert "Lean is ready" in text
    assert all(c.ok for c in lean_health(project)), lean_health(project)
    again = io.StringIO()
    setup_lean(project, again)  # elan is there now: the installer is not fetched again
    assert len(no_elan.read_text().splitlines()) == 1


async def test_offline_is_one_clear_line(no_elan: Path) -> None:
    with pytest.raises(ProverUnavailable) as info:
        await install_elan(url=unreachable_url())
    message = str(info.value)
    assert message.startswith("offline: cannot download the elan installer from http://127.0.0.1:")
    assert "llemma-prove setup lean" in message and "\n" not in message
    assert not no_elan.exists()  # the installer never ran


async def test_a_failing_installer_names_its_last_lines(no_elan: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no curl: the installer refuses, as the real one
    with pytest.raises(ProverUnavailable, match=r"installer .* exited with 1: .*need 'curl'"):
        await install_elan(url=FAKE_INSTALLER.as_uri())


async def test_a_page_that_is_not_the_script_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_text("<html>captive portal</html>")
    with pytest.raises(ProverUnavailable, match="did not return the elan installer script"):
        await fetch_installer(page.as_uri())
