"""Run directories made by the real runner and store with scripted test doubles, for the plot, compare
and `show` tests (and the example images in docs/images, which say they come from stand-in runs).

Each theorem has a main line of `depth` steps (`step_1`, `step_2`, ...), and at every state a side
branch into a state where everything fails, a tactic the prover rejects and one that times out, so the
search graph has expanded, queued, failed, timed-out and proving nodes. A dead theorem's last step
fails, so its search runs out of states.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterable, Mapping

from llemma_prove.runner import Runner, RunnerOptions
from llemma_prove.search import SearchConfig
from llemma_prove.store import RunStore
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves, times_out
from tests.runner.common import config, theorem


def _script(name: str, depth: int, dead: bool, delay_s: float, script: dict, table: dict) -> str:
    states = [f"x : ℕ\nh₀ : 0 < x\n⊢ {name} goal {k}" for k in range(depth)]
    for k, state in enumerate(states):
        side = f"x : ℕ\nh₁ : x ≠ 0\n⊢ {name} side {k}"
        last = k == depth - 1
        main = (fails("unsolved goals", delay_s) if dead else proves(delay_s)) if last else goes_to(states[k + 1], delay_s)
        table[state] = [(f"step_{k + 1}", -0.1 * (k + 1)), ("nlinarith [sq_nonneg x]", -0.4),
                        ("simp", -0.9), ("omega", -1.3)]
        script[state] = {
            f"step_{k + 1}": main,
            "nlinarith [sq_nonneg x]": goes_to(side, delay_s),
            "simp": fails("simp made no progress", delay_s),
            "omega": times_out(delay_s),
        }
        table[side] = [("positivity", -0.2), ("norm_num", -0.6)]
        script[side] = {"positivity": fails("failed to prove positivity", delay_s),
                        "norm_num": fails("linarith failed to find a contradiction", delay_s)}
    return states[0]


def build_run(run_dir: Path, depths: Mapping[str, int], dead: Iterable[str] = (), reject: Iterable[str] = (),
              search: SearchConfig | None = None, prover: str = "test-doubles", model_id: str = "EleutherAI/llemma_7b",
              delay_s: float = 0.0, concurrency: int = 2) -> Path:
    """Run every theorem of `depths` through the real runner into `run_dir`; returns `run_dir`."""
    dead = set(dead)
    script: dict = {}
    table: dict = {}
    roots = {name: _script(name, d, name in dead, delay_s, script, table) for name, d in depths.items()}
    doubles = ScriptedProver(script, roots, reject=list(reject)), ScriptedProposer(table)
    names = list(depths)
    search = search or SearchConfig.paper()

    async def run() -> None:
        with RunStore.open(run_dir, config(names, search=search, prover=prover, model_id=model_id)) as store:
            await Runner(*doubles, search, store, RunnerOptions(concurrency=concurrency, show_progress=False)).run(
                [theorem(n) for n in names])

    asyncio.run(run())
    return run_dir
