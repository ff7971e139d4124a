"""miniF2F statement loading: the real shared files, malformed files, the pinned-commit git download."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from llemma_prove.data import minif2f
from llemma_prove.data.minif2f import (
    STATEMENT_SETS,
    DataError,
    load_data_file,
    load_statement_set,
    parse_per_file_tree,
    parse_upstream_jsonl,
    select_theorems,
)
from llemma_prove.errors import UserError
from tests.conftest import require_shared

YANGKY11 = "minif2f/lean4/upstream/yangky11-miniF2F-lean4"
DEEPSEEK_UPSTREAM = "minif2f/lean4/upstream/deepseek-prover-v1.5/datasets/minif2f.jsonl"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- the real shared files ---------------------------------------------------------------------------


def test_shared_lean4_sets_load_with_all_fields():
    theorems = []
    for split in ("valid", "test"):
        collection = load_data_file(require_shared(f"minif2f/lean4/{split}.jsonl"))
        assert collection.source.is_local and len(collection.source.sha256) == 64
        chosen = select_theorems(collection, split)
        assert len(chosen) == 244
        theorems += chosen
    assert len({t.name for t in theorems}) == 488
    for theorem in theorems:
        assert theorem.statement.startswith(f"theorem {theorem.name}")
        assert theorem.statement.rstrip().endswith(":= by sorry")
        assert theorem.header.startswith("import Mathlib")
        assert theorem.informal_statement and theorem.source
        assert theorem.statement_set == "local"


def test_header_plus_statement_is_the_upstream_file():
    upstream = require_shared(YANGKY11) / "MiniF2F"
    for split in ("valid", "test"):
        for theorem in load_data_file(require_shared(f"minif2f/lean4/{split}.jsonl")).theorems:
            text = (upstream / split.capitalize() / f"{theorem.name}.lean").read_text(encoding="utf-8")
            assert theorem.header + theorem.statement == text


def test_per_file_parser_reproduces_the_shared_set_from_raw_upstream_files():
    upstream = require_shared(YANGKY11)
    files = {
        str(p.relative_to(upstream)): p.read_text(encoding="utf-8")
        for p in sorted((upstream / "MiniF2F").glob("*/*.lean"))
    }
    spec = STATEMENT_SETS["lean4-v4.24.0"]
    rows = parse_per_file_tree(files, spec)
    assert len(rows) == 488
    for split in ("valid", "test"):
        expected = _rows(require_shared(f"minif2f/lean4/{split}.jsonl"))
        got = [r for r in rows if r["split"] == split]
        key = lambda r: (r["name"], r["split"], r["header"], r["formal_statement"])  # noqa: E731
        assert sorted(map(key, got)) == sorted(map(key, expected))
    assert rows[0]["source"].startswith("yangky11/miniF2F-lean4@5746b7d6c478:MiniF2F/Valid/")


def test_deepseek_upstream_jsonl_parses_to_the_shared_v4_9_set():
    text = require_shared(DEEPSEEK_UPSTREAM).read_text(encoding="utf-8")
    rows = parse_upstream_jsonl(text, STATEMENT_SETS["lean4-v4.9.0"], "datasets/minif2f.jsonl")
    assert len(rows) == 488
    for split in ("valid", "test"):
        expected = {r["name"]: r for r in _rows(require_shared(f"minif2f/lean4/deepseek_v1.5/{split}.jsonl"))}
        got = {r["name"]: r for r in rows if r["split"] == split}
        assert set(got) == set(expected)
        for name, row in got.items():
            for key in ("header", "formal_statement", "informal_statement"):
                assert row[key] == expected[name][key], (name, key)


def test_deepseek_shape_is_accepted_as_a_data_file():
    collection = load_data_file(require_shared("minif2f/lean4/deepseek_v1.5/test.jsonl"))
    chosen = select_theorems(collection, "test")
    assert len(chosen) == 244
    assert all(t.statement.endswith(":= by\n") and "import Aesop" in t.header for t in chosen)


# -- malformed files ---------------------------------------------------------------------------------

GOOD = json.dumps({"name": "a", "split": "test", "header": "import Mathlib\n", "formal_statement": "theorem a : True := by sorry"})


@pytest.mark.parametrize(
    "lines, expected",
    [
        ([GOOD, "{not json"], ":2: invalid JSON"),
        ([GOOD, json.dumps({"name": "b", "header": ""})], ":2: missing field 'formal_statement'"),
        ([GOOD, "", GOOD], ":3: duplicate theorem name 'a' (first on line 1)"),
        (["[1, 2]"], ":1: expected a JSON object, got list"),
        ([json.dumps({"name": 3, "header": "", "formal_statement": "x"})], ":1: field 'name' must be a string, got int"),
        ([json.dumps({"name": "c", "header": "", "formal_statement": "x", "split": "train"})], ":1: unknown split 'train'"),
        ([json.dumps({"name": "c", "header": "", "formal_statement": "  "})], ":1: field 'formal_statement' of c is empty"),
        ([], "no theorems in the file"),
    ],
)
def test_malformed_data_files_name_file_and_line(tmp_path, lines, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_data_file(path)
    message = str(info.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_non_utf8_and_missing_files(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(GOOD.encode() + b"\n" + b'{"name": "\xe9"}\n')
    with pytest.raises(DataError, match=r"latin1.jsonl:2: not UTF-8"):
        load_data_file(path)
    with pytest.raises(DataError, match="not found"):
        load_data_file(tmp_path / "nope.jsonl")


# -- selection ---------------------------------------------------------------------------------------


def _collection(tmp_path: Path, rows: list[dict]) -> minif2f.StatementCollection:
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return load_data_file(path)


def _row(name: str, split: str | None = "test") -> dict:
    row = {"name": name, "header": "", "formal_statement": f"theorem {name} : True := by sorry"}
    if split:
        row["split"] = split
    return row


def test_selection_by_name_limit_and_split(tmp_path):
    collection = _collection(
        tmp_path, [_row("mathd_algebra_1"), _row("mathd_algebra_2"), _row("amc12_2000_p1"), _row("imo_1959_p1", "valid")]
    )
    assert [t.name for t in select_theorems(collection, "test", limit=2)] == ["mathd_algebra_1", "mathd_algebra_2"]
    chosen = select_theorems(collection, "test", names=["amc12_2000_p1", "mathd_algebra_1", "amc12_2000_p1"])
    assert [t.name for t in chosen] == ["amc12_2000_p1", "mathd_algebra_1"]
    with pytest.raises(UserError, match=r"unknown theorem 'mathd_algebra_3' in the test split") as info:
        select_theorems(collection, "test", names=["mathd_algebra_3"])
    close = str(info.value).split("close matches: ")[1]
    assert set(close.split(", ")) == {"mathd_algebra_1", "mathd_algebra_2"}
    with pytest.raises(UserError, match=r"'imo_1959_p1' is in split 'valid'"):
        select_theorems(collection, "test", names=["imo_1959_p1"])
    with pytest.raises(UserError, match="unknown split 'train'"):
        select_theorems(collection, "train")


def test_rows_without_split_take_the_requested_one(tmp_path):
    collection = _collection(tmp_path, [_row("x", None), _row("y", None)])
    assert {t.split for t in select_theorems(collection, "valid")} == {"valid"}
    only_valid = _collection(tmp_path, [_row("z", "valid")])
    with pytest.raises(DataError, match=r"no theorems of split 'test' \(splits present: valid\)"):
        select_theorems(only_valid, "test")


def test_cache_dir_from_environment(tmp_path):
    assert minif2f.default_cache_dir({"LLEMMA_PROVE_CACHE": str(tmp_path)}) == tmp_path
    assert minif2f.default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "llemma-prove"


async def test_unknown_statement_set_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"unknown statement set 'lean3'.*lean4-v4.24.0, lean4-v4.9.0"):
        await load_statement_set("lean3", cache_root=tmp_path)


# -- download from a git repository at a pinned commit -----------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def upstream_repo(tmp_path):
    """A local git repository laid out like yangky11/miniF2F-lean4, with real files from shared data."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    source = require_shared(YANGKY11) / "MiniF2F"
    repo = tmp_path / "miniF2F-lean4"
    picked = {"Test": ["aime_1983_p1.lean", "mathd_algebra_478.lean"], "Valid": ["amc12a_2019_p21.lean"]}
    for split, names in picked.items():
        (repo / "MiniF2F" / split).mkdir(parents=True)
        for name in names:
            shutil.copy(source / split / name, repo / "MiniF2F" / split / name)
    (repo / "README.md").write_text("not a statement\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "statements")
    pinned = _git(repo, "rev-parse", "HEAD")
    # A later commit changes a statement and adds a problem: the pinned commit must not see either.
    (repo / "MiniF2F" / "Test" / "aime_1983_p1.lean").write_text("import Mathlib\n\ntheorem aime_1983_p1 : False := by sorry")
    (repo / "MiniF2F" / "Test" / "imo_2099_p1.lean").write_text("import Mathlib\n\ntheorem imo_2099_p1 : True := by sorry")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "later")
    return repo, pinned, source


