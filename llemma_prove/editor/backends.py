"""What the editor commands search with: one configuration, and provers and a model built once.

`EditorConfig` is shared by `llemma-prove prove` (from its options) and the language server (from
the client's `initializationOptions`). `DefaultBackends` builds the real Lean/Isabelle provers and the
LLEMMA proposer lazily, on the first target that needs them, and keeps them: the language server
reuses the loaded model and the warm REPL processes for every later request.

The provers and the model are the plug-ins `llemma_prove.assembly` builds. `EditorConfig.backends`
(CLI: `--backends NAME`; language server: the `backends` initialization option) instead names an
editor-backends plug-in (`llemma_prove.plugins.EDITOR_BACKENDS`) that supplies provers and model
together; the test suite registers its scripted stand-ins that way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, Protocol

from ..errors import UserError
from ..interfaces import Proposer, Prover
from ..plugins import EditorBackendsPlugin
from ..search import SearchConfig
from ..types import DecodingMethod, Language, SamplingParams, Theorem

log = logging.getLogger(__name__)

DEFAULT_MODEL = "EleutherAI/llemma_7b"


@dataclass(frozen=True)
class EditorConfig:
    """Model, provers and budget for proving targets in a file. Defaults: the paper's budget."""

    model: str = DEFAULT_MODEL
    model_backend: str = "hf"  # hf (transformers) | vllm | openai (an OpenAI-compatible server)
    endpoint: str | None = None
    device: str | None = None
    dtype: str | None = None
    prompt: Path | None = None  # prompt file; None: the packaged prompt for the file's language
    lean_project: Path | None = None  # None: $LLEMMA_PROVE_LEAN_PROJECT, else the repository's lean_project/
    workers: int | None = None  # prover processes; None: sized from the machine
    expansions: int = 100
    candidates: int = 32
    time_limit_s: float = 600.0
    max_new_tokens: int = 256
    backends: str | None = None  # an editor-backends plug-in, see the module docstring
    backend_options: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # the same checks and messages as the command-line options (llemma_prove/vocabulary.py)
        from ..plugins import proposer_plugin
        from ..vocabulary import check_at_least_one, check_budget, check_endpoint

        check_budget(self.expansions, self.candidates, self.time_limit_s, self.max_new_tokens)
        backend = proposer_plugin(self.model_backend)  # unknown: UserError naming the installed ones
        check_endpoint(self.model_backend, backend.remote, self.endpoint)
        check_at_least_one("--workers", self.workers)

    def search_config(self) -> SearchConfig:
        """The paper's search with the improvements on (identical states merged, candidates cleaned,
        model waiting not counted): for a single theorem there is no benchmark number to stay
        comparable with, only the user's time."""
        sampling = SamplingParams(n=self.candidates, method=DecodingMethod.BEAM, max_new_tokens=self.max_new_tokens,
                                  stop=("---",))
        return SearchConfig.improved(max_expansions=self.expansions, time_limit_s=float(self.time_limit_s),
                                     sampling=sampling)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, base: "EditorConfig | None" = None) -> "EditorConfig":
        """From JSON-like options (the LSP `initializationOptions`); camelCase or snake_case keys.

        Unknown keys and wrong types are a `UserError` naming the key, so a typo in an editor's
        configuration is reported instead of silently ignored.
        """
        base = base or cls()
        if not data:
            return base
        if not isinstance(data, Mapping):
            raise UserError(f"initialization options must be an object, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        aliases = {"timeLimit": "time_limit_s", "time_limit": "time_limit_s", "timeLimitS": "time_limit_s"}
        changes: dict[str, Any] = {}
        for key, value in data.items():
            name = aliases.get(key) or _snake(key)
            if name not in known:
                raise UserError(f"unknown option {key!r} (known: {', '.join(sorted(known))})")
            changes[name] = _coerce(name, value)
        return replace(base, **changes)


def _snake(key: str) -> str:
    out = []
    for ch in key:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out)


_INTS = {"workers", "expansions", "candidates", "max_new_tokens"}
_FLOATS = {"time_limit_s"}
_PATHS = {"prompt", "lean_project"}
_STRINGS = {"model", "model_backend", "endpoint", "device", "dtype", "backends"}


