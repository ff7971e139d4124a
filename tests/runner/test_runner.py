"""The runner with scripted test doubles: proofs found and checked, rejections, errors, resume, cancel."""

from __future__ import annotations

import asyncio
import json

import pytest

from llemma_prove.errors import ProverError
from llemma_prove.runner import RunAborted, Runner, RunnerOptions
from llemma_prove.search import SearchConfig
from llemma_prove.store import RESULTS_FILE, RunStore
from tests.doubles.scripted import ScriptedProver
from tests.runner.common import config, doubles, theorem

NAMES = ["mathd_algebra_10", "mathd_numbertheory_3", "amc12a_2002_p6", "aime_1984_p1", "imo_1959_p1", "induction_1"]
QUIET = dict(show_progress=False)


def _lines(run_dir) -> list[dict]:
    return [json.loads(l) for l in (run_dir / RESULTS_FILE).read_text().splitlines()]


def _summary(run_dir) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


async def test_runs_every_theorem_and_counts_only_accepted_proofs(tmp_path):
    prover, proposer = doubles(NAMES, dead=["aime_1984_p1"], reject=["imo_1959_p1"])
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        outcome = await Runner(prover, proposer, SearchConfig.paper(), store,
                               RunnerOptions(concurrency=3, **QUIET)).run([theorem(n) for n in NAMES])
    assert (outcome.attempted, outcome.proved, outcome.errors, outcome.skipped) == (6, 4, 0, 0)
    status = {l["name"]: l["status"] for l in _lines(tmp_path / "run")}
    assert status == {
        "mathd_algebra_10": "proved", "mathd_numbertheory_3": "proved", "amc12a_2002_p6": "proved",
        "aime_1984_p1": "exhausted", "imo_1959_p1": "rejected", "induction_1": "proved",
    }
    rejected = next(l for l in _lines(tmp_path / "run") if l["name"] == "imo_1959_p1")
    assert rejected["proved"] is False and rejected["verification"]["verdict"] == "rejected"
    assert rejected["proof"] == ["intro h", "exact h"]  # what the search found is kept, not counted
    proofs = (tmp_path / "run" / "proofs.lean").read_text()
    assert "imo_1959_p1" not in proofs and "aime_1984_p1" not in proofs
    assert all(f"theorem {n} " in proofs for n in status if status[n] == "proved")
    summary = _summary(tmp_path / "run")
    assert summary["overall"] == {"proved": 4, "finished": 6, "total": 6, "rate": round(4 / 6, 6)}
    assert summary["by_family"]["imo"] == {"proved": 0, "finished": 1, "total": 1, "rate": 0.0}
    assert summary["statuses"]["rejected"] == 1
    assert all(s.closed for s in prover.sessions)


