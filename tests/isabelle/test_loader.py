"""The miniF2F Isabelle loader on the real shared data: statements cut exactly, proofs stripped."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from llemma_prove.data.isabelle_minif2f import (
    MINIF2F_ISABELLE,
    load_isabelle_checkout,
    load_isabelle_data_file,
    load_isabelle_statements,
    parse_isabelle_rows,
    theorem_row,
)
from llemma_prove.errors import DataError
from llemma_prove.provers.isabelle.theory import render_theory
from llemma_prove.types import Language
from tests.conftest import require_shared


def shared_rows(split: str) -> list[dict]:
    path = require_shared(f"minif2f/isabelle/{split}.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("split", ["valid", "test"])
def test_shared_jsonl_loads_with_proofs_stripped(split: str) -> None:
    path = require_shared(f"minif2f/isabelle/{split}.jsonl")
    rows = {r["name"]: r for r in shared_rows(split)}
    collection = load_isabelle_data_file(path)
    theorems = collection.split(split)
    assert len(theorems) == 244 == len(rows)
    assert collection.source.statement_set == "local" and collection.source.sha256
    with_proof = 0
    for theorem in theorems:
        row = rows[theorem.name]
        assert theorem.language is Language.ISABELLE
        assert theorem.statement == row["statement"]  # byte for byte as upstream wrote it
        assert theorem.header.startswith("theory ") and theorem.header.endswith("begin")
        assert theorem.informal_statement == row["informal_statement"]
        if row["has_proof"]:
            with_proof += 1
            proof = row["proof"].strip()
            for field in (theorem.header, theorem.preamble, theorem.statement):
                assert proof not in field
        rendered = render_theory(theorem)
        assert rendered.rstrip().endswith("sorry\n\nend")
        assert rendered.count(theorem.statement) == 1
    assert with_proof > 50


def test_preambles_of_theories_with_auxiliary_definitions() -> None:
    rows = [r for split in ("valid", "test") for r in shared_rows(split) if r["has_auxiliary_lemmas"]]
    assert len(rows) == 4
    for row in rows:
        (theorem,) = parse_isabelle_rows([json.dumps(row)], "aux.jsonl")
        assert theorem.preamble, row["name"]
        assert theorem.preamble.split()[0] in ("function", "definition", "term")
        assert theorem.statement == row["statement"]


def test_cached_rows_round_trip() -> None:
    path = require_shared("minif2f/isabelle/test.jsonl")
    theorems = load_isabelle_data_file(path).theorems
    lines = [json.dumps(theorem_row(t)) for t in theorems]
    again = parse_isabelle_rows(lines, "cache.jsonl", "isabelle")
    assert [(t.name, t.header, t.preamble, t.statement) for t in again] == [
        (t.name, t.header, t.preamble, t.statement) for t in theorems
    ]


def test_upstream_checkout_matches_the_jsonl() -> None:
    root = require_shared("minif2f/upstream/facebookresearch-miniF2F")
    collection = load_isabelle_checkout(root)
    assert collection.source.commit == MINIF2F_ISABELLE.commit
    by_name = {t.name: t for t in collection.theorems}
    assert len(by_name) == 488
    for row in shared_rows("test"):
        theorem = by_name[row["name"]]
        assert theorem.split == "test" and theorem.statement == row["statement"]
        assert theorem.informal_statement == row["informal_statement"]
        assert theorem.source.endswith(f"isabelle/test/{row['name']}.thy")


async def test_download_at_the_pinned_commit_is_cached(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    upstream = require_shared("minif2f/upstream/facebookresearch-miniF2F")
    repo = tmp_path / "mirror"
    for rel in (
        "isabelle/valid/aimeII_2001_p3.thy",
        "informal/valid/aimeII_2001_p3.json",
        "isabelle/test/amc12a_2020_p4.thy",
        "informal/test/amc12a_2020_p4.json",
    ):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(upstream / rel, repo / rel)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "--quiet", "-m", "mirror"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    spec = replace(MINIF2F_ISABELLE, url=f"file://{repo}", commit=commit)
    cache = tmp_path / "cache"
    collection = await load_isabelle_statements(cache, spec)
    assert sorted(t.name for t in collection.theorems) == ["aimeII_2001_p3", "amc12a_2020_p4"]
    aux = next(t for t in collection.theorems if t.name == "amc12a_2020_p4")
    assert aux.split == "test" and aux.preamble.startswith("function digits")
    assert aux.informal_statement
    shutil.rmtree(repo)  # a second load needs no network and no repository
    again = await load_isabelle_statements(cache, spec)
    assert [t.statement for t in again.theorems] == [t.statement for t in collection.theorems]


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", ":2: invalid JSON"),
        ('["a"]', ":2: expected a JSON object"),
        ('{"split": "test", "theory": "theory x imports Main begin end"}', ":2: missing field 'name'"),
        ('{"name": "x", "split": "dev", "theory": "theory x imports Main begin end"}', "bad.jsonl:2: unknown split 'dev'"),
        ('{"name": "x", "theory": "theory x imports Main begin\\nend"}', "no `theorem x`"),
        ('{"name": "x", "theory": "theory x imports Main\\ntheorem x: shows \\"True\\" by simp end"}', "no `begin`"),
        ('{"name": "x", "theory": "(* open comment\\ntheory x imports Main begin"}', "unterminated comment"),
        ('{"name": "x", "header": "theory x imports Main begin"}', "needs 'theory' or both"),
        ('{"name": "x", "statement": 3}', "field 'statement' must be a string"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = json.dumps({"name": "ok", "theory": 'theory ok imports Main\nbegin\ntheorem ok: "True"\n  by simp\nend'})
    path = tmp_path / "bad.jsonl"
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(DataError) as info:
        load_isabelle_data_file(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_duplicates_and_missing_files(tmp_path: Path) -> None:
    row = json.dumps({"name": "ok", "theory": 'theory ok imports Main\nbegin\ntheorem ok: "True"\n  by simp\nend'})
    path = tmp_path / "dup.jsonl"
    path.write_text(row + "\n" + row + "\n")
    with pytest.raises(DataError, match="dup.jsonl:2: duplicate theorem name 'ok'"):
        load_isabelle_data_file(path)
    with pytest.raises(DataError, match="not found"):
        load_isabelle_data_file(tmp_path / "missing.jsonl")
    (theorem,) = parse_isabelle_rows([row], "one.jsonl")
    assert theorem.statement == 'theorem ok: "True"' and "by simp" not in render_theory(theorem)
