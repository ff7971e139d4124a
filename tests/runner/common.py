"""Shared builders for the runner, store and report tests (configurations, theorems, scripted doubles)."""

from __future__ import annotations

from typing import Iterable, Sequence

from llemma_prove.config import ModelSpec, ProverSpec, RunConfig
from llemma_prove.data.minif2f import StatementSource
from llemma_prove.proposers.prompts import HARNESS_PROMPT_SHA256
from llemma_prove.search import SearchConfig
from llemma_prove.types import Theorem
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves

HEADER = "import Mathlib\n\nset_option maxHeartbeats 0\n\n"
SOURCE = StatementSource(statement_set="lean4-v4.24.0", repo="yangky11/miniF2F-lean4", commit="5746b7d6" * 5)


def theorem(name: str, split: str = "test") -> Theorem:
    return Theorem(name, f"theorem {name} (x : ℕ) : x = x := by sorry", header=HEADER, split=split,
                   statement_set="lean4-v4.24.0")


def config(
    names: Sequence[str] = (),
    split: str = "test",
    search: SearchConfig | None = None,
    model_id: str = "EleutherAI/llemma_7b",
    prompt_path: str | None = None,
    prover: str = "lean",
) -> RunConfig:
    return RunConfig(
        split=split,
        statements=SOURCE,
        search=search or SearchConfig.paper(),
        # No prompt file: the harness's prompt, as a default run records it.
        model=ModelSpec(model_id=model_id, prompt_path=prompt_path,
                        prompt_sha256="ab" * 32 if prompt_path else HARNESS_PROMPT_SHA256,
                        prompt_source=prompt_path or "wellecks/llemma_formal2formal@0931a1e27ede:proofsearch.py#_prompt_fewshot"),
        prover=ProverSpec(name=prover),
        selection=tuple(names),
    )


def doubles(
    names: Iterable[str], dead: Iterable[str] = (), reject: Iterable[str] = (), delay_s: float = 0.0
) -> tuple[ScriptedProver, ScriptedProposer]:
    """Each theorem: `intro h` then `exact h` proves it, unless it is a dead end; `simp` always fails."""
    dead = set(dead)
    script, table, roots = {}, {}, {}
    for name in names:
        root, middle = f"⊢ {name}", f"h : {name}\n⊢ rest"
        roots[name] = root
        table[root] = [("intro h", -0.1), ("simp", -0.9)]
        table[middle] = [("exact h", -0.2)]
        script[root] = {"intro h": goes_to(middle, delay_s), "simp": fails("simp made no progress")}
        script[middle] = {"exact h": fails("type mismatch") if name in dead else proves(delay_s)}
    return ScriptedProver(script, roots, reject=list(reject)), ScriptedProposer(table)
