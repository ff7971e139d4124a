"""A small world for the learning tests: scripted Lean stand-in, real tiny model, a prompt file.

Theorems `a*` can be proved with the scripted candidates alone (`intro h`, then `exact h`); theorems `b*`
get `intro h` from the script but their second step only from the model. The tiny random model never
writes `exact h`; a model fine-tuned on the `a*` proofs does. So the loop proves more after a round of
learning, and its data grows, only if every part works: data from runs, the exact prompt text, training,
saving, loading the checkpoint, and proposing with it.

`build(theorems, args)` is the minif2f command's test-doubles factory
(`LLEMMA_PROVE_TEST_DOUBLES=tests.learning.world:build`): a `ScriptedProver` (tests/doubles/scripted.py)
and a proposer that merges the scripted candidates with those of the real `TacticProposer` over the model
directory the round passes as `--model`. `LLEMMA_PROVE_TEST_STEP_DELAY` slows each prover step.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from llemma_prove.types import Candidate, ProposalRequest, SamplingParams, Theorem
from tests.doubles.scripted import ScriptedProver, goes_to, proves

HEADER = "import Mathlib\n\n"
A_NAMES = ("a0", "a1")
B_NAMES = ("b0", "b1")
SCRIPTED_SCORE = -0.01  # above any model candidate, so the scripted ones run first


def root(name: str) -> str:
    return f"⊢ {name}"


def middle(name: str) -> str:
    return f"h : {name}\n⊢ rest"


def write_data(path: Path, names: Sequence[str] = A_NAMES + B_NAMES, split: str = "valid") -> Path:
    rows = [{"name": n, "split": split, "header": HEADER, "formal_statement": f"theorem {n} : True := by sorry"}
            for n in names]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_prompt(path: Path) -> Path:
    """The project's packaged Lean 4 prompt, as a prompt file (so every round uses one fixed prompt)."""
    from importlib import resources

    text = resources.files("llemma_prove.proposers.templates").joinpath("lean4_next_tactic.json").read_text("utf-8")
    path.write_text(text, encoding="utf-8")
    return path


class WorldProposer:
    """Scripted candidates for (theorem, state), then the real proposer's."""

    def __init__(self, inner: Any, table: dict[tuple[str, str], list[str]]) -> None:
        self.inner = inner
        self.table = table

    async def propose(self, requests: Sequence[ProposalRequest], params: SamplingParams) -> list[list[Candidate]]:
        from_model = await self.inner.propose(requests, params)
        out = []
        for request, model_candidates in zip(requests, from_model):
            scripted = [Candidate(t, SCRIPTED_SCORE) for t in self.table.get((request.theorem.name, request.state.text), [])]
            out.append(scripted + list(model_candidates))
        return out

    async def close(self) -> None:
        await self.inner.close()


def build(theorems: Sequence[Theorem], args: Any) -> tuple[ScriptedProver, WorldProposer]:
    from llemma_prove.proposers import TacticProposer, build_language_model
    from llemma_prove.proposers.prompts import PromptTemplate

    delay = float(os.environ.get("LLEMMA_PROVE_TEST_STEP_DELAY", "0"))
    script, roots, table = {}, {}, {}
    for theorem in theorems:
        name = theorem.name
        roots[name] = root(name)
        script[root(name)] = {"intro h": goes_to(middle(name), delay)}
        script[middle(name)] = {"exact h": proves(delay)}
        table[(name, root(name))] = ["intro h"]
        if name.startswith("a"):
            table[(name, middle(name))] = ["exact h"]
    model = build_language_model("hf", model_id=args.model, device="cpu", max_batch_size=8)
    proposer = TacticProposer(model, PromptTemplate.load(args.prompt))
    return ScriptedProver(script, roots), WorldProposer(proposer, table)
