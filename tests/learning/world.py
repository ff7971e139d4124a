"""A small world for the learning tests: scripted Lean stand-in, real tiny model, a prompt file.

Theorems `a*` can be proved with the scripted candidates alone (`intro h`, then `exact h`); theorems `b*`
get `intro h` from the script but their second step only from the model. The tiny random model never
writes `exact h`; a model fine-tuned on the `a*` proofs does. So the loop proves more after a round of
learning, and its data grows, only if every part works: data from runs, the exact prompt text, training,
saving, loading the checkpoint, and proposing with it.

`PROVER` and `PROPOSER` are the minif2f command's plug-ins for this world (`--prover learning-world
--model-backend learning-world`, published by tests/plugin_dist): a `ScriptedProver`
(tests/doubles/scripted.py) and a proposer that merges the scripted candidates with those of the real
`TacticProposer` over the model directory the round passes as `--model`, with the run's prompt. `LLEMMA_PROVE_TEST_STEP_DELAY` slows each prover step.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from llemma_prove.plugins import ProposerPlugin, ProverPlugin
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


def _script(theorems: Sequence[Theorem]) -> tuple[dict, dict, dict]:
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
    return script, roots, table


def _prover(spec: Any, theorems: Sequence[Theorem], search: Any) -> ScriptedProver:
    script, roots, _ = _script(theorems)
    return ScriptedProver(script, roots)


def _proposer(spec: Any, theorems: Sequence[Theorem], template: Any) -> WorldProposer:
    from llemma_prove.proposers import TacticProposer, build_language_model

    assert template is not None, "the learning world runs with --prompt FILE (the training text's prompt)"
    model = build_language_model("hf", model_id=spec.model_id, device="cpu", max_batch_size=8)
    return WorldProposer(TacticProposer(model, template), _script(theorems)[2])


PROVER = ProverPlugin("learning-world", _prover, description="scripted Lean stand-in of the learning tests")
PROPOSER = ProposerPlugin("learning-world", build_proposer=_proposer,
                          description="scripted candidates + the real tiny model (learning tests)")
