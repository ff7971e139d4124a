"""The whole loop on CPU: tiny random Llama, scripted Lean stand-in, two rounds."""

from __future__ import annotations

import asyncio
import gzip
import json

from llemma_prove.commands.iterate import run_iterate
from llemma_prove.learning.dataset import read_examples
from llemma_prove.learning.leakage import read_training_record
from llemma_prove.store import load_run
from tests.learning.common import TRAIN, search_args
from tests.learning.world import A_NAMES, B_NAMES, middle, write_data, write_prompt


def _tactics_tried(run_dir, name):
    config, records = load_run(run_dir)
    record = next(r for r in records if r.name == name)
    with gzip.open(run_dir / record.graph, "rt", encoding="utf-8") as handle:
        graph = json.load(handle)
    return [e["tactic"] for e in graph["edges"]]


def test_two_rounds_end_to_end(tmp_path, tiny_model_dir, monkeypatch):
    data, prompt = write_data(tmp_path / "train.jsonl"), write_prompt(tmp_path / "prompt.json")
    loop = tmp_path / "loop"
    args = search_args(tiny_model_dir, data, prompt)
    summary = asyncio.run(run_iterate(args, loop, 2, TRAIN))

    rows = summary["rounds"]
    assert [r["round"] for r in rows] == [0, 1, 2]
    # The base model proves only what the script alone can; each trained model also the b* theorems.
    assert [(r["proved"], r["total"]) for r in rows] == [(2, 4), (4, 4), (4, 4)]
    assert [r["success_rate"] for r in rows] == [0.5, 1.0, 1.0]
    # The data grows: round 1 learns from the a* proofs, round 2 from every proof so far.
    assert rows[1]["train_examples"] == 4 and rows[2]["train_examples"] == 8
    names = {e["theorem"] for e in read_examples(loop / "round-2" / "dataset")}
    assert names == set(A_NAMES + B_NAMES)
    # Each round's checkpoint loaded and proposed: `exact h` on a b* state came from the model alone.
    for k in (1, 2):
        assert rows[k]["checkpoint"] == str(loop / f"round-{k}" / "model")
        assert rows[k]["model"] == str((loop / f"round-{k}" / "model").resolve())
        config, _ = load_run(loop / f"round-{k}" / "search")
        assert config.model.model_id == rows[k]["model"]
        record = read_training_record(loop / f"round-{k}" / "model")
        assert record["base_model"] == str(tiny_model_dir) and record["steps"] == TRAIN.max_steps
        assert {s["split"] for s in record["sources"]} == {"valid"}
    assert "exact h" not in _tactics_tried(loop / "round-0" / "search", "b0")
    assert "exact h" in _tactics_tried(loop / "round-1" / "search", "b0")
    # One directory records everything, and the plot is drawn.
    saved = json.loads((loop / "rounds.json").read_text())
    assert saved["rounds"] == rows
    assert (loop / "success.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 1 | 4/4 | 100.0% | 4 |" in (loop / "rounds.md").read_text()

    # Re-running the finished loop does nothing new; asking for one more round adds only that round.
    state = (loop / "state.json").read_text()
    again = asyncio.run(run_iterate(args, loop, 2, TRAIN))
    assert again["rounds"] == rows and (loop / "state.json").read_text() == state
    assert middle("b0") in {e["state"] for e in read_examples(loop / "round-2" / "dataset")}
