"""`llemma-prove doctor`: what is installed, what is missing, and what to do about each missing piece.

Every check returns a `HealthCheck`; none raises. Only the core Python packages are `required` (the
program cannot run without them); Lean, Isabelle, a GPU and model weights are what runs need, and
their absence is reported with advice, not as a failure of the installation.
"""

from __future__ import annotations

import logging
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from .config import DEFAULT_MODEL
from .types import HealthCheck

log = logging.getLogger(__name__)

CORE_PACKAGES = ("torch", "transformers", "networkx", "typer", "rich", "psutil", "aiohttp", "grpcio", "protobuf")
OPTIONAL_PACKAGES = {
    "vllm": "pip install 'llemma-prove[vllm]' (fast batched generation on a GPU)",
    "lean-dojo": "pip install 'llemma-prove[dojo]' (LeanDojo's API of today, lean-dojo 4.20.0, --prover dojo)",
    "isabelle-client": "pip install 'llemma-prove[isabelle]' (final checks through the Isabelle server)",
    "ray": "pip install 'llemma-prove[ray]' (multi-machine runs)",
    "pygls": "pip install 'llemma-prove[lsp]' (editor integration)",
}


def package_checks() -> list[HealthCheck]:
    checks = []
    for name in CORE_PACKAGES:
        try:
            checks.append(HealthCheck(f"python: {name}", True, metadata.version(name)))
        except metadata.PackageNotFoundError:
            checks.append(HealthCheck(f"python: {name}", False, "not installed", "pip install -e . (or pip install llemma-prove)"))
    for name, advice in OPTIONAL_PACKAGES.items():
        try:
            checks.append(HealthCheck(f"python: {name}", True, metadata.version(name), required=False))
        except metadata.PackageNotFoundError:
            checks.append(HealthCheck(f"python: {name}", False, "not installed (optional)", advice, required=False))
    return checks


def gpu_checks() -> list[HealthCheck]:
    try:
        import torch
    except Exception as exc:  # a broken torch install must not break doctor
        return [HealthCheck("gpu", False, f"torch cannot be imported: {exc}", "pip install torch", required=False)]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return [HealthCheck("gpu", True, f"{len(names)} CUDA device(s): {', '.join(names)}", required=False)]
    return [HealthCheck(
        "gpu", False, f"no CUDA device visible to torch {torch.__version__}",
        "LLEMMA 7B needs a GPU with about 16 GB for practical speed; or use --model-backend openai "
        "--endpoint URL to a server that has one; --device cpu works but is very slow",
        required=False,
    )]


def _guarded(name: str, probe: Callable[[], list[HealthCheck]], advice: str, prefix: str) -> list[HealthCheck]:
    """Run a backend's own health probe; a missing or broken backend module is one failed check."""
    try:
        return [_optional(c, prefix) for c in probe()]
    except ImportError as exc:
        return [HealthCheck(name, False, f"backend not available: {exc}", advice, required=False)]
    except Exception as exc:
        log.debug("health probe %s failed", name, exc_info=True)
        return [HealthCheck(name, False, f"check failed: {type(exc).__name__}: {exc}", advice, required=False)]


def _optional(check: HealthCheck, prefix: str) -> HealthCheck:
    from dataclasses import replace

    name = check.name if check.name.startswith(prefix) else prefix + check.name
    return replace(check, name=name, required=False)


def lean_project_checks(project_dir: Path | None) -> list[HealthCheck]:
    def probe() -> list[HealthCheck]:
        from .provers.lean import lean_health

        return list(lean_health(project_dir))

    return _guarded("lean: Lake project and REPL", probe, "run `llemma-prove setup lean`", "lean: ")


def isabelle_checks(options: Any = None) -> list[HealthCheck]:
    def probe() -> list[HealthCheck]:
        from .provers.isabelle.health import isabelle_health
        from .provers.isabelle.options import IsabelleOptions

        return list(isabelle_health(options if options is not None else IsabelleOptions.from_env()))

    return _guarded("isabelle", probe, "only needed for --prover isabelle; run `llemma-prove setup isabelle`",
                    "isabelle: ")


def hf_cache_dir() -> Path:
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except Exception:
        home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
        return Path(home) / "hub"


def model_cache_checks(model_id: str = DEFAULT_MODEL) -> list[HealthCheck]:
    cache = hf_cache_dir()
    folder = cache / ("models--" + model_id.replace("/", "--"))
    snapshots = folder / "snapshots"
    present = snapshots.is_dir() and any(snapshots.iterdir())
    return [
        HealthCheck("model cache", cache.is_dir(), str(cache), "" if cache.is_dir() else
                    "created on the first model download (set HF_HOME to put it elsewhere)", required=False),
        HealthCheck(
            f"model: {model_id}", present, str(folder) if present else "not downloaded",
            "" if present else f"downloaded on first use (about 14 GB for llemma_7b), or ahead of time with "
            f"`hf download {model_id}`; offline machines: copy the HF cache over",
            required=False,
        ),
    ]


def plugin_checks() -> list[HealthCheck]:
    """What `--prover` and `--model-backend` can choose: every registered plug-in and where it comes from."""
    from .plugins import EDITOR_BACKENDS, PROPOSERS, PROVERS, sources

    checks = []
    for group, label in ((PROVERS, "--prover"), (PROPOSERS, "--model-backend"), (EDITOR_BACKENDS, "--backends")):
        for name, source in sources(group).items():
            checks.append(HealthCheck(f"plug-in: {label} {name}", True, source, required=False))
    return checks


def collect_checks(lean_project: Path | None = None, model_id: str = DEFAULT_MODEL) -> list[HealthCheck]:
    return [
        *package_checks(),
        *plugin_checks(),
        *gpu_checks(),
        *lean_project_checks(lean_project),
        *isabelle_checks(),
        *model_cache_checks(model_id),
    ]


def checks_table(checks: list[HealthCheck]) -> Any:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="llemma-prove doctor")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    table.add_column("what to do", overflow="fold")
    for check in checks:
        if check.ok:
            status = "[green]ok[/green]"
        elif check.required:
            status = "[red]missing[/red]"
        else:
            status = "[yellow]missing[/yellow]"
        table.add_row(escape(check.name), status, escape(check.detail), escape(check.advice))
    return table