async def test_download_at_pinned_commit_then_served_from_cache(tmp_path, upstream_repo, no_leftover_children):
    repo, pinned, source = upstream_repo
    spec = replace(STATEMENT_SETS["lean4-v4.24.0"], url=repo.as_uri(), commit=pinned)
    cache = tmp_path / "cache"
    collection = await load_statement_set(spec=spec, cache_root=cache)
    assert sorted(t.name for t in collection.theorems) == ["aime_1983_p1", "amc12a_2019_p21", "mathd_algebra_478"]
    for theorem in collection.theorems:
        original = (source / theorem.split.capitalize() / f"{theorem.name}.lean").read_text(encoding="utf-8")
        assert theorem.header + theorem.statement == original
        assert theorem.statement_set == "lean4-v4.24.0"
        assert theorem.source == f"yangky11/miniF2F-lean4@{pinned[:12]}:MiniF2F/{theorem.split.capitalize()}/{theorem.name}.lean"
    assert collection.source.commit == pinned and collection.source.repo == "yangky11/miniF2F-lean4"
    cached = minif2f.cached_set_path(spec, cache)
    assert cached.is_file() and len(_rows(cached)) == 3

    shutil.rmtree(repo)  # no network, no repository: the cache must be enough now
    again = await load_statement_set(spec=spec, cache_root=cache)
    assert again.theorems == collection.theorems


