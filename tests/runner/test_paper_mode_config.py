"""A default (paper-mode) run records the harness's prompt and every paper setting in `config.json`;
`--improved` records each improvement by name, and the summary says which settings differ."""

from __future__ import annotations

import json

from llemma_prove.commands import minif2f as command
from llemma_prove.proposers.prompts import HARNESS_PROMPT_SHA256
from tests.conftest import HARNESS_PROMPT_COPY, require_shared


async def _run(test_doubles, tmp_path, **kwargs):
    data = require_shared("minif2f/lean4/test.jsonl")
    require_shared(HARNESS_PROMPT_COPY)  # the session cache is seeded from it (tests/conftest.py)
    run_dir = tmp_path / "run"
    args = command.Minif2fArgs(data=data, limit=3, run_dir=run_dir, progress=False, **test_doubles, **kwargs)
    assert await command.run_minif2f(args) == 0
    return json.loads((run_dir / "config.json").read_text()), (run_dir / "summary.md").read_text()


async def test_a_default_run_records_the_harness_prompt_and_every_paper_setting(test_doubles, tmp_path):
    config, summary = await _run(test_doubles, tmp_path)
    model, search = config["model"], config["search"]
    assert model["prompt_sha256"] == HARNESS_PROMPT_SHA256
    assert model["prompt_source"] == "wellecks/llemma_formal2formal@0931a1e27ede:proofsearch.py#_prompt_fewshot"
    assert search["max_expansions"] == 100 and search["time_limit_s"] == 600.0
    assert search["sampling"]["n"] == 32 and search["sampling"]["method"] == "beam"
    assert search["sampling"]["stop"] == ["---"] and search["sampling"]["max_new_tokens"] == 256
    assert search["priority"] == "sum"
    for improvement in ("merge_duplicate_states", "clean_candidates", "exclude_model_wait", "prune_sorry",
                        "replay_after_crash"):
        assert search[improvement] is False
    assert search["step_time_limit_s"] is None
    # Test doubles are no Lean 4: that, and only that, keeps the paper's number out.
    assert "No paper number is shown: settings differ from the paper's: prover test-doubles" in summary
    assert "prompt sha256" not in summary.split("Prompt:")[0]


async def test_improved_and_builtin_prompt_are_named_in_the_summary(test_doubles, tmp_path):
    config, summary = await _run(test_doubles, tmp_path, improved=True, prompt=command.Path("builtin"))
    assert config["model"]["prompt_sha256"] != HARNESS_PROMPT_SHA256
    assert config["model"]["prompt_source"] == "builtin:lean4_next_tactic.json"
    for name in ("prompt sha256", "merge-states", "clean-candidates", "priority=depth-normalised",
                 "exclude-model-wait", "prune-sorry", "replay-after-crash", "step-time-limit=60"):
        assert name in summary, name
