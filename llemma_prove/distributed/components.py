"""The factory Ray workers of `llemma-prove minif2f --ray` call: the same prover and proposer the local
command builds (or the test doubles it was told to use), with batching and the tactic cache applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..interfaces import Proposer, Prover
from ..types import Theorem
from .factory import ComponentFactory


def minif2f_components(
    theorems: Sequence[Theorem], args: Any, template: Any = None, doubles: str | None = None,
    cache_file: str | None = None,
) -> tuple[Prover, Proposer]:
    """Build on the worker's node. `args` is the command's `Minif2fArgs`; `doubles` names a test-double
    factory (`module:function`, called as `function(theorems, args)`) that replaces prover and model."""
    from ..commands import minif2f as command

    if doubles:
        prover, proposer = ComponentFactory(doubles, (tuple(theorems), args)).build()
    else:
        prover = command.build_prover(args, theorems, command.prover_spec(args), command.build_search_config(args))
        proposer = command.build_proposer(args, template)
    if cache_file:
        from ..provers.cache import CachingProver, TacticCache

        prover = CachingProver(prover, TacticCache(Path(cache_file)))
    return prover, command.with_batching(proposer, args)
