"""The factory Ray workers of `llemma-prove minif2f --ray` call: the same prover and proposer the local
command builds, with batching and the tactic cache, assembled by `llemma_prove.assembly` from the run's
configuration."""

from __future__ import annotations

from typing import Any, Sequence

from .. import plugins
from ..assembly import build_components
from ..config import RunConfig
from ..interfaces import Proposer, Prover
from ..types import Theorem


def minif2f_components(
    theorems: Sequence[Theorem], config: RunConfig, template: Any = None,
    prover_plugin: plugins.ProverPlugin | None = None, proposer_plugin: plugins.ProposerPlugin | None = None,
) -> tuple[Prover, Proposer]:
    """Build on the worker's node. The driver's plug-ins (shipped by reference) are registered here
    first, so a plug-in the driver registered in-process resolves on the worker too."""
    if prover_plugin is not None:
        plugins.register(plugins.PROVERS, prover_plugin)
    if proposer_plugin is not None:
        plugins.register(plugins.PROPOSERS, proposer_plugin)
    return build_components(config, theorems, template)
