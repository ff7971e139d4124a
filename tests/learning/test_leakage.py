"""No leakage: held-out splits never become training data; evaluation refuses a model trained on them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llemma_prove.cli import EXIT_USER_ERROR, main
from llemma_prove.data.minif2f import StatementSource
from llemma_prove.learning.leakage import (
    TRAINING_FILE,
    TRAINING_FORMAT,
    LeakageError,
    overlap,
    refuse_holdout_split,
    refuse_leaky_model,
)
from tests.conftest import DOUBLES_ARGS
from tests.conftest import ROOT

V24 = {"statement_set": "lean4-v4.24.0", "commit": "5746b7d6" * 5, "sha256": None}
V9 = {"statement_set": "lean4-v4.9.0", "commit": "2c4ba911" * 5, "sha256": None}
LOCAL_A = {"statement_set": "local", "sha256": "a" * 64}
LOCAL_B = {"statement_set": "local", "sha256": "b" * 64}


def source(split, statements, theorems, run="r"):
    return {"run": run, "split": split, "statements": statements, "theorems": list(theorems)}


def model_dir(tmp_path: Path, *sources) -> Path:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / TRAINING_FILE).write_text(json.dumps({"format": TRAINING_FORMAT, "sources": list(sources)}))
    return folder


def test_overlap_rules():
    # Same split of two formalisations of miniF2F: the same problems.
    assert overlap([source("valid", V24, ["mathd_algebra_1"])], "valid", V9, ["mathd_algebra_2"])
    assert not overlap([source("valid", V24, ["mathd_algebra_1"])], "test", V9, ["amc12_2000_p1"])
    # A trained theorem name among the evaluated ones, whatever the files.
    reasons = overlap([source("valid", LOCAL_A, ["amc12_2000_p1"])], "test", V24, ["amc12_2000_p1", "x"])
    assert reasons and "amc12_2000_p1" in reasons[0]
    # The same statement file and split.
    assert overlap([source("valid", LOCAL_A, ["t1"])], "valid", LOCAL_A, ["t2"])
    assert not overlap([source("valid", LOCAL_A, ["t1"])], "valid", LOCAL_B, ["t2"])
    assert not overlap([source("valid", LOCAL_A, ["t1"])], "test", LOCAL_A, ["t2"])


def test_evaluation_refuses_a_model_trained_on_the_evaluated_split(tmp_path):
    leaky = model_dir(tmp_path, source("valid", LOCAL_A, ["w1"]), source("test", V9, ["aime_1983_p1"]))
    test_set = StatementSource(statement_set="lean4-v4.24.0", commit=V24["commit"])
    with pytest.raises(LeakageError, match="refusing to evaluate"):
        refuse_leaky_model(str(leaky), "test", test_set, ["imo_1959_p1"])
    refuse_leaky_model(str(leaky), "valid", StatementSource(statement_set="local", sha256="c" * 64), ["z"])
    refuse_leaky_model("EleutherAI/llemma_7b", "test", test_set, ["imo_1959_p1"])  # not a directory: no record
    (leaky / TRAINING_FILE).write_text("{not json")
    with pytest.raises(LeakageError, match="unreadable"):
        refuse_leaky_model(str(leaky), "valid", test_set, ["z"])
    with pytest.raises(LeakageError, match="test split"):
        refuse_holdout_split("test")


def _minif2f(tmp_path: Path, model: Path, capsys) -> tuple[int, str]:
    rows = [{"name": f"th{i}", "split": "test", "header": "import Mathlib\n\n",
             "formal_statement": f"theorem th{i} : True := by sorry"} for i in range(2)]
    data = tmp_path / "test.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SystemExit) as exit_info:
        main(["minif2f", "--data", str(data), "--split", "test", "--model", str(model), "--no-progress",
              "--run-dir", str(tmp_path / "run"), *DOUBLES_ARGS])
    return exit_info.value.code, capsys.readouterr().err


def test_minif2f_command_refuses_a_leaky_model_before_loading_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    leaky = model_dir(tmp_path, source("valid", LOCAL_A, ["th1"], run="/runs/x"))
    code, err = _minif2f(tmp_path, leaky, capsys)
    assert code == EXIT_USER_ERROR
    assert "refusing to evaluate" in err and "th1" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
    # The same command with a model trained elsewhere runs (the doubles ignore the model).
    (leaky / TRAINING_FILE).write_text(json.dumps({"format": TRAINING_FORMAT,
                                                   "sources": [source("valid", LOCAL_B, ["w1"])]}))
    code, err = _minif2f(tmp_path, leaky, capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "results.jsonl").exists()