class _CountingProver(ScriptedProver):
    """Tracks how many theorems are open at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.open_now = 0
        self.most_open = 0

    async def open(self, theorem):
        session = await super().open(theorem)
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        original = session.close

        async def close() -> None:
            self.open_now -= 1
            await original()

        session.close = close
        return session


async def test_concurrency_runs_searches_at_the_same_time(tmp_path):
    base, proposer = doubles(NAMES, delay_s=0.02)
    prover = _CountingProver(base.script, base.roots)
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        await Runner(prover, proposer, SearchConfig.paper(), store,
                     RunnerOptions(concurrency=3, **QUIET)).run([theorem(n) for n in NAMES])
    assert prover.most_open == 3


class _ExplodingProposer:
    """Raises a non-protocol exception for one theorem: a bug there must not end the run."""

    def __init__(self, inner, victim: str) -> None:
        self.inner, self.victim = inner, victim

    async def propose(self, requests, params):
        if any(r.theorem.name == self.victim for r in requests):
            raise RuntimeError("boom in the proposer")
        return await self.inner.propose(requests, params)


async def test_a_crash_in_one_theorem_is_that_theorems_error(tmp_path):
    prover, proposer = doubles(NAMES[:3])
    names = NAMES[:3] + ["not_in_script"]
    with RunStore.open(tmp_path / "run", config(names)) as store:
        outcome = await Runner(prover, _ExplodingProposer(proposer, NAMES[1]), SearchConfig.paper(), store,
                               RunnerOptions(**QUIET)).run([theorem(n) for n in names])
    lines = {l["name"]: l for l in _lines(tmp_path / "run")}
    assert lines[NAMES[1]]["status"] == "error" and "RuntimeError: boom in the proposer" in lines[NAMES[1]]["error"]
    assert lines["not_in_script"]["status"] == "error" and "not in the script" in lines["not_in_script"]["error"]
    assert lines[NAMES[0]]["status"] == lines[NAMES[2]]["status"] == "proved"
    assert outcome.errors == 2 and outcome.proved == 2


async def test_resume_skips_finished_theorems(tmp_path):
    prover, proposer = doubles(NAMES)
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        await Runner(prover, proposer, SearchConfig.paper(), store, RunnerOptions(**QUIET)).run(
            [theorem(n) for n in NAMES[:2]])
    calls = len(prover.calls)
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        outcome = await Runner(prover, proposer, SearchConfig.paper(), store, RunnerOptions(**QUIET)).run(
            [theorem(n) for n in NAMES])
    assert outcome.skipped == 2 and outcome.attempted == 4
    assert {c[0] for c in prover.calls[calls:]} == set(NAMES[2:])  # no step on a finished theorem
    assert sorted(l["name"] for l in _lines(tmp_path / "run")) == sorted(NAMES)


async def test_too_many_errors_in_a_row_stop_the_run(tmp_path):
    prover, proposer = doubles([])  # every theorem fails to open
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        with pytest.raises(RunAborted, match=r"3 theorems in a row ended in an error.*--retry-errors"):
            await Runner(prover, proposer, SearchConfig.paper(), store,
                         RunnerOptions(max_consecutive_errors=3, **QUIET)).run([theorem(n) for n in NAMES])
    assert len(_lines(tmp_path / "run")) == 3
    assert _summary(tmp_path / "run")["overall"]["finished"] == 3


async def test_cancel_leaves_a_consistent_store(tmp_path):
    prover, proposer = doubles(NAMES, delay_s=0.05)
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        runner = Runner(prover, proposer, SearchConfig.paper(), store, RunnerOptions(concurrency=2, **QUIET))
        task = asyncio.create_task(runner.run([theorem(n) for n in NAMES]))
        while len(store.finished()) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    lines = _lines(tmp_path / "run")
    assert 2 <= len(lines) < len(NAMES)
    assert len({l["name"] for l in lines}) == len(lines)
    summary = _summary(tmp_path / "run")
    assert summary["overall"]["finished"] == len(lines)
    assert summary["overall"]["proved"] == sum(l["proved"] for l in lines)
    assert all(s.closed for s in prover.sessions)  # interrupted searches closed their sessions


async def test_hard_cap_per_theorem_records_a_timeout(tmp_path):
    prover, proposer = doubles(["slow"], delay_s=5.0)
    with RunStore.open(tmp_path / "run", config(["slow"])) as store:
        await Runner(prover, proposer, SearchConfig.paper(), store,
                     RunnerOptions(theorem_timeout_s=0.2, **QUIET)).run([theorem("slow")])
    (line,) = _lines(tmp_path / "run")
    assert line["status"] == "timeout" and "hard cap of 0.2 s" in line["error"]
    assert all(s.closed for s in prover.sessions)


async def test_a_prover_error_while_verifying_is_not_a_proof(tmp_path):
    prover, proposer = doubles(["t"])

    async def broken_verify(theorem, proof):
        raise ProverError("checker process died")

    prover.verify = broken_verify
    with RunStore.open(tmp_path / "run", config(["t"])) as store:
        outcome = await Runner(prover, proposer, SearchConfig.paper(), store, RunnerOptions(**QUIET)).run(
            [theorem("t")])
    (line,) = _lines(tmp_path / "run")
    assert outcome.proved == 0 and line["proved"] is False
    assert line["verification"]["verdict"] == "unchecked"
