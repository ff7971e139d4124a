"""Fixtures for the Isabelle backend tests: a toy theorem, context files, a prover on the fake PISA."""

from __future__ import annotations

import contextlib
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import AsyncIterator

import pytest

from llemma_prove.processes import ProcessSpec
from llemma_prove.provers.isabelle.options import IsabelleOptions
from llemma_prove.provers.isabelle.prover import PisaProver
from llemma_prove.provers.isabelle.server import HandshakeConfig, PisaPool, PisaWorker
from llemma_prove.types import Language, Theorem
from tests.doubles.fake_pisa import FakePisa, FakeScript

ROOT = Path(__file__).resolve().parents[2]
FAKE_PISA = ROOT / "tests" / "doubles" / "fake_pisa.py"
FAKE_SERVER = Path(__file__).with_name("fake_isabelle_server.py")


def install_fake_isabelle(home: Path) -> None:
    """Make `<home>/bin/isabelle` the stand-in `isabelle server` (tests/isabelle/fake_isabelle_server.py)."""
    exe = home / "bin" / "isabelle"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text(f"#!{sys.executable}\n" + FAKE_SERVER.read_text())
    exe.chmod(0o755)


def isabelle_script(path: Path, **plan: object) -> dict[str, str]:
    """Write a stand-in Isabelle script (see fake_isabelle_server.py); the env that selects it."""
    import json

    path.write_text(json.dumps(plan))
    return {"FAKE_ISABELLE_SCRIPT": str(path)}

HEADER = "theory toy_add imports Complex_Main\nbegin"
STATEMENT = 'theorem toy_add:\n  fixes x :: nat\n  assumes h0: "x + 3 = 7"\n  shows "x = 4"'
ROOT_STATE = "proof (prove)\ngoal (1 subgoal):\n 1. x = 4"
OPEN_TEXT = f"{HEADER}\n\n{STATEMENT}"  # what the session sends to open the theorem


def toy_theorem(**changes: object) -> Theorem:
    base = Theorem(name="toy_add", statement=STATEMENT, header=HEADER, split="test", language=Language.ISABELLE)
    return replace(base, **changes) if changes else base


def toy_script(**limits: float) -> FakeScript:
    """The theorem opens at ROOT_STATE; nothing else is scripted yet."""
    script = FakeScript(**limits)
    from tests.doubles.fake_pisa import goes_to

    script.add("", OPEN_TEXT, goes_to(ROOT_STATE))
    return script


@pytest.fixture
def context_files(tmp_path: Path) -> IsabelleOptions:
    """A fake Isabelle home (its `isabelle server` the stand-in), working directory and context theory."""
    home = tmp_path / "Isabelle2022"
    (home / "bin").mkdir(parents=True)
    install_fake_isabelle(home)
    work = tmp_path / "work"
    work.mkdir()
    theory = work / "Interactive.thy"
    theory.write_text("theory Interactive imports Complex_Main begin end\n")
    return IsabelleOptions(
        isabelle_home=home,
        working_dir=work,
        theory_file=theory,
        official_check=True,
        rpc_grace_s=0.5,
        ping_timeout_s=0.5,
        watchdog_interval_s=0.1,
        startup_timeout_s=20.0,
    )


def handshake_for(options: IsabelleOptions) -> HandshakeConfig:
    return HandshakeConfig(
        str(options.isabelle_home), str(options.resolved_working_dir), str(options.resolved_theory_file), 10.0
    )


@contextlib.asynccontextmanager
async def prover_on_fake(script: FakeScript, options: IsabelleOptions) -> AsyncIterator[tuple[PisaProver, FakePisa]]:
    """A started PisaProver whose one (external) server is an in-process fake PISA."""
    fake = FakePisa(script)
    port = await fake.start()
    worker = PisaWorker(
        "127.0.0.1",
        port,
        handshake_for(options),
        ping_timeout_s=options.ping_timeout_s,
        max_restarts=options.max_restarts,
        max_message_bytes=options.max_message_bytes,
    )
    prover = PisaProver(options, pool=PisaPool([worker], options.watchdog_interval_s))
    try:
        await prover.start()
        yield prover, fake
    finally:
        await prover.close()
        await fake.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fake_process_factory(script_path: Path):
    """Spec factory that runs the fake PISA as a child process (instead of java -cp PISA.jar)."""

    def factory(port: int) -> ProcessSpec:
        return ProcessSpec(
            argv=[sys.executable, str(FAKE_PISA), "--port", str(port), "--script", str(script_path)],
            stderr_to_stdout=True,
            extra_env={"PYTHONPATH": str(ROOT)},
        )

    return factory
