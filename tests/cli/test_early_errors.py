"""Errors before expense: what needs neither model nor prover is checked before either is touched."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from llemma_prove.commands import minif2f as minif2f_command
from llemma_prove.errors import UserError
from llemma_prove.store import StoreError, check_writable
from tests.cli.test_cli import assert_one_line_error, run_cli
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def test_jsonl() -> Path:
    return require_shared("minif2f/lean4/test.jsonl")


@pytest.fixture
def heavy_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every step that would load a prover or a model (none may run in these tests)."""
    events: list[str] = []

    async def preflight(spec):
        events.append("preflight")

    monkeypatch.setattr(minif2f_command, "preflight_prover", preflight)
    monkeypatch.setattr(minif2f_command, "build_prover", lambda *a: events.append("build_prover"))
    monkeypatch.setattr(minif2f_command, "build_proposer", lambda *a: events.append("build_proposer"))
    return events


def test_a_run_directory_under_a_file_fails_for_root_too(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    with pytest.raises(StoreError, match=f"{blocker} is a file, not a folder"):
        check_writable(blocker / "run")
    with pytest.raises(StoreError, match="it is a file, not a folder"):
        check_writable(blocker)
    check_writable(tmp_path / "new" / "run")  # a folder that can be made is fine
    assert not (tmp_path / "new").exists() and os.listdir(tmp_path) == ["a-file"]  # nothing left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits; the file case covers root")
def test_a_read_only_run_directory_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    run_dir.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="cannot write in run directory"):
            check_writable(run_dir)
    finally:
        run_dir.chmod(0o700)


async def test_unwritable_run_directory_fails_before_prover_and_model(tmp_path, test_jsonl, heavy_steps) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    args = minif2f_command.Minif2fArgs(data=test_jsonl, limit=1, run_dir=blocker / "run", progress=False)
    with pytest.raises(StoreError, match="is a file, not a folder"):
        await minif2f_command.run_minif2f(args)
    assert heavy_steps == []


def test_unwritable_run_directory_is_one_line_on_the_command_line(tmp_path, test_jsonl) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = run_cli("minif2f", "--data", str(test_jsonl), "--limit", "1", "--run-dir", str(blocker / "run"))
    assert_one_line_error(proc, "cannot use run directory", "is a file, not a folder")
    proc = run_cli("minif2f", "--data", str(test_jsonl), "--limit", "1", "--output-dir", str(blocker))
    assert_one_line_error(proc, "it is a file, not a folder")


async def test_a_statement_with_its_own_proof_is_refused_before_loading(tmp_path, test_jsonl, heavy_steps) -> None:
    rows = [json.loads(line) for line in test_jsonl.read_text(encoding="utf-8").splitlines()[:2]]
    rows[1]["formal_statement"] = rows[1]["formal_statement"].rstrip().removesuffix("sorry").rstrip() + " simp"
    data = tmp_path / "proved.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = minif2f_command.Minif2fArgs(data=data, run_dir=tmp_path / "run", progress=False)
    with pytest.raises(UserError, match=f"the statement of {rows[1]['name']} must end in `:= by sorry`.*by simp'"):
        await minif2f_command.run_minif2f(args)
    assert heavy_steps == [] and not (tmp_path / "run").exists()


async def test_accepted_statement_endings(tmp_path, test_jsonl, heavy_steps) -> None:
    from llemma_prove.data.minif2f import check_lean_statement_forms
    from llemma_prove.types import Theorem

    ok = [Theorem(name=f"t{i}", statement=f"theorem t{i} : 1 = 1 {tail}", header="")
          for i, tail in enumerate([":= by sorry", ":= sorry", ":= by", ":=", ":= by\n  sorry\n"])]
    check_lean_statement_forms(ok)
    for tail in (":= by simp", ":= by nosorry", ":= rfl"):
        with pytest.raises(UserError, match="must end in"):
            check_lean_statement_forms([Theorem(name="t", statement=f"theorem t : 1 = 1 {tail}", header="")])
