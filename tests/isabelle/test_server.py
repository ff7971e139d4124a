"""Server lifecycle and the watchdog, with the fake PISA run as a real child process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from llemma_prove.errors import ProverUnavailable
from llemma_prove.processes import ProcessSpec, live_children
from llemma_prove.provers.isabelle.options import IsabelleOptions, jar_server_ports
from llemma_prove.provers.isabelle.prover import PisaProver
from llemma_prove.provers.isabelle.server import PisaPool, pisa_process_spec, write_context_theory
from llemma_prove.types import OutcomeKind
from tests.doubles.fake_pisa import FakeScript, Reply, closes, goes_to

from .conftest import ROOT_STATE, fake_process_factory, free_port, handshake_for, toy_script, toy_theorem

pytestmark = pytest.mark.usefixtures("no_leftover_children")

S1 = "proof (prove)\ngoal (1 subgoal):\n 1. 4 = 4"


def managed_prover(script: FakeScript, options: IsabelleOptions, tmp_path: Path, ports: int = 1) -> PisaProver:
    path = script.save(tmp_path / "script.json")
    options = replace(options, ports=tuple(free_port() for _ in range(ports)))
    pool = PisaPool.from_options(options, spec_factory=fake_process_factory(path))
    return PisaProver(options, pool=pool)


async def test_several_servers_on_distinct_ports_each_in_its_own_group(context_files, tmp_path) -> None:
    prover = managed_prover(toy_script(), context_files, tmp_path, ports=2)
    await prover.start()
    try:
        workers = prover.pool.workers
        assert len({w.port for w in workers}) == 2
        pids = [w.pid for w in workers]
        assert all(pids) and len(set(pids)) == 2
        assert all(os.getpgid(pid) == pid for pid in pids)  # each leads its own process group
        a = await prover.open(toy_theorem())
        b = await prover.open(toy_theorem())
        assert a.worker is not b.worker  # sessions spread over the servers
        assert (await a.initial_state()).text == ROOT_STATE
        assert (await b.initial_state()).text == ROOT_STATE
        await a.close()
        await b.close()
    finally:
        await prover.close()
    assert not live_children()


async def test_server_dying_mid_step_is_restarted_and_states_are_replayed(context_files, tmp_path) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "apply simp", goes_to(S1))
    script.add(S1, "by simp", Reply("die", once_marker=str(tmp_path / "died"), then=closes()))
    prover = managed_prover(script, context_files, tmp_path)
    await prover.start()
    try:
        worker = prover.pool.workers[0]
        first_pid = worker.pid
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        mid = await session.step(root, "apply simp")
        assert mid.kind is OutcomeKind.GOALS and mid.state is not None
        outcome = await session.step(mid.state, "by simp")  # the server process exits during this call
        assert outcome.kind is OutcomeKind.PROVED
        assert (tmp_path / "died").exists()
        assert worker.restarts == 1 and worker.generation == 2 and worker.pid != first_pid
        await session.close()
    finally:
        await prover.close()


async def test_watchdog_restarts_a_killed_server_and_the_search_goes_on(context_files, tmp_path) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "apply simp", goes_to(S1))
    script.add(S1, "by simp", closes())
    prover = managed_prover(script, context_files, tmp_path)
    await prover.start()
    try:
        worker = prover.pool.workers[0]
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        mid = await session.step(root, "apply simp")
        assert mid.state is not None
        os.killpg(worker.pid, signal.SIGKILL)  # the server dies while nobody talks to it
        for _ in range(400):  # up to 20 s on a loaded machine; usually well under a second
            if worker.generation == 2:
                break
            await asyncio.sleep(0.05)
        assert worker.generation == 2, "the watchdog did not restart the dead server"
        outcome = await session.step(mid.state, "by simp")  # rebuilt by replaying `apply simp`
        assert outcome.kind is OutcomeKind.PROVED
        await session.close()
    finally:
        await prover.close()


async def test_hung_server_is_restarted_after_the_deadline(context_files, tmp_path) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "by presburger", Reply("freeze", once_marker=str(tmp_path / "froze"), then=closes()))
    # deadline 2.5 s: long enough that even a loaded machine hands the step to the server before it passes
    options = replace(context_files, step_timeout_s=1.0, rpc_grace_s=1.5, ping_timeout_s=0.5)
    prover = managed_prover(script, options, tmp_path)
    await prover.start()
    try:
        worker = prover.pool.workers[0]
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        hung = await session.step(root, "by presburger")
        assert hung.kind is OutcomeKind.TIMEOUT
        assert (tmp_path / "froze").exists()  # the server did receive the step and froze on it
        assert worker.restarts == 1  # the ping after the deadline got no answer: restarted
        again = await session.step(root, "by presburger")
        assert again.kind is OutcomeKind.PROVED
        await session.close()
    finally:
        await prover.close()


async def test_too_many_restarts_give_up_with_error_outcomes(context_files, tmp_path) -> None:
    script = toy_script()
    script.add(ROOT_STATE, "by blast", Reply("die"))  # dies every time
    options = replace(context_files, max_restarts=1)
    prover = managed_prover(script, options, tmp_path)
    await prover.start()
    try:
        session = await prover.open(toy_theorem())
        root = await session.initial_state()
        outcome = await session.step(root, "by blast")
        assert outcome.kind is OutcomeKind.ERROR
        second = await session.step(root, "by blast")
        assert second.kind is OutcomeKind.ERROR and "giving up" in second.message
        await session.close()
    finally:
        await prover.close()


async def test_server_that_exits_at_start_is_named(context_files) -> None:
    def exits(port: int) -> ProcessSpec:
        return ProcessSpec(argv=[sys.executable, "-c", "print('no Isabelle here'); raise SystemExit(3)"], stderr_to_stdout=True)

    options = replace(context_files, ports=(free_port(),))
    prover = PisaProver(options, pool=PisaPool.from_options(options, spec_factory=exits))
    with pytest.raises(ProverUnavailable, match="exited with code 3.*no Isabelle here"):
        await prover.start()
    await prover.close()


async def test_missing_java_is_named(context_files) -> None:
    options = replace(context_files, ports=(free_port(),), java="no-such-java-binary", pisa_jar=Path("/nonexistent.jar"))
    prover = PisaProver(options, pool=PisaPool.from_options(options))
    with pytest.raises(ProverUnavailable, match="no-such-java-binary"):
        await prover.start()
    await prover.close()


def test_real_pisa_command_line(context_files, tmp_path) -> None:
    jar = tmp_path / "PISA-assembly-0.1.jar"
    options = replace(context_files, pisa_jar=jar)
    spec = pisa_process_spec(options, 9000)
    assert list(spec.argv) == ["java", "-cp", str(jar), "pisa.server.PisaOneStageServer9000"]
    assert spec.extra_env["ISABELLE_HOME"] == str(options.isabelle_home)
    assert spec.cwd == str(options.resolved_working_dir)


def test_ports_come_from_the_jar(tmp_path) -> None:
    import zipfile

    jar = tmp_path / "PISA-assembly-0.1.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        for name in ("PisaOneStageServer8000", "PisaOneStageServer9000", "PisaOneStageServer9000$", "OneStageBody"):
            zf.writestr(f"pisa/server/{name}.class", b"")
    assert jar_server_ports(jar) == (9000, 8000)
    options = IsabelleOptions(pisa_jar=jar, num_servers=2)
    assert options.resolved_ports() == (9000, 8000)
    assert IsabelleOptions(ports=(9100,)).resolved_ports() == (9100,)


def test_context_theory_template(tmp_path) -> None:
    path = tmp_path / "Interactive.thy"
    write_context_theory(path, ["Complex_Main", "HOL-Number_Theory.Number_Theory"])
    text = path.read_text()
    assert text.startswith("theory Interactive\n") and '"HOL-Number_Theory.Number_Theory"' in text


async def test_children_start_cleanly_while_grpc_is_busy(context_files) -> None:
    """gRPC's fork handlers used to abort forked children now and then (SIGABRT before exec)."""
    import shutil

    from llemma_prove.processes import ChildProcess
    from tests.doubles.fake_pisa import FakePisa

    true = shutil.which("true")
    if true is None:
        pytest.skip("no `true` executable")
    async with FakePisa(toy_script()) as fake:
        from llemma_prove.provers.isabelle.client import PisaClient

        client = PisaClient("127.0.0.1", fake.port)
        cfg = handshake_for(context_files)
        await client.handshake(cfg.isabelle_home, cfg.working_dir, cfg.theory_file, 5.0)  # gRPC threads running
        codes = []
        for _ in range(100):
            child = ChildProcess(ProcessSpec(argv=[true], stderr_to_stdout=True))
            await child.start()
            assert child.proc is not None
            codes.append(await child.proc.wait())
            await child.stop()
        await client.close()
    assert codes == [0] * 100
