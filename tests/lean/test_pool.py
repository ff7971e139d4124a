"""The worker pool on the stand-in REPL (test double): many searches, one worker per search, bounded
queues, idle workers taking over waiting searches, the header imported once per process."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from llemma_prove.errors import ProverError
from llemma_prove.provers.lean import LeanOptions, LeanReplProver
from llemma_prove.provers.lean.options import default_memory_limit_mb, default_workers, total_memory_mb
from llemma_prove.provers.lean.pool import ReplPool
from llemma_prove.types import OutcomeKind, Theorem

from .conftest import fake_options, fake_repl

HEADER = "import Mathlib\nopen Real"


def theorem(i: int) -> Theorem:
    return Theorem(f"t{i}", f"theorem t{i} : True := by sorry", header=HEADER)


def received(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def test_defaults_come_from_the_machine() -> None:
    import os

    workers = default_workers()
    assert 1 <= workers <= (os.cpu_count() or 1)
    assert workers <= max(1, total_memory_mb() // 8192)
    cap = default_memory_limit_mb()
    assert 8192 <= cap <= 20480
    options = LeanOptions()
    assert options.resolved_workers() == workers and options.resolved_memory_limit_mb() == cap
    assert LeanOptions(memory_limit_mb=0).resolved_memory_limit_mb() is None


async def test_many_searches_each_on_one_worker(tmp_path: Path, no_leftover_children) -> None:
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--synthetic", "--log", str(log), header=HEADER, workers=2,
                                         rebalance=False))
    await prover.start()
    try:
        sessions = [await prover.open(theorem(i)) for i in range(6)]
        assert sorted(w.sessions for w in prover.pool.workers) == [3, 3]

        async def search(session) -> str:
            state = await session.initial_state()
            for k in range(4):
                outcome = await session.step(state, f"s{k}")
                assert outcome.kind is OutcomeKind.GOALS and outcome.state is not None
                state = outcome.state
            done = await session.step(state, "done")
            assert done.kind is OutcomeKind.PROVED
            return state.text

        texts = await asyncio.gather(*(search(s) for s in sessions))
        for i, text in enumerate(texts):
            assert text == f"⊢ t{i} ▸ s0 ▸ s1 ▸ s2 ▸ s3"
        for session in sessions:  # every state of a search lives in its worker's process
            token = session.worker.repl.token
            assert all(node.token == token for node in session._nodes)
            assert session.replayed_steps == 0
        imports = [r for r in received(log) if r.get("cmd", "").startswith("import")]
        assert len(imports) == 2  # one header import per process, shared by all theorems
        assert all(w.jobs_done > 0 for w in prover.pool.workers)
    finally:
        await prover.close()


async def test_an_idle_worker_takes_over_a_waiting_search(no_leftover_children) -> None:
    prover = LeanReplProver(fake_options("--synthetic", "--delay-on", "slow=1.5", header=HEADER, workers=2))
    await prover.start()
    try:
        session = await prover.open(theorem(0))
        root = await session.initial_state()
        first = session.worker
        started = time.monotonic()
        slow = asyncio.ensure_future(session.step(root, "slow"))
        await asyncio.sleep(0.1)  # the slow tactic now occupies the first worker
        quick = await session.step(root, "quick")
        waited = time.monotonic() - started
        assert quick.kind is OutcomeKind.GOALS and quick.state is not None and quick.state.text == "⊢ t0 ▸ quick"
        assert waited < 1.2, "the quick step waited for the slow one although a worker was idle"
        assert session.worker is not first and session.moves == 1
        assert (await slow).kind is OutcomeKind.GOALS
        assert sorted(w.sessions for w in prover.pool.workers) == [0, 1]
        further = await session.step(quick.state, "more")  # the search goes on where it moved
        assert further.kind is OutcomeKind.GOALS and further.state.text == "⊢ t0 ▸ quick ▸ more"
    finally:
        await prover.close()


async def test_queues_are_bounded_and_all_work_completes(no_leftover_children) -> None:
    repl = fake_repl("--synthetic", header="")
    pool = ReplPool([repl], max_queue=2)
    await pool.start()
    try:
        worker = pool.workers[0]
        seen: list[int] = []

        async def job(r):
            seen.append(worker.queue.qsize())
            await asyncio.sleep(0.01)
            return r.token

        results = await asyncio.gather(*(pool.run(worker, job) for _ in range(20)))
        assert len(results) == 20 and max(seen) <= 2
    finally:
        await pool.close()


async def test_jobs_after_close_fail_cleanly(no_leftover_children) -> None:
    prover = LeanReplProver(fake_options("--synthetic", header=HEADER))
    await prover.start()
    session = await prover.open(theorem(1))
    root = await session.initial_state()
    await prover.close()
    with pytest.raises(ProverError):
        await session.step(root, "s")


async def test_each_process_imports_the_header_once_and_reuses_its_env(tmp_path: Path, no_leftover_children) -> None:
    """No pickled header (at REPL v4.24.0 `unpickleEnvFrom` skips Mathlib's initializers, re-imports
    anyway, and kills the process when it fails): each process imports once, every theorem reuses the env."""
    assert not {"use_pickle", "pickle_dir"} & set(LeanOptions.__dataclass_fields__)
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--synthetic", "--log", str(log), header=HEADER, workers=2))
    await prover.start()
    try:
        for i in range(4):
            session = await prover.open(theorem(i))
            assert (await session.step(await session.initial_state(), "done")).kind is OutcomeKind.PROVED
            await session.close()
        base_envs = {w.repl.base_env for w in prover.pool.workers}
    finally:
        await prover.close()
    requests = received(log)
    assert sum(1 for r in requests if r.get("cmd", "").startswith("import")) == 2
    assert not any("pickleTo" in r or "unpickleEnvFrom" in r for r in requests)
    statements = [r for r in requests if r.get("cmd", "").startswith("theorem")]
    assert len(statements) == 4 and {r["env"] for r in statements} <= base_envs


async def test_one_session_steps_on_several_workers_at_once(no_leftover_children) -> None:
    """Improved mode checks an expansion's candidates at once: the steps spread over the workers, each
    worker rebuilds the states it lacks, and every outcome is the one a single worker would give."""
    prover = LeanReplProver(fake_options("--synthetic", "--delay-on", "slow=0.3", header=HEADER, workers=3))
    await prover.start()
    try:
        session = await prover.open(theorem(0))
        assert session.parallelism == 3
        root = await session.initial_state()
        first = await session.step(root, "s0")
        assert first.state is not None
        outcomes = await asyncio.gather(*(session.step(first.state, f"slow{k}") for k in range(3)),
                                        *(session.step(first.state, f"s{k}") for k in range(1, 4)))
        assert [o.state.text for o in outcomes] == [f"⊢ t0 ▸ s0 ▸ slow{k}" for k in range(3)] + [
            f"⊢ t0 ▸ s0 ▸ s{k}" for k in range(1, 4)]
        assert session.moves >= 1 and session.replayed_steps >= 1  # other workers rebuilt `s0` by replay
        # Children made on different workers are stepped from anywhere.
        deeper = await asyncio.gather(*(session.step(o.state, "done") for o in outcomes))
        assert all(d.kind is OutcomeKind.PROVED for d in deeper)
    finally:
        await prover.close()


async def test_a_worker_whose_process_was_killed_is_the_last_idle_choice(no_leftover_children) -> None:
    """A check cancelled mid-request (another check found the proof) kills its REPL; the final check,
    which takes an idle worker, must not land there and wait for a restart while a live one is idle."""
    prover = LeanReplProver(fake_options("--synthetic", "--delay-on", "slow=30", header=HEADER, workers=2,
                                         rebalance=False))
    await prover.start()
    try:
        session = await prover.open(theorem(0))
        root = await session.initial_state()
        killed = session.worker
        assert killed is prover.pool.workers[0]
        slow = asyncio.ensure_future(session.step(root, "slow"))
        while not killed.busy:
            await asyncio.sleep(0.01)
        slow.cancel()
        await asyncio.gather(slow, return_exceptions=True)
        while not killed.idle:
            await asyncio.sleep(0.01)
        assert killed.repl.needs_restart and not prover.pool.workers[1].repl.needs_restart
        assert prover.pool.idle_worker() is prover.pool.workers[1]
        assert prover.pool.idle_worker(exclude=prover.pool.workers[1]) is killed  # still used when alone
    finally:
        await prover.close()
