"""Fine-tuning the tiny model: the saved directory loads and proposes; resume; lineage; refusals."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest

from llemma_prove.errors import UserError
from llemma_prove.learning.dataset import build_dataset
from llemma_prove.learning.leakage import TRAINING_FILE, read_training_record
from llemma_prove.learning.train import CHECKPOINTS_DIR, TrainConfig, train
from llemma_prove.types import DecodingMethod, GoalState, ProposalRequest, SamplingParams, Theorem
from tests.learning.runs import scripted_run
from tests.learning.world import write_prompt


class StopAfter:
    """A Trainer callback that interrupts training after a step, as a crash would (checkpoints stay)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def __getattr__(self, name):  # every other TrainerCallback event: do nothing
        return lambda *args, **kwargs: None

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            raise KeyboardInterrupt


@pytest.fixture
def dataset_dir(tmp_path):
    async def make():
        run = await scripted_run(tmp_path / "run", ["p0", "p1"])
        await build_dataset([run], tmp_path / "ds", prompt=write_prompt(tmp_path / "prompt.json"))
    asyncio.run(make())
    return tmp_path / "ds"


def test_full_fine_tuning_resumes_and_the_model_proposes(tmp_path, dataset_dir, tiny_model_dir):
    out = tmp_path / "model"
    config = TrainConfig(method="full", max_steps=4, save_steps=2, batch_size=2, grad_accum=1, learning_rate=1e-3)
    with pytest.raises(KeyboardInterrupt):
        train(dataset_dir, str(tiny_model_dir), out, config, device="cpu", progress=False,
              extra_callbacks=(StopAfter(3),))
    assert not (out / TRAINING_FILE).exists()  # unfinished: no record, so no one can use it as done
    assert (out / CHECKPOINTS_DIR / "checkpoint-2").is_dir()
    with pytest.raises(UserError, match="other settings"):
        train(dataset_dir, str(tiny_model_dir), out, TrainConfig(method="full", max_steps=5), device="cpu")
    outcome = train(dataset_dir, str(tiny_model_dir), out, config, device="cpu", progress=False)
    assert outcome.resumed_from.endswith("checkpoint-2") and outcome.steps == 4
    record = read_training_record(out)
    assert record["method"] == "full" and record["examples"] == 4 and record["sources"][0]["theorems"] == ["p0", "p1"]

    from llemma_prove.proposers import TacticProposer, build_language_model
    from llemma_prove.proposers.prompts import PromptTemplate

    model = build_language_model("hf", model_id=str(out), device="cpu")
    proposer = TacticProposer(model, PromptTemplate.load(tmp_path / "prompt.json"))
    params = SamplingParams(n=2, method=DecodingMethod.BEAM, max_new_tokens=6, stop=("---",))
    request = ProposalRequest(Theorem("p0", "theorem p0 : True := by sorry"), GoalState("⊢ p0"), ())
    (candidates,) = asyncio.run(proposer.propose([request], params))
    assert len(candidates) == 2 and all(c.score < 0 for c in candidates)
    asyncio.run(proposer.close())


def test_lora_is_merged_and_the_lineage_of_a_trained_base_is_kept(tmp_path, dataset_dir, tiny_model_dir):
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    earlier = {"run": "/elsewhere", "split": "valid", "statements": {"statement_set": "local", "sha256": "e" * 64},
               "theorems": ["w0"]}
    (base / TRAINING_FILE).write_text(json.dumps({"format": "llemma-prove-training/1", "sources": [earlier]}))
    out = tmp_path / "lora"
    config = TrainConfig(method="lora", max_steps=2, save_steps=10, batch_size=2, grad_accum=1)
    outcome = train(dataset_dir, str(base), out, config, device="cpu", progress=False)
    record = read_training_record(out)
    assert record["merged"] and [s["theorems"] for s in record["sources"]] == [["w0"], ["p0", "p1"]]
    assert not (out / "adapter_config.json").exists() and (out / "config.json").exists()
    assert outcome.steps == 2
    # Done is done: the same command again does not train again.
    assert train(dataset_dir, str(base), out, config, device="cpu").resumed_from is None
    with pytest.raises(UserError, match="no positive examples|not empty"):
        train(dataset_dir, str(base), tmp_path / "run", config, device="cpu")


def test_a_checkpoint_cut_short_by_a_kill_is_not_resumed(tmp_path):
    from llemma_prove.learning.train import _last_checkpoint

    folder = tmp_path / "checkpoints"
    for step, state in ((2, '{"global_step": 2}'), (4, '{"global_st'), (6, None)):
        (folder / f"checkpoint-{step}").mkdir(parents=True)
        if state is not None:
            (folder / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    assert _last_checkpoint(folder) == str(folder / "checkpoint-2")
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint-2"]
    assert _last_checkpoint(tmp_path / "none") is None
