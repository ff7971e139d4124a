"""`iterate` killed with SIGKILL in each phase, then resumed: the same end state as an uninterrupted loop.

Search and training are killed in a real `llemma-prove iterate` process (search: after its first
result line; training: once a checkpoint is on disk). Building a dataset takes milliseconds, too little
to aim a kill at, so the states a kill can leave there (a half-written temporary directory, a complete
but unmarked dataset) are made by hand and the loop resumed over them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llemma_prove.learning.iterate import IterateConfig, IterationDir, run_loop
from llemma_prove.learning.train import TrainConfig
from tests.conftest import ROOT, cli_env
from tests.learning.common import SEARCH_FLAGS, TRAIN_FLAGS
from tests.learning.runs import scripted_run
from tests.learning.world import write_data, write_prompt


def _env(delay: float) -> dict[str, str]:
    env = cli_env()
    env["LLEMMA_PROVE_TEST_STEP_DELAY"] = str(delay)
    return env


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().split(b"\n") if line.strip()) if path.exists() else 0


def _kill_when(command: list[str], ready, delay: float, what: str) -> None:
    proc = subprocess.Popen(command, cwd=ROOT, env=_env(delay), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"iterate ended before {what}: {err.decode()[-2000:]}")
        assert time.monotonic() < deadline, f"never reached {what}"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _complete(checkpoint: Path) -> bool:
    try:
        return "global_step" in json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False


@pytest.mark.slow
def test_iterate_killed_in_search_and_in_training_resumes(tmp_path, tiny_model_dir):
    data, prompt = write_data(tmp_path / "train.jsonl"), write_prompt(tmp_path / "prompt.json")
    loop = tmp_path / "loop"
    command = [sys.executable, "-m", "llemma_prove.cli", "iterate", "--run-dir", str(loop), "--rounds", "1",
               "--split", "valid", "--data", str(data), "--model", str(tiny_model_dir), "--prompt", str(prompt),
               *SEARCH_FLAGS, *TRAIN_FLAGS]
    state = loop / "state.json"

    def phases() -> dict:
        return json.loads(state.read_text())["phases"] if state.exists() else {}

    _kill_when(command, lambda: _lines(loop / "round-0" / "search" / "results.jsonl") >= 1, 0.3, "round 0's search")
    assert "0:search" not in phases()
    _kill_when(command, lambda: _complete(loop / "round-1" / "model" / "checkpoints" / "checkpoint-20"), 0.0,
               "round 1's first checkpoint")
    assert "1:dataset" in phases() and "1:train" not in phases()
    done = subprocess.run(command, cwd=ROOT, env=_env(0.0), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    final = phases()
    assert final["1:train"]["resumed_from"].endswith("checkpoint-20") and final["1:train"]["steps"] == 60
    rows = json.loads((loop / "rounds.json").read_text())["rounds"]
    assert [(r["proved"], r["total"]) for r in rows] == [(2, 4), (4, 4)]
    assert [r["train_examples"] for r in rows] == [0, 4]
    for k in range(2):  # every theorem exactly once per round, none lost to a kill
        records = [json.loads(l) for l in (loop / f"round-{k}" / "search" / "results.jsonl").read_text().splitlines()]
        assert sorted(r["name"] for r in records) == ["a0", "a1", "b0", "b1"]
    assert "round 1: 4/4 proved" in done.stdout


def test_leftovers_of_a_killed_dataset_build_are_rebuilt(tmp_path, tiny_model_dir):
    prompt = write_prompt(tmp_path / "prompt.json")
    names = ["p0", "p1"]

    async def search(k: int, model: str, run_dir: Path) -> None:
        await scripted_run(run_dir, names, model=model)

    config = IterateConfig(base_model=str(tiny_model_dir), split="valid", statements="scripted", search={},
                           train=TrainConfig(max_steps=2, batch_size=2, grad_accum=1, save_steps=10), rounds=1,
                           prompt=str(prompt))
    loop = IterationDir(tmp_path / "loop")
    # Round 0 done, then a kill while round 1's data was being written, or after it, before its marker.
    asyncio.run(search(0, str(tiny_model_dir), loop.search_dir(0)))
    state = {"phases": {}}
    loop.path.mkdir(parents=True, exist_ok=True)
    loop.mark(state, "0:search", {"run_dir": str(loop.search_dir(0)), "proved": 2, "finished": 2, "total": 2,
                                  "rate": 1.0, "model": str(tiny_model_dir)})
    from llemma_prove.learning.iterate import CONFIG_FILE

    (loop.path / CONFIG_FILE).write_text(json.dumps({"identity": config.identity(), "rounds": 1}))
    half = loop.round_dir(1) / ".dataset.tmp-12345"
    half.mkdir(parents=True)
    (half / "examples.jsonl").write_text('{"torn": ')
    unmarked = loop.dataset_dir(1)
    unmarked.mkdir()
    (unmarked / "examples.jsonl").write_text("stale\n")

    summary = asyncio.run(run_loop(loop.path, config, search, device="cpu", progress=False))
    assert not half.exists()
    assert [r["train_examples"] for r in summary["rounds"]] == [0, 4]
    assert (unmarked / "examples.jsonl").read_text().count("\n") == 4
    assert (unmarked / "dataset.json").exists()
