"""Test doubles for the Ray tests: an importable factory that Ray workers call to build their parts.

`build(names, ...)` returns the scripted prover and proposer of `tests.runner.common.doubles` (every
theorem: `intro h` then `exact h`), wrapped in a `BatchingProposer` as a real worker would be. Extra
knobs make a worker misbehave on purpose: `slow` theorems take `slow_delay_s` per step, and opening a
`crash` theorem kills the worker process outright (a lost node, as Ray sees it).
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

from llemma_prove.errors import ProverUnavailable
from llemma_prove.proposers.batching import BatchingProposer
from tests.doubles.scripted import ScriptedProver, goes_to, proves
from tests.runner.common import doubles


class _CrashingProver(ScriptedProver):
    def __init__(self, *args, crash: Iterable[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.crash = set(crash)

    async def open(self, theorem):
        if theorem.name in self.crash:
            os._exit(17)  # the worker process dies mid-run, without any cleanup
        return await super().open(theorem)


def build(names: Sequence[str], dead: Sequence[str] = (), slow: Sequence[str] = (), slow_delay_s: float = 1.0,
          crash: Sequence[str] = ()) -> tuple[ScriptedProver, BatchingProposer]:
    base, proposer = doubles(names, dead=dead)
    script = dict(base.script)
    for name in slow:  # same proof, each step slow
        root, middle = f"⊢ {name}", f"h : {name}\n⊢ rest"
        script[root] = {**script[root], "intro h": goes_to(middle, slow_delay_s)}
        script[middle] = {"exact h": proves(slow_delay_s)}
    prover = _CrashingProver(script, base.roots, crash=crash)
    return prover, BatchingProposer(proposer, max_batch_size=8, max_wait_ms=1)


def no_lean(names: Sequence[str]) -> tuple[ScriptedProver, BatchingProposer]:
    """A worker whose prover cannot start, as on a node without Lean."""

    class _Missing(ScriptedProver):
        async def start(self) -> None:
            raise ProverUnavailable("lake not found on this node; run `llemma-prove setup lean` there")

    base, proposer = doubles(names)
    return _Missing(base.script, base.roots), BatchingProposer(proposer)
