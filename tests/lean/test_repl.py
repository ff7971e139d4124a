"""The single-process driver on the stand-in REPL (test double): header environments, limits, restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llemma_prove.errors import ProverError
from llemma_prove.provers.lean.messages import CommandRequest, CommandResponse, TacticRequest, TacticResponse
from llemma_prove.provers.lean.repl import ReplCrashed, ReplTimeout, imports_covered

from .conftest import fake_repl

HEADER = "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n"


def received(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


async def test_header_is_imported_once_and_other_headers_reuse_the_imports(tmp_path: Path, no_leftover_children) -> None:
    log = tmp_path / "requests.jsonl"
    repl = fake_repl("--synthetic", "--log", str(log), header=HEADER)
    await repl.start()
    try:
        assert received(log) == [
            {"cmd": "import Mathlib\nimport Aesop"},
            {"cmd": "set_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat", "env": 0},
        ]
        assert (repl.import_env, repl.base_env) == (0, 1)
        assert await repl.env_for_header(HEADER, 5) == 1
        # another header over the same imports: its options run once on the imports, then are cached
        other = "import Mathlib\nopen Real\n"
        env = await repl.env_for_header(other, 5)
        assert await repl.env_for_header(other, 5) == env == 2
        assert received(log)[-1] == {"cmd": "open Real", "env": 0}
        # no header at all: the imports alone, without the process header's `open`s
        assert await repl.env_for_header("", 5) == 0
        with pytest.raises(ProverError, match="imports MiniF2F.Minif2fImport"):
            await repl.env_for_header("import MiniF2F.Minif2fImport\n", 5)
    finally:
        await repl.close()


def test_imports_covered_by_mathlib() -> None:
    assert imports_covered(["Mathlib", "Aesop", "Mathlib.Tactic.Cases"], ["Mathlib"])
    assert not imports_covered(["Mathlib"], ["Mathlib.Tactic.Cases"])
    assert not imports_covered(["MiniF2F.Minif2fImport"], ["Mathlib"])


async def test_timeout_kills_the_group_and_a_restart_forgets_the_ids(no_leftover_children) -> None:
    repl = fake_repl("--synthetic", "--hang-on", "loop_forever", "--spawn-grandchild", header="import Mathlib")
    await repl.start()
    opened = await repl.request(CommandRequest("theorem t : True := by sorry", env=repl.base_env), 5)
    assert isinstance(opened, CommandResponse)
    token = repl.token
    with pytest.raises(ReplTimeout) as info:
        await repl.request(TacticRequest("loop_forever", opened.sorries[0].proof_state), 0.3)
    assert 0.25 < info.value.elapsed_s < 2 and not repl.alive and repl.needs_restart
    with pytest.raises(ReplCrashed):
        await repl.request(TacticRequest("simp", 0), 1)
    await repl.ensure_ready()
    assert repl.alive and repl.token != token and repl.restarts == 1
    reopened = await repl.request(CommandRequest("theorem t : True := by sorry", env=repl.base_env), 5)
    step = await repl.request(TacticRequest("simp", reopened.sorries[0].proof_state), 5)
    assert isinstance(step, TacticResponse) and step.goals == ("⊢ t ▸ simp",)
    await repl.close()


async def test_restart_after_the_request_quota(no_leftover_children) -> None:
    repl = fake_repl("--synthetic", header="", max_requests=3)
    await repl.start()
    for _ in range(3):
        await repl.request(CommandRequest("def x := 1"), 5)
    assert repl.needs_restart
    old = repl.pid
    await repl.ensure_ready()
    assert repl.pid != old and repl.requests == 0 and repl.total_requests == 3
    await repl.close()
