"""Fault suite with the stand-in REPL (test double): hangs, crashes, the memory cap, garbage output,
a slow import. After each fault the search goes on (states rebuilt by replay) and no child is left."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import psutil
import pytest

from llemma_prove.errors import ProverError
from llemma_prove.provers.lean import LeanOptions, LeanReplProver
from llemma_prove.provers.lean.messages import CommandRequest, CommandResponse
from llemma_prove.types import OutcomeKind, Theorem

from .conftest import fake_options, fake_repl

THEOREM = Theorem("toy", "theorem toy : True := by sorry", header="import Mathlib\nopen Real")


def received(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


async def _search_goes_on_after(fault_args: list[str], trigger: str, tmp_path: Path, **options) -> tuple[str, dict]:
    """Open, step to a state, hit the fault on it, then keep stepping from that state and from the root."""
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--synthetic", "--log", str(log), *fault_args,
                                         header=THEOREM.header, step_timeout_s=options.pop("step_timeout_s", 5.0),
                                         **options))
    await prover.start()
    try:
        repl = prover.pool.workers[0].repl
        session = await prover.open(THEOREM)
        root = await session.initial_state()
        first = await session.step(root, "intro a")
        assert first.kind is OutcomeKind.GOALS and first.state is not None
        pid, generation = repl.pid, repl.generation
        faulted = await session.step(first.state, trigger)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        after = await session.step(first.state, "simp")  # needs the state rebuilt in a new process
        assert after.kind is OutcomeKind.GOALS and after.state is not None
        assert after.state.text == "⊢ toy ▸ intro a ▸ simp"
        assert repl.generation == generation + 1 and repl.restarts == 1 and repl.pid != pid
        assert session.replayed_steps == 1
        proved = await session.step(root, "done")
        assert proved.kind is OutcomeKind.PROVED
        deeper = await session.step(after.state, "ring_nf")
        assert deeper.kind is OutcomeKind.GOALS
        await session.close()
        imports = [r for r in received(log) if r.get("cmd", "").startswith("import")]
        assert len(imports) == 2  # the header was imported once per process
        return faulted.message, {"kind": faulted.kind, "elapsed": faulted.elapsed_s}
    finally:
        await prover.close()


async def test_hang_times_out_restarts_and_the_search_continues(tmp_path: Path, no_leftover_children) -> None:
    started = time.monotonic()
    message, info = await _search_goes_on_after(["--hang-on", "HANG", "--spawn-grandchild"], "HANG", tmp_path,
                                                step_timeout_s=0.5)
    assert info["kind"] is OutcomeKind.TIMEOUT and 0.4 < info["elapsed"] < 3.0
    assert "0.5 s" in message
    assert time.monotonic() - started < 10.0


async def test_crash_is_an_error_outcome_and_the_search_continues(tmp_path: Path, no_leftover_children) -> None:
    message, info = await _search_goes_on_after(["--crash-on", "CRASH"], "CRASH", tmp_path)
    assert info["kind"] is OutcomeKind.ERROR
    assert "SIGSEGV" in message and "Stack overflow" in message


async def test_address_space_backstop_stops_a_runaway_allocation(tmp_path: Path, no_leftover_children) -> None:
    message, info = await _search_goes_on_after(["--oom-on", "BLOWUP"], "BLOWUP", tmp_path, memory_limit_mb=0,
                                                address_space_limit_mb=400)
    assert info["kind"] is OutcomeKind.ERROR
    assert "out of memory" in message and "address-space backstop of 400 MB" in message


async def test_resident_memory_over_the_limit_kills_the_request_and_the_search_continues(
        tmp_path: Path, no_leftover_children) -> None:
    """The stand-in holds 300 MB more resident memory, then works on: the watcher kills it mid-request."""
    message, info = await _search_goes_on_after(["--grow-on", "GROW=300", "--delay-on", "GROW=20"], "GROW", tmp_path,
                                                memory_limit_mb=200, memory_poll_s=0.05, step_timeout_s=30.0)
    assert info["kind"] is OutcomeKind.ERROR and info["elapsed"] < 10.0
    assert "MB resident, over the limit of 200 MB" in message


async def test_a_process_that_grew_between_requests_is_restarted_before_its_next_job(no_leftover_children) -> None:
    repl = fake_repl("--synthetic", "--grow-after-on", "GROW=300", header="import Mathlib", memory_limit_mb=200,
                     memory_poll_s=0.05)
    await repl.start()
    try:
        pid = repl.pid
        assert isinstance(await repl.request(CommandRequest("#eval GROW", env=repl.base_env), 10.0), CommandResponse)
        deadline = time.monotonic() + 10
        while repl.alive and time.monotonic() < deadline:  # idle, but over the limit: the watcher kills it
            await asyncio.sleep(0.02)
        assert not repl.alive and repl.needs_restart and repl.memory_restarts == 1 and repl.peak_resident_mb > 200
        await repl.ensure_ready()
        assert repl.pid != pid and repl.restarts == 1 and repl.resident_mb() < 200
        assert isinstance(await repl.request(CommandRequest("def x := 1", env=repl.base_env), 10.0), CommandResponse)
    finally:
        await repl.close()


async def test_mapped_but_untouched_memory_does_not_kill_a_healthy_repl(no_leftover_children) -> None:
    """Lean maps every imported `.olean` file: address space far above what is resident. The stand-in maps
    3 GB it never touches; with a 1 GB resident limit it must start and answer."""
    repl = fake_repl("--synthetic", "--reserve-mb", "3072", header="import Mathlib", memory_limit_mb=1024,
                     address_space_limit_mb=LeanOptions(memory_limit_mb=1024).resolved_address_space_limit_mb(),
                     memory_poll_s=0.05)
    await repl.start()
    try:
        await asyncio.sleep(0.3)  # a few polls of the watcher
        assert repl.alive and isinstance(await repl.request(CommandRequest("def x := 1", env=repl.base_env), 10.0),
                                         CommandResponse)
        limits = Path(f"/proc/{repl.pid}/limits").read_text()
        backstop = next(line for line in limits.splitlines() if line.startswith("Max address space")).split()[3]
        assert int(backstop) == (2 * 1024 + 16 * 1024) * 1024 * 1024
    finally:
        await repl.close()


async def test_garbage_output_is_a_protocol_error_and_the_search_continues(tmp_path: Path, no_leftover_children) -> None:
    message, info = await _search_goes_on_after(["--garbage-on", "GARBAGE"], "GARBAGE", tmp_path)
    assert info["kind"] is OutcomeKind.ERROR
    assert "protocol error" in message and "not JSON" in message


async def test_slow_import_gets_the_import_limit_not_the_step_limit(tmp_path: Path, no_leftover_children) -> None:
    options = fake_options("--synthetic", "--import-delay", "1.5", header=THEOREM.header, workers=2,
                           step_timeout_s=0.3, import_timeout_s=10.0)
    prover = LeanReplProver(options)
    started = time.monotonic()
    await prover.start()
    try:
        assert 1.5 <= time.monotonic() - started < 2.8  # both workers imported in parallel, not one after the other
        assert all(w.repl.last_import_s >= 1.5 for w in prover.pool.workers)
        session = await prover.open(THEOREM)
        outcome = await session.step(await session.initial_state(), "done")
        assert outcome.kind is OutcomeKind.PROVED
    finally:
        await prover.close()


async def test_import_past_its_limit_stops_the_start(no_leftover_children) -> None:
    options = fake_options("--synthetic", "--import-delay", "5", "--spawn-grandchild", header=THEOREM.header,
                           import_timeout_s=0.3, workers=2)
    prover = LeanReplProver(options)
    with pytest.raises(ProverError, match="importing the header took longer than 0.3 s"):
        await prover.start()
    await prover.close()


async def test_restart_after_max_requests_keeps_states_alive(tmp_path: Path, no_leftover_children) -> None:
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--synthetic", "--log", str(log), header=THEOREM.header,
                                         max_requests_per_process=6))
    await prover.start()
    try:
        repl = prover.pool.workers[0].repl
        session = await prover.open(THEOREM)
        state = await session.initial_state()
        texts = []
        for i in range(6):
            outcome = await session.step(state, f"step{i}")
            assert outcome.kind is OutcomeKind.GOALS and outcome.state is not None
            state = outcome.state
            texts.append(state.text)
        assert texts[-1] == "⊢ toy ▸ " + " ▸ ".join(f"step{i}" for i in range(6))
        assert repl.restarts >= 1 and repl.generation == repl.restarts + 1
        assert session.replayed_steps >= 1
        imports = [r for r in received(log) if r.get("cmd", "").startswith("import")]
        assert len(imports) == repl.generation
    finally:
        await prover.close()


async def test_closing_the_prover_kills_every_process_group(no_leftover_children) -> None:
    prover = LeanReplProver(fake_options("--synthetic", "--spawn-grandchild", header=THEOREM.header, workers=2))
    await prover.start()
    pids = [w.repl.pid for w in prover.pool.workers]
    assert all(pids)
    deadline = time.monotonic() + 5
    grandchildren: list[int] = []
    while len(grandchildren) < 2 and time.monotonic() < deadline:
        grandchildren = [c.pid for pid in pids for c in psutil.Process(pid).children()]
        time.sleep(0.02)
    assert len(grandchildren) == 2  # each stand-in runs a child of its own, as `lake exe` would
    await prover.close()

    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + 5  # SIGKILL reaches the grandchildren at once, their exit takes a moment
    while any(running(pid) for pid in pids + grandchildren) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(running(pid) for pid in pids + grandchildren)
