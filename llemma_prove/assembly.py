"""One place that assembles a run: from its frozen configuration values to the parts the engine runs.

`ProverSpec`, `ModelSpec`, `SearchConfig` and `EngineSpec` (inside `RunConfig`) are validated when
they are made; this module only turns them into things: the prover (by plug-in name), the model and
proposer with the run's prompt, the batching front for concurrent searches, and the tactic-outcome
cache. The commands, the Ray workers, the editor and autoformalization all build through here, so a
run is put together the same way wherever it runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

from .config import EngineSpec, ModelSpec, ProverSpec, RunConfig
from .errors import ModelLoadError
from .interfaces import LanguageModel, Proposer, Prover
from .plugins import ProposerPlugin, ProverPlugin, proposer_plugin, prover_plugin
from .search.config import SearchConfig
from .types import Language, Theorem

log = logging.getLogger(__name__)

LEAN_PROJECT_ENV = "LLEMMA_PROVE_LEAN_PROJECT"
CACHE_FILE = "tactic-cache.sqlite"


def lean_project_dir(explicit: Path | None = None) -> Path | None:
    """--lean-project, else $LLEMMA_PROVE_LEAN_PROJECT, else the repository's `lean_project/`."""
    if explicit is not None:
        return explicit
    if os.environ.get(LEAN_PROJECT_ENV):
        return Path(os.environ[LEAN_PROJECT_ENV]).expanduser()
    bundled = Path(__file__).resolve().parents[1] / "lean_project"
    return bundled if bundled.is_dir() else None


def prover_spec(name: str, lean_project: Path | None = None, workers: int | None = None) -> ProverSpec:
    """The prover's configuration value: its plug-in name, and for a Lean one the Lake project and its
    toolchain (read from `lean-toolchain`, so the run records what it ran)."""
    plugin = prover_plugin(name)
    options: dict[str, Any] = {}
    toolchain = None
    if plugin.uses_lean_project:
        project = lean_project_dir(lean_project)
        if project is not None:
            options["project_dir"] = str(project.resolve())
            toolchain_file = project / "lean-toolchain"
            if toolchain_file.is_file():
                toolchain = toolchain_file.read_text(encoding="utf-8").strip()
        if workers:
            options["workers"] = workers
    return ProverSpec(name=name, toolchain=toolchain, options=options)


def language_of(prover: str) -> Language:
    return prover_plugin(prover).language


async def preflight_prover(spec: ProverSpec) -> None:
    """Cheap installation check of the chosen prover: ProverUnavailable names what to install."""
    plugin: ProverPlugin = prover_plugin(spec.name)
    if plugin.preflight is not None:
        await plugin.preflight(spec)


def build_prover(spec: ProverSpec, theorems: Sequence[Theorem] = (), search: SearchConfig | None = None) -> Prover:
    """The prover `spec` names; nothing is started here (that is `await prover.start()`)."""
    return prover_plugin(spec.name).build(spec, tuple(theorems), search)


def build_model(spec: ModelSpec) -> LanguageModel:
    """Load the model (the slow part) through its backend plug-in."""
    plugin: ProposerPlugin = proposer_plugin(spec.backend)
    if plugin.build_model is None:
        raise ModelLoadError(f"model backend {spec.backend!r} proposes steps itself; it has no language model")
    return plugin.build_model(spec)


def prompt_for(language: Language, template: Any = None) -> Any:
    """The given prompt template, else the packaged one for `language`."""
    from . import proposers

    if template is not None:
        return template
    return proposers.default_isabelle_template() if language is Language.ISABELLE else proposers.default_lean4_template()


def wrap_model(model: LanguageModel, language: Language, template: Any = None) -> Proposer:
    """A next-step proposer from a loaded model: the prompt for the language, and for Isabelle
    Sledgehammer (after DSP's heuristic tactics) as one more candidate at every state."""
    from .proposers import TacticProposer

    proposer = TacticProposer(model, prompt_for(language, template))
    if language is Language.ISABELLE:
        from .provers.isabelle.prompt import HammerCandidates

        return HammerCandidates(proposer)
    return proposer


def build_proposer(spec: ModelSpec, language: Language, template: Any = None,
                   theorems: Sequence[Theorem] = ()) -> Proposer:
    """The run's proposer: the backend's own, or its model wrapped with the prompt."""
    plugin: ProposerPlugin = proposer_plugin(spec.backend)
    if plugin.build_proposer is not None:
        return plugin.build_proposer(spec, tuple(theorems), template)
    return wrap_model(build_model(spec), language, template)


def with_batching(proposer: Proposer, engine: EngineSpec) -> Proposer:
    """With several searches at once, one batching front gathers their generation requests."""
    from .proposers.batching import BatchingProposer

    if engine.batch_size is None or isinstance(proposer, BatchingProposer):
        return proposer
    return BatchingProposer(proposer, max_batch_size=engine.batch_size,
                            max_wait_ms=engine.batch_wait_ms if engine.batch_wait_ms is not None else 5.0)


def with_cache(prover: Prover, engine: EngineSpec) -> Prover:
    """The tactic-outcome cache in front of the prover, when the run has one."""
    if engine.cache_file is None:
        return prover
    from .provers.cache import CachingProver, TacticCache

    return CachingProver(prover, TacticCache(Path(engine.cache_file)))


def engine_spec(cache_file: Path | None, concurrency: int, batch_size: int, batch_wait_ms: float,
                ray: str | None = None) -> EngineSpec:
    """How the run executes: batching only with concurrent searches."""
    batching = concurrency > 1
    return EngineSpec(cache_file=str(cache_file) if cache_file else None,
                      batch_size=batch_size if batching else None,
                      batch_wait_ms=batch_wait_ms if batching else None, ray=ray)


def build_components(config: RunConfig, theorems: Sequence[Theorem], template: Any = None) -> tuple[Prover, Proposer]:
    """Prover and proposer of a run, with its cache and batching, built where they will run (a Ray
    worker); nothing is started."""
    prover = build_prover(config.prover, theorems, config.search)
    proposer = build_proposer(config.model, language_of(config.prover.name), template, theorems)
    return with_cache(prover, config.engine), with_batching(proposer, config.engine)


def record_cache_stats(store: Any, stats: dict[str, Any] | None, err_console: Any) -> None:
    """Show the tactic cache's hit rate and add it to summary.json / summary.md."""
    if not stats:
        return
    from .report import summarise, to_markdown

    lookups = stats["hits"] + stats["misses"]
    line = (f"tactic cache: {stats['hits']} of {lookups} steps answered from the cache "
            f"({100 * stats['hit_rate']:.1f}% hit rate), {stats['replays']} replays; {store.config.engine.cache_file}")
    summary = summarise(store.config, store.records())
    data = summary.to_json()
    data["tactic_cache"] = {**stats, "file": store.config.engine.cache_file}
    store.write_summary(data, to_markdown(summary) + f"\n{line[0].upper()}{line[1:]}.\n")
    if err_console is not None:
        err_console.print(line)


async def close_quietly(thing: Any) -> None:
    """Close a part; a failure is logged, never allowed to hide the run's own outcome."""
    close = getattr(thing, "close", None)
    if close is None:
        return
    try:
        await close()
    except Exception:
        log.exception("closing %r failed", thing)
