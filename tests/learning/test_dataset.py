"""Training data from runs: the proposer's exact text, accepted proofs only, dedup, sources, negatives."""

from __future__ import annotations

import json

import pytest

from llemma_prove.errors import UserError
from llemma_prove.learning.dataset import (
    NEGATIVE,
    POSITIVE,
    build_dataset,
    completion_format,
    read_examples,
    read_metadata,
)
from llemma_prove.learning.leakage import LeakageError
from llemma_prove.proposers.prompts import PromptTemplate, default_lean4_template
from tests.learning.runs import scripted_run
from tests.learning.world import write_prompt


def test_completion_layout_is_read_off_the_templates_own_worked_examples():
    template = default_lean4_template()
    fmt = completion_format(template)
    assert fmt.derived_from == "worked example"
    after = template.template.split(template.placeholder, 1)[1]
    for example in template.examples:  # prompt tail + our completion = the template's own demonstration
        assert example.tactic_state + after + fmt.render(example.next_tactic) in template.template
        assert template.extract(fmt.render(example.next_tactic)) == example.next_tactic
    # A template given as text only (as the paper harness's prompt is) has the same worked examples.
    text_only = PromptTemplate(template=template.template, name="text-only")
    assert completion_format(text_only) == fmt
    zero_shot = PromptTemplate(template="State:\n%s\nTactic:", stop=("\n\n",))
    fallback = completion_format(zero_shot)
    assert fallback.derived_from == "default" and zero_shot.extract(fallback.render("simp")) == "simp"


async def test_examples_follow_accepted_proofs_in_the_proposers_text(tmp_path):
    run = await scripted_run(tmp_path / "run", ["p0", "p1", "dead", "rej", "odd"], dead=["dead"], reject=["rej"],
                             odd=["odd"])
    prompt = write_prompt(tmp_path / "prompt.json")
    info = await build_dataset([run], tmp_path / "ds", prompt=prompt, negatives=True)
    template = PromptTemplate.load(prompt)
    rows = read_examples(tmp_path / "ds")
    positives = [r for r in rows if r["label"] == POSITIVE]
    # Only proofs the final check accepted, step by step; odd's last step holds `---`, which no model
    # could write (the proposer cuts there), so only its first step is training text.
    assert [(r["theorem"], r["step"], r["tactic"]) for r in positives] == [
        ("p0", 0, "intro h"), ("p0", 1, "exact h"), ("p1", 0, "intro h"), ("p1", 1, "exact h"),
        ("odd", 0, "intro h")]
    for row in positives:
        assert row["prompt"] == template.render(row["state"])  # exactly what the proposer sends
        assert template.extract(row["completion"]) == row["tactic"]
        assert row["split"] == "valid" and row["run"] == str(run.resolve())
    assert positives[1]["state"] == "h : p0\n⊢ rest" and positives[1]["outcome"] == "proved"
    negatives = [r for r in rows if r["label"] == NEGATIVE]
    assert {(r["tactic"], r["message"]) for r in negatives} >= {("simp", "simp made no progress"),
                                                                  ("exact h", "type mismatch")}
    assert all(r["outcome"] == "error" for r in negatives)
    meta = read_metadata(tmp_path / "ds")
    assert meta["counts"]["unrepresentable"] == 1
    assert meta["counts"]["proofs"] == 3 and info.positive == 5
    assert meta["sources"][0]["theorems"] == ["dead", "odd", "p0", "p1", "rej"]
    assert meta["sources"][0]["split"] == "valid" and meta["holdout_split"] == "test"
    assert meta["prompt"]["sha256"] and meta["completion"]["suffix"].endswith("---")
    # The Hugging Face dataset holds the same rows as the JSONL.
    import datasets

    hf = datasets.load_from_disk(str(tmp_path / "ds" / "hf"))
    assert hf.to_list() == rows


async def test_duplicates_across_runs_are_dropped_and_every_source_is_recorded(tmp_path):
    first = await scripted_run(tmp_path / "r1", ["p0", "p1"])
    second = await scripted_run(tmp_path / "r2", ["p1", "p2"])
    prompt = write_prompt(tmp_path / "prompt.json")
    info = await build_dataset([first, second], tmp_path / "ds", prompt=prompt)
    meta = read_metadata(tmp_path / "ds")
    assert meta["counts"]["duplicates"] == 2 and info.positive == 6  # p1's two steps appear in both runs
    assert [s["theorems"] for s in meta["sources"]] == [["p0", "p1"], ["p1", "p2"]]
    with pytest.raises(UserError, match="already exists"):
        await build_dataset([first], tmp_path / "ds", prompt=prompt)
    assert json.loads((tmp_path / "ds" / "dataset.json").read_text())["counts"]["positive"] == 6


async def test_test_split_runs_and_foreign_prompts_are_refused(tmp_path):
    prompt = write_prompt(tmp_path / "prompt.json")
    test_run = await scripted_run(tmp_path / "test-run", ["t0"], split="test")
    with pytest.raises(LeakageError, match="test split"):
        await build_dataset([test_run], tmp_path / "ds", prompt=prompt)
    assert not (tmp_path / "ds").exists()
    # A run searched with another prompt than the one given: training would not see the inference text.
    other = await scripted_run(tmp_path / "other", ["p0"], prompt_sha256="0" * 64)
    with pytest.raises(UserError, match="not the one"):
        await build_dataset([other], tmp_path / "ds", prompt=prompt)


def test_only_steps_the_graph_shows_on_the_proof_path_are_used():
    import networkx as nx

    from llemma_prove.learning.dataset import _proof_path

    graph = nx.DiGraph(root=0)
    graph.add_node(0, kind="state", text="⊢ p")
    graph.add_node(1, kind="state", text="h : p\n⊢ q")
    graph.add_node(2, kind="error", message="no")
    graph.add_node(3, kind="proved")
    graph.add_edge(0, 2, tactic="simp", outcome="error")
    graph.add_edge(0, 1, tactic="intro h", outcome="goals")
    graph.add_edge(1, 3, tactic="sledgehammer", outcome="proved")
    assert _proof_path(graph, ("intro h", "sledgehammer")) == [("⊢ p", "intro h", "goals"),
                                                                ("h : p\n⊢ q", "sledgehammer", "proved")]
    # The final check's substitute proof (e.g. the tactic a hammer found): only the prefix the graph shows.
    assert _proof_path(graph, ("intro h", "exact h")) == [("⊢ p", "intro h", "goals")]
    assert _proof_path(graph, ("simp",)) == []  # an error edge is never a proof step


async def test_a_proved_record_without_an_accepted_check_gives_no_examples(tmp_path):
    run = await scripted_run(tmp_path / "run", ["p0", "p1"])
    lines = (run / "results.jsonl").read_text().splitlines()
    edited = json.loads(lines[0])
    edited["verification"]["verdict"] = "unchecked"  # a record claiming a proof the check never accepted
    (run / "results.jsonl").write_text("\n".join([json.dumps(edited)] + lines[1:]) + "\n")
    info = await build_dataset([run], tmp_path / "ds", prompt=write_prompt(tmp_path / "prompt.json"))
    assert {r["theorem"] for r in read_examples(tmp_path / "ds")} == {"p0", "p1"} - {edited["name"]}
    assert info.positive == 2
