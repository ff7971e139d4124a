"""Test doubles for running the real `llemma-prove minif2f` command without Lean or a model.

`PROVER` and `PROPOSER` (bottom) are these doubles as plug-ins: `--prover test-doubles --model-backend
test-doubles` (installed through tests/plugin_dist, or registered in-process by the `test_doubles`
fixture of tests/conftest.py). Every theorem gets a two-step
scripted proof; which theorems are provable, rejected by the final check, or dead ends is decided by
the theorem name (`outcome_for`), so a test can compute the expected results independently.
`LLEMMA_PROVE_TEST_STEP_DELAY` (seconds per tactic step) slows the run down so that a test can kill
it mid-way.
"""

from __future__ import annotations

import os
import zlib
from typing import Any, Sequence

from llemma_prove.plugins import ProposerPlugin, ProverPlugin
from llemma_prove.types import Theorem
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves

PROVED, REJECTED, DEAD_END = "proved", "rejected", "dead-end"


def outcome_for(name: str) -> str:
    """What the doubles do with a theorem: stable across processes (crc32, not Python's hash)."""
    bucket = zlib.crc32(name.encode()) % 5
    return {0: DEAD_END, 1: REJECTED}.get(bucket, PROVED)


def build(theorems: Sequence[Theorem], args: Any) -> tuple[ScriptedProver, ScriptedProposer]:
    delay = float(os.environ.get("LLEMMA_PROVE_TEST_STEP_DELAY", "0"))
    script: dict[str, dict] = {}
    table: dict[str, list[tuple[str, float]]] = {}
    roots: dict[str, str] = {}
    rejected = []
    for theorem in theorems:
        root, middle = f"⊢ {theorem.name}", f"h : {theorem.name}\n⊢ rest"
        roots[theorem.name] = root
        table[root] = [("intro h", -0.1), ("simp", -0.9)]
        table[middle] = [("exact h", -0.2)]
        kind = outcome_for(theorem.name)
        script[root] = {"intro h": goes_to(middle, delay), "simp": fails("simp made no progress", delay)}
        script[middle] = {"exact h": proves(delay) if kind != DEAD_END else fails("type mismatch", delay)}
        if kind == REJECTED:
            rejected.append(theorem.name)
    return ScriptedProver(script, roots, reject=rejected), ScriptedProposer(table)


# -- the same doubles as plug-ins (tests/plugin_dist publishes these under the name "test-doubles") ------


def _prover(spec: Any, theorems: Sequence[Theorem], search: Any) -> ScriptedProver:
    return build(theorems, None)[0]


def _proposer(spec: Any, theorems: Sequence[Theorem], template: Any) -> ScriptedProposer:
    return build(theorems, None)[1]


PROVER = ProverPlugin("test-doubles", _prover, description="scripted stand-in prover (tests only)")
PROPOSER = ProposerPlugin("test-doubles", build_proposer=_proposer, description="scripted stand-in proposer (tests only)")
