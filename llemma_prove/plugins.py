"""Provers and model backends as plug-ins: what `--prover NAME` and `--model-backend NAME` choose from.

A plug-in is a `ProverPlugin` or `ProposerPlugin` value published under the entry-point group
`llemma_prove.provers` or `llemma_prove.proposers` of any installed distribution (this package's own
built-in ones included, see `builtin_plugins`), so a user adds a proof assistant or a model server from
their own package without touching this one. `register()` adds one in this process only (embedding
programs and the test suite's fixtures use it); a name registered so shadows an installed one.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterator, Sequence, Union

from .errors import UserError
from .types import Language

if TYPE_CHECKING:
    from .config import ModelSpec, ProverSpec
    from .interfaces import LanguageModel, Proposer, Prover
    from .search.config import SearchConfig
    from .types import Theorem

log = logging.getLogger(__name__)

PROVERS = "llemma_prove.provers"
PROPOSERS = "llemma_prove.proposers"
EDITOR_BACKENDS = "llemma_prove.editor_backends"


@dataclass(frozen=True)
class ProverPlugin:
    """A proof assistant backend. `build(spec, theorems, search)` returns an unstarted `Prover` for the
    run's theorems (`search` gives the per-step limit); `preflight(spec)`, when given, is the cheap
    installation check run before anything is downloaded or loaded (raises `ProverUnavailable`)."""

    name: str
    build: Callable[["ProverSpec", Sequence["Theorem"], "SearchConfig | None"], "Prover"]
    language: Language = Language.LEAN4
    preflight: Callable[["ProverSpec"], Awaitable[None]] | None = None
    uses_lean_project: bool = False  # reads --lean-project (a Lake project with Mathlib and the REPL)
    description: str = ""


@dataclass(frozen=True)
class ProposerPlugin:
    """A model backend. `build_model(spec)` returns a `LanguageModel`, which the assembly wraps with the
    run's prompt; a backend that proposes steps some other way gives `build_proposer(spec, theorems,
    template)` instead (`template`: the run's prompt, None for the language's packaged one). `remote`: it talks to a server (needs an endpoint; device and dtype do not apply)."""

    name: str
    build_model: Callable[["ModelSpec"], "LanguageModel"] | None = None
    build_proposer: Callable[["ModelSpec", Sequence["Theorem"], Any], "Proposer"] | None = None
    remote: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if (self.build_model is None) == (self.build_proposer is None):
            raise ValueError(f"model backend plug-in {self.name!r} needs exactly one of build_model, build_proposer")


@dataclass(frozen=True)
class EditorBackendsPlugin:
    """Provers and model for the editor (`prove`, the language server) supplied together:
    `build(editor_config)` returns an `editor.backends.Backends`. Without one the editor builds the
    prover and model plug-ins through the assembly."""

    name: str
    build: Callable[[Any], Any]
    description: str = ""


Plugin = Union[ProverPlugin, ProposerPlugin, EditorBackendsPlugin]
_KIND = {PROVERS: ProverPlugin, PROPOSERS: ProposerPlugin, EDITOR_BACKENDS: EditorBackendsPlugin}
_WHAT = {PROVERS: "--prover", PROPOSERS: "--model-backend", EDITOR_BACKENDS: "editor backends"}
_registered: dict[str, dict[str, Any]] = {PROVERS: {}, PROPOSERS: {}, EDITOR_BACKENDS: {}}

# The built-in plug-ins as `pyproject.toml` publishes them (tests/test_plugins.py keeps the two equal):
# used when this package runs from a source tree whose installed metadata predates them.
BUILTIN: dict[str, dict[str, str]] = {
    PROVERS: {"lean": "llemma_prove.builtin_plugins:LEAN", "dojo": "llemma_prove.builtin_plugins:DOJO",
              "isabelle": "llemma_prove.builtin_plugins:ISABELLE"},
    PROPOSERS: {"hf": "llemma_prove.builtin_plugins:HF", "vllm": "llemma_prove.builtin_plugins:VLLM",
                "openai": "llemma_prove.builtin_plugins:OPENAI"},
    EDITOR_BACKENDS: {"default": "llemma_prove.editor.backends:DEFAULT_BACKENDS"},
}


def register(group: str, plugin: Plugin) -> None:
    """Make `plugin` available in this process under its name (shadowing an installed one)."""
    if not isinstance(plugin, _KIND[group]):
        raise TypeError(f"{group} takes {_KIND[group].__name__} values, got {type(plugin).__name__}")
    _registered[group][plugin.name] = plugin


def unregister(group: str, name: str) -> None:
    _registered[group].pop(name, None)


@contextmanager
def registered(group: str, plugin: Plugin) -> Iterator[Plugin]:
    """`register` for the duration of a `with` block (restoring whatever had the name before)."""
    before = _registered[group].get(plugin.name)
    register(group, plugin)
    try:
        yield plugin
    finally:
        if before is None:
            unregister(group, plugin.name)
        else:
            _registered[group][plugin.name] = before


def _entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=group):
        found.setdefault(entry.name, entry)  # the first distribution on the path wins, as for imports
    for name, value in BUILTIN[group].items():
        found.setdefault(name, metadata.EntryPoint(name, value, group))
    return found


def names(group: str) -> list[str]:
    """Every plug-in name of `group`: installed or registered in this process."""
    return sorted(set(_entry_points(group)) | set(_registered[group]))


def sources(group: str) -> dict[str, str]:
    """name -> where it comes from (`module:object (distribution)`, or `registered in this process`)."""
    out = {}
    for name, entry in _entry_points(group).items():
        dist = getattr(getattr(entry, "dist", None), "name", None)
        out[name] = entry.value + (f" ({dist})" if dist else "")
    for name in _registered[group]:
        out[name] = "registered in this process"
    return dict(sorted(out.items()))


def load(group: str, name: str) -> Any:
    """The plug-in called `name`; a `UserError` naming the installed ones when there is none."""
    if name in _registered[group]:
        return _registered[group][name]
    entry = _entry_points(group).get(name)
    if entry is None:
        installed = ", ".join(names(group)) or "none"
        raise UserError(f"unknown {_WHAT[group]} {name!r} (installed: {installed})")
    try:
        plugin = entry.load()
    except Exception as exc:  # a broken third-party plug-in is reported, not a traceback
        raise UserError(f"{_WHAT[group]} {name!r} cannot be loaded from {entry.value}: {type(exc).__name__}: {exc}") from None
    if not isinstance(plugin, _KIND[group]):
        raise UserError(f"{_WHAT[group]} {name!r} ({entry.value}) is not a {_KIND[group].__name__}")
    return plugin


def prover_plugin(name: str) -> ProverPlugin:
    return load(PROVERS, name)


def proposer_plugin(name: str) -> ProposerPlugin:
    return load(PROPOSERS, name)
