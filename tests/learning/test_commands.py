"""The `dataset` and `train` commands as a user runs them (in-process `main`)."""

from __future__ import annotations

import asyncio

import pytest

from llemma_prove.cli import EXIT_USER_ERROR, main
from llemma_prove.learning.leakage import read_training_record
from tests.learning.runs import scripted_run
from tests.learning.world import write_prompt


def _run(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


def test_dataset_then_train_commands(tmp_path, tiny_model_dir, capsys):
    run = asyncio.run(scripted_run(tmp_path / "run", ["p0", "p1"]))
    prompt = write_prompt(tmp_path / "prompt.json")
    assert _run(["dataset", str(run), "--out", str(tmp_path / "ds"), "--prompt", str(prompt)]) == 0
    assert "4 positive and 0 negative examples from 2 accepted proofs" in capsys.readouterr().out
    assert _run(["dataset", str(run), "--out", str(tmp_path / "ds"), "--prompt", str(prompt)]) == EXIT_USER_ERROR
    assert "already exists" in capsys.readouterr().err
    assert _run(["dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "ds2")]) == EXIT_USER_ERROR
    assert "not a run directory" in capsys.readouterr().err
    code = _run(["train", str(tmp_path / "ds"), "--model", str(tiny_model_dir), "--out", str(tmp_path / "m"),
                 "--max-steps", "2", "--batch-size", "2", "--grad-accum", "1", "--device", "cpu", "--no-progress"])
    assert code == 0
    assert f"use it with --model {tmp_path / 'm'}" in capsys.readouterr().out
    assert read_training_record(tmp_path / "m")["steps"] == 2
    assert _run(["train", str(tmp_path / "ds"), "--out", str(tmp_path / "m2"), "--method", "qlora"]) == EXIT_USER_ERROR
    assert "unknown training method" in capsys.readouterr().err
