"""TEST DOUBLE: small classes standing in for `lean_dojo`'s (which is not installed here).

Same names and fields as LeanDojo's: `TacticState(pp, id)`, `ProofFinished`, `LeanError(error)`,
`ProofGivenUp`, the `Dojo*Error` exceptions, `LeanGitRepo`, `Theorem` and the `Dojo` context
manager. The Dojo answers from a script: state text -> tactic -> result or exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TacticState:
    pp: str
    id: int = 0
    message: str | None = None


@dataclass(frozen=True)
class ProofFinished:
    tactic_state_id: int = 0
    message: str | None = None


@dataclass(frozen=True)
class LeanError:
    error: str


@dataclass(frozen=True)
class ProofGivenUp:
    pass


class DojoInitError(Exception):
    pass


class DojoCrashError(Exception):
    pass


class DojoTacticTimeoutError(Exception):
    pass


@dataclass(frozen=True)
class LeanGitRepo:
    url: str
    commit: str


@dataclass(frozen=True)
class Theorem:
    repo: LeanGitRepo
    file_path: str
    full_name: str


@dataclass
class World:
    """What every Dojo of this fake module answers, and a record of what it was asked."""

    root: str = "⊢ True"
    script: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_init: bool = False
    entered: list[Theorem] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    exits: int = 0


WORLD = World()


class Dojo:
    def __init__(self, theorem: Theorem, timeout: int = 600) -> None:
        self.theorem = theorem
        self.timeout = timeout
        self._ids = 0

    def __enter__(self):
        if WORLD.fail_init:
            raise DojoInitError("failed to trace the repository")
        WORLD.entered.append(self.theorem)
        return self, TacticState(WORLD.root, 0)

    def __exit__(self, *exc: object) -> None:
        WORLD.exits += 1

    def run_tac(self, state: TacticState, tactic: str):
        WORLD.calls.append((state.pp, tactic))
        result = WORLD.script.get(state.pp, {}).get(tactic, LeanError(f"unknown tactic {tactic}"))
        if isinstance(result, BaseException):
            raise result
        if isinstance(result, TacticState):
            self._ids += 1
            return TacticState(result.pp, self._ids)
        return result