async def test_download_of_a_jsonl_layout(tmp_path, no_leftover_children):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    lines = require_shared(DEEPSEEK_UPSTREAM).read_text(encoding="utf-8").splitlines()[:5]
    repo = tmp_path / "DeepSeek-Prover-V1.5"
    (repo / "datasets").mkdir(parents=True)
    (repo / "datasets" / "minif2f.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "data")
    spec = replace(STATEMENT_SETS["lean4-v4.9.0"], url=repo.as_uri(), commit=_git(repo, "rev-parse", "HEAD"))
    collection = await load_statement_set(spec=spec, cache_root=tmp_path / "cache")
    expected = {json.loads(l)["name"]: json.loads(l) for l in lines}
    assert {t.name for t in collection.theorems} == set(expected)
    for theorem in collection.theorems:
        assert theorem.statement == expected[theorem.name]["formal_statement"]
        assert theorem.header == expected[theorem.name]["header"]
        assert theorem.split == expected[theorem.name]["split"]


async def test_download_failure_names_url_and_commit(tmp_path, upstream_repo, no_leftover_children):
    repo, _, _ = upstream_repo
    spec = replace(STATEMENT_SETS["lean4-v4.24.0"], url=repo.as_uri(), commit="0" * 40)
    with pytest.raises(DataError) as info:
        await load_statement_set(spec=spec, cache_root=tmp_path / "cache")
    message = str(info.value)
    assert repo.as_uri() in message and "000000000000" in message and "--data FILE" in message
    assert not minif2f.cached_set_path(spec, tmp_path / "cache").exists()
