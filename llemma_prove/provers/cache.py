"""Tactic-outcome cache: (prover version, header, state, tactic) -> outcome, kept in SQLite.

The prover version is the prover's `version` (for Lean: toolchain, Mathlib commit, REPL commit and
the process header), read after the prover started, so a cache reused after an upgrade misses instead
of serving the old Lean's answers.

A repeated run, or a second search strategy over the same states, gets its step outcomes from the
cache instead of asking Lean again. States reached through the cache have no prover handle; when a
step on such a state misses the cache, its tactic path is replayed on the real prover first (lazily,
once). Timeouts are not cached (they depend on the machine). The cache only serves the search: every
proof still goes through the prover's own from-scratch `verify`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ProverError
from ..interfaces import Prover, ProverSession
from ..types import GoalState, OutcomeKind, Proof, StepOutcome, Theorem, Verification

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT,
    message TEXT NOT NULL
)
"""


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    replays: int = 0  # real steps spent re-creating states that were reached through the cache

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def to_json(self) -> dict[str, float]:
        return {"hits": self.hits, "misses": self.misses, "replays": self.replays, "hit_rate": self.hit_rate}


class TacticCache:
    """The SQLite file behind the cache. One per run (or shared between runs on purpose)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()
        self.stats = CacheStats()

    @staticmethod
    def key(prover_version: str, context: str, state: str, tactic: str) -> str:
        blob = json.dumps([prover_version, context, state, tactic], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> StepOutcome | None:
        row = self._db.execute("SELECT kind, state, message FROM outcomes WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        kind, state, message = row
        return StepOutcome(OutcomeKind(kind), GoalState(state) if state is not None else None, message)

    def put(self, key: str, outcome: StepOutcome) -> None:
        # Not kept: timeouts and crashes (not a property of the step alone), and steps that use
        # `sorry` (their mark decides what the search does with the state; the table has no column for it).
        if outcome.kind is OutcomeKind.TIMEOUT or outcome.crashed or outcome.introduces_sorry:
            return
        state = outcome.state.text if outcome.state is not None else None
        self._db.execute(
            "INSERT OR REPLACE INTO outcomes (key, kind, state, message) VALUES (?, ?, ?, ?)",
            (key, outcome.kind.value, state, outcome.message),
        )
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outcomes").fetchone()[0]

    def close(self) -> None:
        self._db.close()


@dataclass(frozen=True)
class _Virtual:
    """Handle of a state known only from the cache: how to reach it from a real state."""

    parent: GoalState
    tactic: str


@dataclass
class CachingSession:
    inner: ProverSession
    cache: TacticCache
    prover_version: str
    theorem: Theorem
    _real: dict[_Virtual, GoalState] = field(default_factory=dict)

    @property
    def parallelism(self) -> int:
        """As the wrapped session's (concurrent steps on one parent at worst replay it twice)."""
        return int(getattr(self.inner, "parallelism", 1) or 1)

    @property
    def _context(self) -> str:
        return self.theorem.header + "\n" + self.theorem.preamble

    async def initial_state(self) -> GoalState:
        return await self.inner.initial_state()

    async def _materialize(self, state: GoalState) -> GoalState:
        """The real prover state behind `state`, replaying its path from the nearest real ancestor."""
        handle = state.handle
        if not isinstance(handle, _Virtual):
            return state
        known = self._real.get(handle)
        if known is not None:
            return known
        parent = await self._materialize(handle.parent)
        outcome = await self.inner.step(parent, handle.tactic)
        self.cache.stats.replays += 1
        if outcome.kind is not OutcomeKind.GOALS or outcome.state is None or outcome.state.text != state.text:
            raise ProverError(
                f"tactic cache is stale for {self.theorem.name}: replaying {handle.tactic!r} gave "
                f"{outcome.kind.value} instead of the cached state (delete {self.cache.path})"
            )
        self._real[handle] = outcome.state
        return outcome.state

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        key = TacticCache.key(self.prover_version, self._context, state.text, tactic)
        cached = self.cache.get(key)
        if cached is not None:
            if cached.kind is OutcomeKind.GOALS and cached.state is not None:
                return StepOutcome.goals(GoalState(cached.state.text, handle=_Virtual(state, tactic)))
            return cached
        outcome = await self.inner.step(await self._materialize(state), tactic)
        self.cache.put(key, outcome)
        return outcome

    async def close(self) -> None:
        await self.inner.close()


class CachingProver:
    """Wraps any prover with a tactic-outcome cache; `verify` always goes to the real prover."""

    def __init__(self, inner: Prover, cache: TacticCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name

    @property
    def version(self) -> str:
        """What the cache keys on: the prover's `version` (asked at every open, so it reflects the
        installation the prover actually started on), else its name."""
        return str(getattr(self.inner, "version", None) or self.inner.name)

    async def start(self) -> None:
        await self.inner.start()

    async def open(self, theorem: Theorem) -> CachingSession:
        session = await self.inner.open(theorem)
        return CachingSession(session, self.cache, self.version, theorem)

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        return await self.inner.verify(theorem, proof)

    def render(self, theorem: Theorem, proof: Proof) -> str:
        return self.inner.render(theorem, proof)

    async def close(self) -> None:
        await self.inner.close()
        self.cache.close()
