"""The built-in provers (lean, dojo, isabelle) and model backends (hf, vllm, openai) as plug-ins.

`pyproject.toml` publishes each value below under the entry-point groups of `plugins`, exactly as a
third-party package would publish its own. The heavy modules are imported only when one is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .config import ModelSpec, ProverSpec
from .errors import ProverUnavailable
from .plugins import ProposerPlugin, ProverPlugin
from .search.config import SearchConfig
from .types import Language, Theorem


def step_limit_s(search: SearchConfig) -> float:
    """The prover's per-tactic limit: the opt-in one, else (the paper's) only the theorem's clock."""
    return search.step_time_limit_s if search.step_time_limit_s is not None else search.time_limit_s


def _lean_repl(spec: ProverSpec, theorems: Sequence[Theorem], search: SearchConfig | None) -> Any:
    try:
        from .provers.lean import LeanOptions, LeanReplProver
    except ImportError as exc:
        raise ProverUnavailable(f"the Lean REPL backend cannot be imported ({exc})") from None
    options: dict[str, Any] = {}
    if spec.options.get("project_dir"):
        options["project_dir"] = Path(spec.options["project_dir"])
    if spec.options.get("workers"):
        options["workers"] = spec.options["workers"]
    if search is not None:
        options["step_timeout_s"] = step_limit_s(search)
    headers = {t.header for t in theorems}
    if len(headers) == 1:  # every miniF2F set has one header: import it once per REPL process
        options["header"] = headers.pop()
    return LeanReplProver(LeanOptions(**options))


def _dojo(spec: ProverSpec, theorems: Sequence[Theorem], search: SearchConfig | None) -> Any:
    from .provers.lean.dojo import LeanDojoProver

    # LeanDojo runs its final check through the Lean REPL
    timeout = int(search.time_limit_s) if search is not None else int(SearchConfig().time_limit_s)
    return LeanDojoProver(checker=_lean_repl(spec, theorems, search), timeout_s=timeout)


async def _lean_preflight(spec: ProverSpec) -> None:
    from .provers.lean import LeanOptions
    from .provers.lean.project import resolve_launch

    project = spec.options.get("project_dir")
    await resolve_launch(LeanOptions(project_dir=Path(project) if project else None))


def _isabelle(spec: ProverSpec, theorems: Sequence[Theorem], search: SearchConfig | None) -> Any:
    try:
        from .provers.isabelle.options import IsabelleOptions
        from .provers.isabelle.prover import PisaProver
    except ImportError as exc:
        raise ProverUnavailable(f"the Isabelle backend cannot be imported ({exc})") from None
    return PisaProver(IsabelleOptions.from_env())


async def _isabelle_preflight(spec: ProverSpec) -> None:
    from .provers.isabelle.health import blocking_problems, isabelle_health, unavailable_message
    from .provers.isabelle.options import IsabelleOptions

    problems = blocking_problems(isabelle_health(IsabelleOptions.from_env()))
    if problems:
        raise ProverUnavailable(unavailable_message(problems))


LEAN = ProverPlugin("lean", _lean_repl, Language.LEAN4, _lean_preflight, uses_lean_project=True,
                    description="Lean 4 through the Lean REPL (leanprover-community/repl)")
DOJO = ProverPlugin("dojo", _dojo, Language.LEAN4, _lean_preflight, uses_lean_project=True,
                    description="Lean 4 through LeanDojo (lean-dojo 4.20.0); final check through the REPL")
ISABELLE = ProverPlugin("isabelle", _isabelle, Language.ISABELLE, _isabelle_preflight,
                        description="Isabelle through PISA, final check through the Isabelle server")


def _model(kind: str, spec: ModelSpec) -> Any:
    from .proposers import build_language_model

    options: dict[str, Any] = {"model_id": spec.model_id}
    for key in ("endpoint", "device", "dtype"):
        if getattr(spec, key, None) is not None:
            options[key] = getattr(spec, key)
    return build_language_model(kind, **options)


def _hf(spec: ModelSpec) -> Any:
    return _model("hf", spec)


def _vllm(spec: ModelSpec) -> Any:
    return _model("vllm", spec)


def _openai(spec: ModelSpec) -> Any:
    return _model("openai", spec)


HF = ProposerPlugin("hf", build_model=_hf, description="a local model through transformers")
VLLM = ProposerPlugin("vllm", build_model=_vllm, description="a local model through vLLM (CUDA GPUs)")
OPENAI = ProposerPlugin("openai", build_model=_openai, remote=True,
                        description="an OpenAI-compatible completions server (--endpoint URL)")
