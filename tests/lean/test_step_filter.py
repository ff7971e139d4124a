"""The text filter on the search's step path: a refused tactic is an error outcome and never reaches Lean."""

from __future__ import annotations

import json
from pathlib import Path

from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.dojo import LeanDojoProver
from llemma_prove.types import OutcomeKind, Theorem

from . import fake_lean_dojo as fake
from .conftest import fake_options
from .test_dojo import THEOREM as DOJO_THEOREM
from .test_dojo import world  # noqa: F401  (the fixture)

REFUSED = [
    "set_option «debug».skipKernelTC true in\n  decide",
    "run_tac Lean.Elab.admitGoal (← Lean.Elab.Tactic.getMainGoal)",
    "have _c : Char := '\"'\n  set_option debug.skipKernelTC true in decide",
    "exact toy",
    "native_decide",
]


async def test_refused_tactics_never_reach_the_repl(tmp_path: Path, no_leftover_children) -> None:
    log = tmp_path / "requests.jsonl"
    prover = LeanReplProver(fake_options("--synthetic", "--log", str(log)))
    await prover.start()
    try:
        session = await prover.open(Theorem("toy", "theorem toy : True := by sorry"))
        root = await session.initial_state()
        for tactic in REFUSED:
            outcome = await session.step(root, tactic)
            assert outcome.kind is OutcomeKind.ERROR and outcome.message.startswith("refused by the text filter"), outcome
        allowed = await session.step(root, "simp")
        assert allowed.kind is OutcomeKind.GOALS
        await session.close()
    finally:
        await prover.close()
    tactics = [json.loads(line).get("tactic") for line in log.read_text(encoding="utf-8").splitlines()]
    assert [t for t in tactics if t] == ["simp"]


async def test_refused_tactics_never_reach_lean_dojo(world) -> None:  # noqa: F811
    prover = LeanDojoProver(dojo_module=fake)
    await prover.start()
    session = await prover.open(DOJO_THEOREM)
    root = await session.initial_state()
    outcome = await session.step(root, "set_option debug.«skipKernelTC» true in norm_num")
    assert outcome.kind is OutcomeKind.ERROR and "text filter" in outcome.message
    assert world.calls == []
    await prover.close()
