"""The Ray runner on a local Ray instance (started once for this module) with scripted test doubles.

Workers build their prover and proposer from `tests.distributed.doubles` (an importable factory), as
they would build Lean and a model on a real cluster; results stream into the driver's run store.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

ray = pytest.importorskip("ray")

from llemma_prove.distributed import ComponentFactory, FactoryError, RayCluster, RayOptions, RayRunner  # noqa: E402
from llemma_prove.errors import ProverUnavailable  # noqa: E402
from llemma_prove.runner import Runner, RunnerOptions  # noqa: E402
from llemma_prove.search import SearchConfig  # noqa: E402
from llemma_prove.store import RESULTS_FILE, RunStore  # noqa: E402
from tests.conftest import child_pids  # noqa: E402
from tests.distributed.doubles import build  # noqa: E402
from tests.runner.common import config, theorem  # noqa: E402

NAMES = [f"mathd_algebra_{i}" for i in range(10)]
DEAD = ["mathd_algebra_3", "mathd_algebra_7"]
TWO_WORKERS = dict(workers_per_node=2, searches_per_worker=3, show_progress=False, poll_s=0.1)


@pytest.fixture(scope="module")
def cluster():
    """One local Ray instance for the module; afterwards Ray must be down and its processes gone."""
    before = child_pids()
    with RayCluster(RayOptions(num_cpus=2)) as started:
        yield started
    assert not ray.is_initialized()
    deadline = time.monotonic() + 10
    while child_pids() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not child_pids() - before, "Ray left processes running after shutdown"


def _lines(run_dir) -> list[dict]:
    path = run_dir / RESULTS_FILE
    return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


def _factory(**kwargs) -> ComponentFactory:
    return ComponentFactory("tests.distributed.doubles:build", (NAMES,), kwargs)


async def test_results_match_the_local_runner_and_stream_in_as_each_theorem_ends(cluster, tmp_path):
    search = SearchConfig.paper()
    theorems = [theorem(n) for n in NAMES]
    local_prover, local_proposer = build(NAMES, dead=DEAD)
    with RunStore.open(tmp_path / "local", config(NAMES)) as store:
        await Runner(local_prover, local_proposer, search, store, RunnerOptions(concurrency=4, show_progress=False)).run(theorems)
    expected = {l["name"]: (l["status"], l["proof"]) for l in _lines(tmp_path / "local")}

    slow = NAMES[0]
    run_dir = tmp_path / "ray"
    with RunStore.open(run_dir, config(NAMES)) as store:
        runner = RayRunner(_factory(dead=DEAD, slow=[slow], slow_delay_s=1.5), search, store, RayOptions(**TWO_WORKERS))
        task = asyncio.create_task(runner.run(theorems))
        others_on_disk_before_slow = False
        while not task.done():
            await asyncio.sleep(0.05)
            names = {l["name"] for l in _lines(run_dir)}
            others_on_disk_before_slow |= names == set(NAMES) - {slow}
        outcome = task.result()
    got = {l["name"]: (l["status"], l["proof"]) for l in _lines(run_dir)}
    assert got == expected
    assert (outcome.attempted, outcome.proved, outcome.errors) == (10, 8, 0)
    assert others_on_disk_before_slow  # every other theorem was on disk while the slow one still ran
    assert _lines(run_dir)[-1]["name"] == slow
    assert len(runner.stats.workers) == 2 and all(w["proved"] > 0 for w in runner.stats.workers)
    assert all(f"theorem {n} " in (run_dir / "proofs.lean").read_text() for n in NAMES if n not in DEAD)


async def test_resume_skips_finished_theorems(cluster, tmp_path):
    run_dir = tmp_path / "run"
    first_half = [theorem(n) for n in NAMES[:4]]
    with RunStore.open(run_dir, config(NAMES)) as store:
        first = await RayRunner(_factory(), SearchConfig.paper(), store, RayOptions(**TWO_WORKERS)).run(first_half)
    assert first.attempted == 4
    with RunStore.open(run_dir, config(NAMES)) as store:
        # Opening one of the finished theorems again would kill a worker: they must not be sent at all.
        factory = _factory(crash=NAMES[:4])
        second = await RayRunner(factory, SearchConfig.paper(), store, RayOptions(**TWO_WORKERS)).run(
            [theorem(n) for n in NAMES])
    assert (second.skipped, second.attempted, second.errors) == (4, 6, 0)
    lines = _lines(run_dir)
    assert sorted(l["name"] for l in lines) == sorted(NAMES)  # each exactly once
    assert json.loads((run_dir / "summary.json").read_text())["overall"]["finished"] == len(NAMES)


async def test_a_dead_worker_costs_only_its_own_theorem(cluster, tmp_path):
    crash = NAMES[2]
    run_dir = tmp_path / "run"
    options = RayOptions(workers_per_node=2, searches_per_worker=1, show_progress=False, poll_s=0.1)
    with RunStore.open(run_dir, config(NAMES)) as store:
        outcome = await RayRunner(_factory(crash=[crash]), SearchConfig.paper(), store, options).run(
            [theorem(n) for n in NAMES])
    status = {l["name"]: l for l in _lines(run_dir)}
    assert status[crash]["status"] == "error" and "died" in status[crash]["error"]
    assert all(status[n]["status"] == "proved" for n in NAMES if n != crash)
    assert (outcome.attempted, outcome.errors) == (10, 1)


async def test_a_worker_that_cannot_start_stops_the_run_with_its_own_message(cluster, tmp_path):
    factory = ComponentFactory("tests.distributed.doubles:no_lean", (NAMES,))
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        with pytest.raises(ProverUnavailable, match="lake not found on this node"):
            await RayRunner(factory, SearchConfig.paper(), store, RayOptions(**TWO_WORKERS)).run(
                [theorem(n) for n in NAMES])
        assert not store.records()
    with pytest.raises(FactoryError, match="package.module:function"):
        ComponentFactory("no_colon_here")
    deadline = time.monotonic() + 5  # the workers were killed: their CPUs are free again
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert ray.available_resources().get("CPU", 0) == 2


async def test_minif2f_command_with_ray_records_every_theorem_and_the_cache(cluster, tmp_path, test_doubles):
    from llemma_prove.commands import minif2f as command
    from tests.runner.cli_doubles import DEAD_END, PROVED, outcome_for
    from tests.throughput.cli_data import NAMES as CLI_NAMES, write_statements

    args = command.Minif2fArgs(data=write_statements(tmp_path / "statements.jsonl"), run_dir=tmp_path / "run",
                               progress=False, expansions=5, concurrency=3, cache=True, ray="local", **test_doubles)
    assert await command.run_minif2f(args) == 0
    lines = {l["name"]: l for l in _lines(tmp_path / "run")}
    assert set(lines) == set(CLI_NAMES)
    for name, line in lines.items():  # the doubles decide each theorem's fate from its name alone
        expected = {PROVED: "proved", DEAD_END: "exhausted"}.get(outcome_for(name), "rejected")
        assert line["status"] == expected, name
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["tactic_cache"]["misses"] > 0  # the workers' cache counters reached the driver
    assert json.loads((tmp_path / "run" / "config.json").read_text())["engine"]["ray"] == "local"
    assert (tmp_path / "run" / command.CACHE_FILE).is_file()
