"""The run directory: crash-safe results, torn lines, resume rules, proofs file, graphs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from llemma_prove.search import SearchConfig, SearchResult, prove_theorem
from llemma_prove.store import (
    CONFIG_FILE,
    RESULTS_FILE,
    RunStore,
    StoreError,
    check_run_dir,
    combine_lean_proofs,
    load_graph,
    load_run,
    read_results,
)
from llemma_prove.types import SearchStatus
from tests.runner.common import HEADER, config, doubles, theorem

NAMES = ["mathd_algebra_1", "amc12a_2000_p1", "imo_1960_p2"]


async def _result(name: str, prover, proposer) -> SearchResult:
    return await prove_theorem(theorem(name), prover, proposer, SearchConfig.paper())


def _lines(run_dir) -> list[dict]:
    return [json.loads(l) for l in (run_dir / RESULTS_FILE).read_text().splitlines()]


async def test_append_writes_line_graph_and_proofs(tmp_path):
    prover, proposer = doubles(NAMES, dead=["imo_1960_p2"])
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        for name in NAMES:
            result = await _result(name, prover, proposer)
            text = prover.render(theorem(name), result.proof) if result.proved else None
            store.append(theorem(name), result, text)
        assert store.finished() == set(NAMES)
    lines = _lines(tmp_path / "run")
    assert [l["name"] for l in lines] == NAMES
    assert [l["status"] for l in lines] == ["proved", "proved", "exhausted"]
    assert lines[0]["proof"] == ["intro h", "exact h"] and lines[0]["family"] == "mathd algebra"
    assert lines[0]["verification"]["verdict"] == "accepted"
    proofs = (tmp_path / "run" / "proofs.lean").read_text()
    assert proofs.count("import Mathlib") == 1 and proofs.startswith(HEADER)
    assert "theorem mathd_algebra_1" in proofs and "theorem amc12a_2000_p1" in proofs
    assert "imo_1960_p2" not in proofs
    config_back, records = load_run(tmp_path / "run")
    assert config_back.identity() == config(NAMES).identity()
    graph = load_graph(tmp_path / "run", records[0])
    assert graph.graph["theorem"] == "mathd_algebra_1" and graph.number_of_nodes() >= 3


async def test_torn_last_line_is_ignored_then_cut_on_resume(tmp_path):
    prover, proposer = doubles(NAMES)
    run_dir = tmp_path / "run"
    with RunStore.open(run_dir, config(NAMES)) as store:
        store.append(theorem(NAMES[0]), await _result(NAMES[0], prover, proposer))
    whole = (run_dir / RESULTS_FILE).read_bytes()
    torn = b'{"name": "amc12a_2000_p1", "split": "test", "sta'
    (run_dir / RESULTS_FILE).write_bytes(whole + torn)

    assert [r.name for r in read_results(run_dir / RESULTS_FILE)] == [NAMES[0]]  # read-only: ignored
    assert (run_dir / RESULTS_FILE).read_bytes() == whole + torn
    with RunStore.open(run_dir, config(NAMES)) as store:  # resume: cut, then append cleanly
        assert store.finished() == {NAMES[0]}
        assert (run_dir / RESULTS_FILE).read_bytes() == whole
        store.append(theorem(NAMES[1]), await _result(NAMES[1], prover, proposer))
    assert [l["name"] for l in _lines(run_dir)] == NAMES[:2]


def test_a_file_holding_only_a_torn_line(tmp_path):
    run_dir = tmp_path / "run"
    with RunStore.open(run_dir, config(NAMES)):
        pass
    (run_dir / RESULTS_FILE).write_bytes(b'{"name": "x"')
    with RunStore.open(run_dir, config(NAMES)) as store:
        assert store.finished() == set()
    assert (run_dir / RESULTS_FILE).read_bytes() == b""


def test_a_broken_line_in_the_middle_is_an_error_naming_it(tmp_path):
    path = tmp_path / RESULTS_FILE
    good = [json.dumps({"name": n, "split": "test", "status": "proved", "proved": True}) for n in "ab"]
    path.write_text(f"{good[0]}\nnot json\n{good[1]}\n")
    with pytest.raises(StoreError, match=r"results.jsonl:2: unreadable result line"):
        read_results(path)


async def test_different_configuration_is_refused_unless_forced(tmp_path):
    prover, proposer = doubles(NAMES)
    run_dir = tmp_path / "run"
    with RunStore.open(run_dir, config(NAMES)) as store:
        store.append(theorem(NAMES[0]), await _result(NAMES[0], prover, proposer))
    other = config(NAMES, search=SearchConfig(max_expansions=50))
    with pytest.raises(StoreError, match=r"different configuration \(search.max_expansions: 100 -> 50\).*--force"):
        check_run_dir(run_dir, other)
    with pytest.raises(StoreError, match="different configuration"):
        RunStore.open(run_dir, other)
    assert check_run_dir(run_dir, config(NAMES)) == "resume"

    with RunStore.open(run_dir, other, force=True) as store:
        assert store.finished() == set()
    kept = list(run_dir.glob("superseded-*"))
    assert len(kept) == 1 and [l["name"] for l in _lines(kept[0])] == [NAMES[0]]
    assert json.loads((run_dir / CONFIG_FILE).read_text())["search"]["max_expansions"] == 50


async def test_no_resume_starts_over_and_keeps_old_files(tmp_path):
    prover, proposer = doubles(NAMES)
    run_dir = tmp_path / "run"
    with RunStore.open(run_dir, config(NAMES)) as store:
        store.append(theorem(NAMES[0]), await _result(NAMES[0], prover, proposer))
    with RunStore.open(run_dir, config(NAMES), resume=False) as store:
        assert store.finished() == set()
    assert len(list(run_dir.glob("superseded-*"))) == 1


def test_changes_outside_the_identity_resume_and_merge_the_selection(tmp_path):
    run_dir = tmp_path / "run"
    with RunStore.open(run_dir, config(NAMES[:1])):
        pass
    wider = config(NAMES[1:])
    wider = replace(wider, concurrency=8, versions={"torch": "other"})
    with RunStore.open(run_dir, wider) as store:
        assert store.config.selection == tuple(NAMES)
    assert json.loads((run_dir / CONFIG_FILE).read_text())["selection"] == NAMES


def test_a_second_process_cannot_open_the_same_run(tmp_path):
    with RunStore.open(tmp_path / "run", config(NAMES)):
        with pytest.raises(StoreError, match="in use"):
            RunStore.open(tmp_path / "run", config(NAMES))
    RunStore.open(tmp_path / "run", config(NAMES)).close()  # the lock is released on close


async def test_retry_errors_moves_error_records_aside(tmp_path):
    run_dir = tmp_path / "run"
    prover, proposer = doubles(NAMES[:1])
    with RunStore.open(run_dir, config(NAMES)) as store:
        store.append(theorem(NAMES[0]), await _result(NAMES[0], prover, proposer))
        store.append(theorem(NAMES[1]), SearchResult(NAMES[1], SearchStatus.ERROR, error="prover crashed"))
    with RunStore.open(run_dir, config(NAMES), retry_errors=True) as store:
        assert store.finished() == {NAMES[0]}
    assert [l["name"] for l in _lines(run_dir)] == [NAMES[0]]
    assert json.loads((run_dir / "retried-errors.jsonl").read_text())["error"] == "prover crashed"


def test_appending_a_theorem_twice_is_refused(tmp_path):
    with RunStore.open(tmp_path / "run", config(NAMES)) as store:
        store.append(theorem(NAMES[0]), SearchResult(NAMES[0], SearchStatus.EXHAUSTED))
        with pytest.raises(ValueError, match="already has a result"):
            store.append(theorem(NAMES[0]), SearchResult(NAMES[0], SearchStatus.EXHAUSTED))


def test_combined_proofs_file_has_the_header_once_and_notes_other_headers():
    from llemma_prove.store import TheoremRecord

    def record(name: str, header: str) -> TheoremRecord:
        return TheoremRecord(name=name, split="test", status="proved", proved=True, header=header,
                             proof_text=f"{header}theorem {name} : True := by\n  trivial\n")

    text = combine_lean_proofs([record("b", HEADER), record("a", HEADER), record("c", "import Other\n")])
    assert text.startswith(HEADER) and text.count("import Mathlib") == 1
    assert text.index("theorem a") < text.index("theorem b") < text.index("theorem c")
    assert "-- note: c was stated under a different header:\n--   import Other\n" in text
    assert "No proof" in combine_lean_proofs([])


async def test_isabelle_runs_write_one_theory_per_proof(tmp_path):
    from dataclasses import replace as _replace

    from llemma_prove.types import Language

    prover, proposer = doubles(["amc12_2001_p5"])
    thm = _replace(theorem("amc12_2001_p5"), language=Language.ISABELLE, header="theory T imports Main begin\n")
    result = await prove_theorem(thm, prover, proposer, SearchConfig.paper())
    with RunStore.open(tmp_path / "run", config(["amc12_2001_p5"], prover="isabelle")) as store:
        store.append(thm, result, "theory T imports Main begin\nlemma ... end\n")
    assert (tmp_path / "run" / "proofs-isabelle" / "amc12_2001_p5.thy").read_text().startswith("theory T")
    assert not (tmp_path / "run" / "proofs.lean").exists()
