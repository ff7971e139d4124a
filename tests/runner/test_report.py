"""The summary: counts per split and family, and the paper's number only for the paper's setting."""

from __future__ import annotations

from dataclasses import replace

from llemma_prove.report import paper_reference, rich_table, summarise, to_markdown
from llemma_prove.search import SearchConfig
from llemma_prove.store import TheoremRecord
from tests.runner.common import config


def _record(name: str, status: str, split: str = "test") -> TheoremRecord:
    return TheoremRecord(name=name, split=split, status=status, proved=status == "proved")


RECORDS = [
    _record("mathd_algebra_1", "proved"),
    _record("mathd_algebra_2", "exhausted"),
    _record("mathd_numbertheory_5", "proved"),
    _record("amc12a_2000_p1", "rejected"),
    _record("imo_1960_p2", "timeout"),
    _record("induction_12", "error"),
    _record("algebra_sqineq_1", "proved"),
]
NAMES = [r.name for r in RECORDS] + ["aime_1983_p1"]  # one selected theorem has no result yet


def test_counts_per_family_and_split_match_the_records():
    summary = summarise(config(NAMES), RECORDS)
    assert (summary.overall.proved, summary.overall.finished, summary.overall.total) == (3, 7, 8)
    assert summary.by_split["test"].proved == 3
    fam = {k: (v.proved, v.finished, v.total) for k, v in summary.by_family.items()}
    assert fam == {
        "mathd algebra": (1, 2, 2), "mathd number theory": (1, 1, 1), "amc": (0, 1, 1), "aime": (0, 0, 1),
        "imo": (0, 1, 1), "induction": (0, 1, 1), "other": (1, 1, 1),
    }
    assert summary.statuses["rejected"] == 1 and summary.statuses["proved"] == 3
    assert not summary.complete and summary.by_family["aime"].rate is None
    assert any("incomplete: 7 of 8" in n for n in summary.notes)


def test_paper_number_only_for_the_paper_setting():
    paper, note = paper_reference(config(NAMES))
    assert paper is not None and paper.text() == "26.23% (64/244)" and "nightly-2023-08-19" in note
    big, _ = paper_reference(config(NAMES, model_id="EleutherAI/llemma_34b"))
    assert big.text() == "25.82% (63/244)"
    for changed in (
        config(NAMES, search=SearchConfig.improved()),
        config(NAMES, search=SearchConfig(max_expansions=50)),
        config(NAMES, split="valid"),
        config(NAMES, model_id="codellama/CodeLlama-7b-hf"),
        config(NAMES, prompt_path="/tmp/my_prompt.json"),
        config(NAMES, prover="isabelle"),
    ):
        assert paper_reference(changed)[0] is None


def test_markdown_shows_our_numbers_and_the_paper_only_when_it_applies():
    text = to_markdown(summarise(config(NAMES), RECORDS))
    assert "| all | 3/8 | 7/8 | 42.86% | 26.23% (64/244) |" in text
    assert "| mathd algebra | 1/2 | 2/2 | 50.00% |" in text
    assert "covers 8 of the 244" in text
    other = to_markdown(summarise(config(NAMES, search=SearchConfig.improved()), RECORDS))
    assert "26.23" not in other and "No paper number is shown: settings differ from the paper's" in other
    assert "merge-states" in other and "prune-sorry" in other and "replay-after-crash" in other


def test_every_differing_setting_is_named():
    from llemma_prove.types import DecodingMethod, SamplingParams

    search = replace(
        SearchConfig.paper(), max_expansions=50, time_limit_s=300.0, prune_sorry=True, replay_after_crash=True,
        step_time_limit_s=10.0, sampling=SamplingParams(n=8, method=DecodingMethod.SAMPLE),
    )
    paper, note = paper_reference(config(NAMES, search=search, prompt_path="/tmp/mine.json", split="valid"))
    assert paper is None
    for name in ("expansions 50 (paper 100)", "time limit 300 s (paper 600 s)", "candidates 8 (paper 32)",
                 "decoding sample (paper beam)", "prune-sorry", "replay-after-crash", "step-time-limit=10",
                 "prompt sha256 abababababab", "split valid"):
        assert name in note, (name, note)
    assert "merge-states" not in note  # only what differs


def test_the_harness_prompt_given_as_a_file_is_still_the_paper_setting():
    from llemma_prove.proposers.prompts import HARNESS_PROMPT_SHA256

    cfg = config(NAMES)
    cfg = replace(cfg, model=replace(cfg.model, prompt_path="/data/llemma_formal2formal_lean4_fewshot.json",
                                     prompt_sha256=HARNESS_PROMPT_SHA256))
    paper, note = paper_reference(cfg)
    assert paper is not None and "lean-dojo-mew@d00c776" in note and "LeanDojo 1.1.2" in note


def test_rich_table_renders():
    import io

    from rich.console import Console

    console = Console(record=True, width=120, file=io.StringIO())
    console.print(rich_table(summarise(config(NAMES), RECORDS)))
    text = console.export_text()
    assert "mathd number theory" in text and "26.23% (64/244)" in text


def test_summary_json_round_numbers():
    data = summarise(config(NAMES), RECORDS).to_json()
    assert data["overall"] == {"proved": 3, "finished": 7, "total": 8, "rate": round(3 / 7, 6)}
    assert data["paper"]["proved"] == 64 and data["complete"] is False
    assert data["run"]["statements"].startswith("lean4-v4.24.0")
    empty = summarise(replace(config(()), selection=()), [])
    assert empty.overall.rate is None and empty.to_json()["overall"]["rate"] is None
