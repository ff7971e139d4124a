"""The configuration of one run: everything needed to reproduce it, written to `config.json`.

`identity()` is the part that must match for a re-run to resume into the same run directory; the
rest (device, endpoint, concurrency, package versions, which theorems this invocation asked for) may
change between invocations without changing what a result means.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any, Mapping

from . import __version__
from .data.minif2f import StatementSource
from .search.config import SearchConfig

DEFAULT_MODEL = "EleutherAI/llemma_7b"
VERSIONED_PACKAGES = ("torch", "transformers", "networkx", "typer", "rich", "vllm", "lean-dojo", "isabelle-client")


@dataclass(frozen=True)
class ModelSpec:
    """Which model proposes steps, through which backend, with which prompt."""

    model_id: str = DEFAULT_MODEL
    backend: str = "hf"  # hf | vllm | openai
    endpoint: str | None = None
    device: str | None = None
    dtype: str | None = None
    prompt_path: str | None = None  # a prompt file given by --prompt; None: the harness's or the builtin
    prompt_sha256: str | None = None  # `PromptTemplate.sha256`: the same prompt hashes the same from any file
    prompt_source: str | None = None  # e.g. wellecks/llemma_formal2formal@0931a1e27ede:proofsearch.py#_prompt_fewshot

    def identity(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "backend": self.backend,
            "dtype": self.dtype,
            "prompt_sha256": self.prompt_sha256,
        }

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ModelSpec":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class ProverSpec:
    """Which proof assistant backend checks steps, and the toolchain it runs (when known)."""

    name: str = "lean"  # lean | dojo | isabelle
    toolchain: str | None = None  # e.g. the Lake project's `lean-toolchain`
    options: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "toolchain": self.toolchain}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "toolchain": self.toolchain, "options": dict(self.options)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ProverSpec":
        return cls(name=data["name"], toolchain=data.get("toolchain"), options=dict(data.get("options") or {}))


@dataclass(frozen=True)
class EngineSpec:
    """How a run was executed, not what its results mean (so not part of `identity()`): the tactic-outcome
    cache, batching of generation across concurrent searches, and the Ray cluster, if any."""

    cache_file: str | None = None  # None: no tactic-outcome cache
    batch_size: int | None = None  # None: no batching front (one search at a time)
    batch_wait_ms: float | None = None
    ray: str | None = None  # None: this process; "local": a local Ray cluster; else the cluster's address

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "EngineSpec":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape results (absent optional ones are skipped)."""
    versions = {"python": platform.python_version(), "llemma-prove": __version__}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    versions["platform"] = f"{sys.platform}-{platform.machine()}"
    return versions


@dataclass(frozen=True)
class RunConfig:
    split: str
    statements: StatementSource
    search: SearchConfig = field(default_factory=SearchConfig)
    model: ModelSpec = field(default_factory=ModelSpec)
    prover: ProverSpec = field(default_factory=ProverSpec)
    task: str = "minif2f"
    concurrency: int = 1
    selection: tuple[str, ...] = ()  # every theorem asked for in this run directory, in order
    versions: dict[str, str] = field(default_factory=dict)
    engine: EngineSpec = field(default_factory=EngineSpec)

    def identity(self) -> dict[str, Any]:
        """What a result depends on; resuming requires it to be equal."""
        return {
            "task": self.task,
            "split": self.split,
            "statements": self.statements.identity(),
            "search": self.search.to_json(),
            "model": self.model.identity(),
            "prover": self.prover.identity(),
        }

    def fingerprint(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def differences(self, other: "RunConfig") -> list[str]:
        """Human-readable differences of identity, `key: ours -> theirs`."""
        ours, theirs = _flatten(self.identity()), _flatten(other.identity())
        out = []
        for key in sorted(set(ours) | set(theirs)):
            if ours.get(key) != theirs.get(key):
                out.append(f"{key}: {ours.get(key)!r} -> {theirs.get(key)!r}")
        return out

    def with_selection(self, names: tuple[str, ...]) -> "RunConfig":
        return replace(self, selection=names)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "split": self.split,
            "statements": self.statements.to_json(),
            "search": self.search.to_json(),
            "model": self.model.to_json(),
            "prover": self.prover.to_json(),
            "concurrency": self.concurrency,
            "selection": list(self.selection),
            "versions": dict(self.versions),
            "engine": self.engine.to_json(),
            "fingerprint": self.fingerprint(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RunConfig":
        return cls(
            split=data["split"],
            statements=StatementSource.from_json(data["statements"]),
            search=SearchConfig.from_json(data["search"]),
            model=ModelSpec.from_json(data["model"]),
            prover=ProverSpec.from_json(data["prover"]),
            task=data.get("task", "minif2f"),
            concurrency=int(data.get("concurrency", 1)),
            selection=tuple(data.get("selection") or ()),
            versions=dict(data.get("versions") or {}),
            engine=EngineSpec.from_json(data.get("engine") or {}),
        )


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
