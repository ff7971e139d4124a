"""`llemma-prove minif2f --ray`: the command's run, with the searches on Ray workers.

Everything before (validation, statements, run directory) and after (summary) is the command's own;
this module only replaces "build prover and model here, run `Runner`" with "workers build them on
every node, `RayRunner` collects the results into this process's store".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from ..config import RunConfig
from ..search import SearchConfig
from ..types import Theorem
from .factory import ComponentFactory
from .ray_runner import RayOptions, RayRunner


async def run_on_ray(args: Any, theorems: Sequence[Theorem], config: RunConfig, run_dir: Path,
                     search: SearchConfig, template: Any, err_console: Any = None) -> Any:
    """Run the command's theorems on Ray; returns the run's summary."""
    from ..commands.minif2f import TEST_DOUBLES_ENV, cache_path, record_cache_stats
    from ..report import summarise
    from ..store import RunStore

    cache_file = cache_path(args, run_dir)
    factory = ComponentFactory(
        "llemma_prove.distributed.components:minif2f_components",
        (tuple(theorems), args),
        {"template": template, "doubles": os.environ.get(TEST_DOUBLES_ENV) or None,
         "cache_file": str(cache_file) if cache_file else None},
    )
    options = RayOptions(
        address=args.ray,
        searches_per_worker=args.concurrency,
        # a local model engine gets a GPU on nodes that have one; a shared endpoint needs none
        gpus_per_worker=None if args.model_backend != "openai" and args.device != "cpu" else 0.0,
        theorem_timeout_s=None,  # the search's clock is hard and leaves queueing out; a cap here would not
        show_progress=args.progress,
    )
    with RunStore.open(run_dir, config, resume=args.resume, force=args.force, retry_errors=args.retry_errors) as store:
        if err_console is not None:
            where = "a local Ray cluster" if options.local else f"the Ray cluster at {args.ray}"
            err_console.print(f"run directory: {run_dir}  ({len(theorems)} theorems, "
                              f"{len(store.finished() & set(config.selection))} already finished) on {where}")
        runner = RayRunner(factory, search, store, options, console=err_console)
        await runner.run(theorems)
        record_cache_stats(store, runner.stats.cache(), err_console)
        return summarise(store.config, store.records())
