"""The assembly module builds a run's parts from its configuration values alone: the prover by plug-in
name, the proposer (the backend's own, or its model with the prompt), the cache and batching fronts as
`EngineSpec` says; the prover spec records the Lake project's toolchain."""

from __future__ import annotations

from dataclasses import replace

from llemma_prove import assembly, plugins
from llemma_prove.config import EngineSpec, ModelSpec, ProverSpec, RunConfig
from llemma_prove.data.minif2f import StatementSource
from llemma_prove.proposers.batching import BatchingProposer
from llemma_prove.provers.cache import CachingProver
from llemma_prove.search import SearchConfig
from llemma_prove.types import Language, Theorem
from tests.doubles.scripted import ScriptedProposer, ScriptedProver

THEOREMS = (Theorem("t1", "theorem t1 : True := by sorry"), Theorem("t2", "theorem t2 : True := by sorry"))


def _config(engine: EngineSpec) -> RunConfig:
    source = StatementSource(statement_set="local", path="statements.jsonl", sha256="0" * 64)
    return RunConfig(split="test", statements=source, search=SearchConfig.paper(),
                     model=ModelSpec(model_id="m", backend="test-doubles"),
                     prover=ProverSpec(name="test-doubles"), concurrency=2, engine=engine)


def test_components_follow_the_engine_spec(tmp_path, test_doubles):
    prover, proposer = assembly.build_components(_config(EngineSpec()), THEOREMS)
    assert isinstance(prover, ScriptedProver) and isinstance(proposer, ScriptedProposer)
    engine = assembly.engine_spec(tmp_path / "cache.sqlite", concurrency=2, batch_size=8, batch_wait_ms=1.0)
    prover, proposer = assembly.build_components(_config(engine), THEOREMS)
    assert isinstance(prover, CachingProver) and isinstance(prover.inner, ScriptedProver)
    assert isinstance(proposer, BatchingProposer) and proposer.max_batch_size == 8
    assert assembly.engine_spec(None, concurrency=1, batch_size=8, batch_wait_ms=1.0).batch_size is None


def test_a_model_backend_is_wrapped_with_the_prompt_of_the_prover_language():
    built = []

    class Model:
        name = "stand-in"

        async def generate(self, prompts, params):
            raise AssertionError("not called here")

        async def close(self):
            pass

    backend = plugins.ProposerPlugin("stand-in-model", build_model=lambda spec: built.append(spec) or Model())
    with plugins.registered(plugins.PROPOSERS, backend):
        spec = ModelSpec(model_id="m", backend="stand-in-model")
        lean = assembly.build_proposer(spec, Language.LEAN4)
        isabelle = assembly.build_proposer(spec, Language.ISABELLE)
    assert built == [spec, spec]
    assert type(lean).__name__ == "TacticProposer" and type(isabelle).__name__ == "HammerCandidates"


def test_prover_spec_reads_the_lake_projects_toolchain(tmp_path):
    (tmp_path / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n", encoding="utf-8")
    spec = assembly.prover_spec("lean", tmp_path, workers=3)
    assert spec.toolchain == "leanprover/lean4:v4.24.0"
    assert spec.options == {"project_dir": str(tmp_path.resolve()), "workers": 3}
    assert assembly.prover_spec("isabelle", tmp_path, workers=3) == ProverSpec(name="isabelle")


def test_lean_prover_gets_the_step_limit_and_the_one_header(tmp_path):
    spec = replace(assembly.prover_spec("lean", tmp_path), options={"project_dir": str(tmp_path)})
    search = SearchConfig.improved()
    prover = assembly.build_prover(spec, THEOREMS, search)
    assert prover.options.step_timeout_s == search.step_time_limit_s
    assert prover.options.header == THEOREMS[0].header and prover.options.project_dir == tmp_path