def _coerce(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _INTS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"option {name} must be an integer, got {value!r}")
        return value
    if name in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"option {name} must be a number, got {value!r}")
        return float(value)
    if name in _PATHS:
        if not isinstance(value, str):
            raise UserError(f"option {name} must be a path string, got {value!r}")
        return Path(value).expanduser()
    if name in _STRINGS:
        if not isinstance(value, str):
            raise UserError(f"option {name} must be a string, got {value!r}")
        return value
    if name == "backend_options":
        if not isinstance(value, Mapping):
            raise UserError(f"option {name} must be an object, got {value!r}")
        return dict(value)
    return value


class Backends(Protocol):
    """Provers and proposers for the editor; built on demand, kept until `close()`."""

    async def prover(self, theorem: Theorem) -> Prover:
        """A started prover that can open `theorem` (its language and header)."""
        ...

    async def proposer(self, language: Language) -> Proposer: ...

    async def close(self) -> None: ...


def load_backends(config: EditorConfig) -> Backends:
    """The editor-backends plug-in `config.backends` names; by default `default`, the prover and model
    plug-ins built through the assembly (`DefaultBackends`)."""
    from ..plugins import EDITOR_BACKENDS, load

    plugin = load(EDITOR_BACKENDS, config.backends or "default")  # unknown: UserError naming the installed
    return plugin.build(config)


class DefaultBackends:
    """The real Lean REPL / PISA provers and the LLEMMA proposer, each built once and reused.

    Lean provers are kept per set of imports (a REPL process imports its header once); one model
    serves both languages, with each language's own prompt.
    """

    def __init__(self, config: EditorConfig) -> None:
        self.config = config
        self._prover_lock = asyncio.Lock()  # starting a prover (minutes for Mathlib) must not hold up
        self._model_lock = asyncio.Lock()  # loading the model, and the other way round
        self._provers: dict[tuple[str, ...], Prover] = {}
        self._model: Any = None
        self._proposers: dict[Language, Proposer] = {}

    async def prover(self, theorem: Theorem) -> Prover:
        key = self._prover_key(theorem)
        async with self._prover_lock:
            prover = self._provers.get(key)
            if prover is None:
                prover = self._build_prover(theorem)
                await prover.start()  # ProverUnavailable names what to install
                self._provers[key] = prover
            return prover

    def _prover_key(self, theorem: Theorem) -> tuple[str, ...]:
        if theorem.language is Language.ISABELLE:
            return ("isabelle",)
        from ..provers.lean.render import split_header

        return ("lean",) + split_header(theorem.header).imports

    def _build_prover(self, theorem: Theorem) -> Prover:
        from .. import assembly

        name = "isabelle" if theorem.language is Language.ISABELLE else "lean"
        spec = assembly.prover_spec(name, self.config.lean_project, self.config.workers)
        return assembly.build_prover(spec, [theorem])

    async def proposer(self, language: Language) -> Proposer:
        async with self._model_lock:
            proposer = self._proposers.get(language)
            if proposer is None:
                proposer = await asyncio.to_thread(self._build_proposer, language)
                self._proposers[language] = proposer
            return proposer

    def _build_proposer(self, language: Language) -> Proposer:
        from .. import assembly
        from ..config import ModelSpec
        from ..proposers import PromptTemplate

        if self._model is None:
            self._model = assembly.build_model(ModelSpec(
                model_id=self.config.model, backend=self.config.model_backend, endpoint=self.config.endpoint,
                device=self.config.device, dtype=self.config.dtype))
        template = PromptTemplate.load(self.config.prompt) if self.config.prompt is not None else None
        return assembly.wrap_model(self._model, language, template)

    async def close(self) -> None:
        provers, self._provers = list(self._provers.values()), {}
        model, self._model = self._model, None
        self._proposers = {}
        for thing in [*provers, model]:
            if thing is None:
                continue
            try:
                await thing.close()
            except Exception:  # closing one must not keep the others open
                log.exception("closing %r failed", thing)


# published as the editor-backends plug-in `default` (pyproject.toml)
DEFAULT_BACKENDS = EditorBackendsPlugin("default", DefaultBackends, "the prover and model plug-ins, built on first use")
