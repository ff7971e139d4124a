"""`llemma-prove minif2f --concurrency N --batch-size/--batch-wait-ms --cache`: the real command with the
scripted test doubles (registered as plug-ins by the `test_doubles` fixture)."""

from __future__ import annotations

import json

import pytest

from llemma_prove.assembly import with_batching
from llemma_prove.commands import minif2f as command
from llemma_prove.errors import UserError
from llemma_prove.proposers.batching import BatchingProposer
from tests.throughput.cli_data import NAMES, write_statements

DOUBLES = {"prover": "test-doubles", "model_backend": "test-doubles"}


@pytest.fixture
def doubles(test_doubles):
    return test_doubles


def _args(tmp_path, **overrides) -> command.Minif2fArgs:
    base = dict(data=write_statements(tmp_path / "statements.jsonl"), run_dir=tmp_path / "run", progress=False,
                expansions=5, concurrency=4, **DOUBLES)
    return command.Minif2fArgs(**{**base, **overrides})


async def test_cache_second_run_asks_the_prover_nothing_new(tmp_path, doubles):
    cache = tmp_path / "shared-cache.sqlite"
    assert await command.run_minif2f(_args(tmp_path, cache=True, cache_file=cache, run_dir=tmp_path / "a")) == 0
    first = json.loads((tmp_path / "a" / "summary.json").read_text())
    # A second run (another run directory, e.g. another strategy) over the same states and tactics.
    assert await command.run_minif2f(_args(tmp_path, cache=True, cache_file=cache, run_dir=tmp_path / "b",
                                           clean_candidates=True)) == 0
    second = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert first["tactic_cache"]["hits"] == 0 and first["tactic_cache"]["misses"] > 0
    assert second["tactic_cache"]["misses"] == 0 and second["tactic_cache"]["hit_rate"] == 1.0
    assert second["overall"] == first["overall"]  # same proofs; each still checked by the prover's verify
    assert "hit rate" in (tmp_path / "b" / "summary.md").read_text()
    engine = json.loads((tmp_path / "b" / "config.json").read_text())["engine"]
    assert engine == {"cache_file": str(cache.resolve()), "batch_size": 32, "batch_wait_ms": 5.0, "ray": None}


async def test_default_cache_lives_in_the_run_directory_and_is_off_unless_asked(tmp_path, doubles):
    await command.run_minif2f(_args(tmp_path, cache=True))
    assert (tmp_path / "run" / command.CACHE_FILE).is_file()
    await command.run_minif2f(_args(tmp_path, run_dir=tmp_path / "plain"))
    assert not (tmp_path / "plain" / command.CACHE_FILE).exists()
    assert "tactic_cache" not in json.loads((tmp_path / "plain" / "summary.json").read_text())


def test_proposer_is_batched_only_for_concurrent_searches(tmp_path, test_doubles):
    inner = object()
    def engine(args):
        return command.engine_spec(args, tmp_path / "run")

    batched = with_batching(inner, engine(_args(tmp_path, concurrency=8, batch_size=16, batch_wait_ms=2)))
    assert isinstance(batched, BatchingProposer) and batched.inner is inner
    assert (batched.max_batch_size, batched.max_wait_s) == (16, 0.002)
    assert with_batching(inner, engine(_args(tmp_path, concurrency=1))) is inner


@pytest.mark.parametrize("overrides, message", [
    (dict(batch_size=0), "--batch-size must be at least 1"),
    (dict(batch_wait_ms=-1.0), "--batch-wait-ms must be 0 or more"),
])
def test_bad_engine_flags_are_user_errors(tmp_path, test_doubles, overrides, message):
    with pytest.raises(UserError, match=message):
        command.validate_args(_args(tmp_path, **overrides))


def test_flags_reach_the_command(tmp_path, doubles):
    from typer.testing import CliRunner

    from llemma_prove.cli import build_app

    data, run_dir = write_statements(tmp_path / "statements.jsonl"), tmp_path / "run"
    result = CliRunner().invoke(build_app(), [
        "minif2f", "--data", str(data), "--run-dir", str(run_dir), "--no-progress", "--concurrency", "4",
        "--batch-size", "2", "--batch-wait-ms", "1.5", "--cache", "--prover", "test-doubles",
        "--model-backend", "test-doubles"])
    assert result.exit_code == 0, result.output
    engine = json.loads((run_dir / "config.json").read_text())["engine"]
    assert engine == {"cache_file": str((run_dir / command.CACHE_FILE).resolve()), "batch_size": 2,
                      "batch_wait_ms": 1.5, "ray": None}
    assert len((run_dir / "results.jsonl").read_text().splitlines()) == len(NAMES)
