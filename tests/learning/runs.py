"""Run directories made in-process with the scripted doubles (no model): inputs for the dataset tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from llemma_prove.config import ModelSpec
from llemma_prove.runner import Runner, RunnerOptions
from llemma_prove.search import SearchConfig
from llemma_prove.store import RunStore
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves
from tests.runner.common import config, theorem


async def scripted_run(run_dir: Path, names: Sequence[str], split: str = "valid", dead: Sequence[str] = (),
                       reject: Sequence[str] = (), odd: Sequence[str] = (), model: str = "tiny",
                       prompt_sha256: str | None = None) -> Path:
    """Each theorem: `intro h` then `exact h` (a dead end fails there; `simp` always fails). A theorem in
    `odd` is closed by a tactic holding the stop string `---`, which no model could ever write."""
    script, table, roots = {}, {}, {}
    for name in names:
        root, middle = f"⊢ {name}", f"h : {name}\n⊢ rest"
        roots[name] = root
        table[root] = [("intro h", -0.1), ("simp", -0.9)]
        last = "exact h -- ---" if name in odd else "exact h"
        table[middle] = [(last, -0.2)]
        script[root] = {"intro h": goes_to(middle), "simp": fails("simp made no progress")}
        script[middle] = {last: fails("type mismatch") if name in dead else proves()}
    # The model spec is set here, not taken from the runner tests' defaults: which prompt a run records
    # is what the dataset tests are about (None: no recorded hash to check against).
    run_config = replace(config(names, split=split, model_id=model),
                         model=ModelSpec(model_id=model, prompt_sha256=prompt_sha256))
    prover, proposer = ScriptedProver(script, roots, reject=list(reject)), ScriptedProposer(table)
    with RunStore.open(run_dir, run_config) as store:
        runner = Runner(prover, proposer, SearchConfig.paper(), store, RunnerOptions(show_progress=False))
        await runner.run([theorem(n, split) for n in names])
    return run_dir
