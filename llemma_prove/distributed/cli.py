"""`llemma-prove minif2f --ray`: the command's run, with the searches on Ray workers.

Everything before (validation, statements, run directory) and after (summary) is the command's own;
this module only replaces "build prover and model here, run `Runner`" with "workers build them on
every node (through `llemma_prove.assembly`, from the run's configuration), `RayRunner` collects the
results into this process's store". The plug-ins are resolved here and travel to the workers by
reference, so a worker builds exactly what the driver chose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..assembly import record_cache_stats
from ..config import RunConfig
from ..plugins import proposer_plugin, prover_plugin
from ..types import Theorem
from .factory import ComponentFactory
from .ray_runner import RayOptions, RayRunner


async def run_on_ray(config: RunConfig, theorems: Sequence[Theorem], run_dir: Path, template: Any, *,
                     resume: bool = True, force: bool = False, retry_errors: bool = False, progress: bool = True,
                     err_console: Any = None) -> Any:
    """Run the configuration's theorems on Ray; returns the run's summary."""
    from ..report import summarise
    from ..store import RunStore

    backend = proposer_plugin(config.model.backend)
    factory = ComponentFactory(
        "llemma_prove.distributed.components:minif2f_components",
        (tuple(theorems), config),
        {"template": template, "prover_plugin": prover_plugin(config.prover.name), "proposer_plugin": backend},
    )
    options = RayOptions(
        address=config.engine.ray,
        searches_per_worker=config.concurrency,
        # a local model engine gets a GPU on nodes that have one; a shared endpoint needs none
        gpus_per_worker=None if not backend.remote and config.model.device != "cpu" else 0.0,
        theorem_timeout_s=None,  # the search's clock is hard and leaves queueing out; a cap here would not
        show_progress=progress,
    )
    with RunStore.open(run_dir, config, resume=resume, force=force, retry_errors=retry_errors) as store:
        if err_console is not None:
            where = "a local Ray cluster" if options.local else f"the Ray cluster at {config.engine.ray}"
            err_console.print(f"run directory: {run_dir}  ({len(theorems)} theorems, "
                              f"{len(store.finished() & set(config.selection))} already finished) on {where}")
        runner = RayRunner(factory, config.search, store, options, console=err_console)
        await runner.run(theorems)
        record_cache_stats(store, runner.stats.cache(), err_console)
        return summarise(store.config, store.records())
