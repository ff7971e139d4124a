"""TEST DOUBLE: a stand-in for the `lean_dojo` module (lean-dojo 4.20.0, which is not installed here).

Modelled on lean-dojo at tag v4.20.0 (commit 3bbc4c02fb8a058b282c8d3982a02d6563f3b08a; the files are
the same as in the 4.20.0 wheel on PyPI), with the same names, fields and failure behaviour:

- `src/lean_dojo/interaction/dojo.py`: `TacticState(pp, id, message)` parses its goals on creation and
  asserts one goal per `⊢`; `ProofFinished(tactic_state_id, message)`, `LeanError(error)`,
  `ProofGivenUp()`; `Dojo.__enter__` asserts that `Lean4Repl.lean` exists in the traced repository and
  that the initial answer has no error and some goal, and raises `DojoInitError` for a missing trace
  or a timeout; `run_tac` raises `RuntimeError` on a state that is not a `TacticState`, asserts the
  tactic is a `str`, turns an error containing "proof contains `sorry`" into `ProofGivenUp`, strips a
  leading `N goals` line, and raises `DojoCrashError` when the Lean process is gone. A tactic timeout
  (`pexpect.TIMEOUT` in `_read_next_line`) raises `DojoTacticTimeoutError` and leaves Lean running:
  its late answer is the next line the Dojo reads, so it is taken as the answer to the next tactic.
  `__exit__` kills the process (and fails with AttributeError when `__enter__` never spawned it).
- `src/lean_dojo/interaction/parse_goals.py`: goals are the `\\n\\n`-separated blocks holding `⊢`;
  `Goal.from_pp` asserts exactly one `⊢` per block.
- `src/lean_dojo/data_extraction/lean.py`: `Theorem.__post_init__` asserts the file ends in `.lean`;
  `LeanGitRepo.__post_init__` resolves the repository over the network (GitHub API or a clone) and
  raises `ValueError` for an invalid URL or an unknown tag or branch.

The Dojo answers from `WORLD.script`: state text -> tactic -> result, exception, raw `tacticState`
text (a `str`, parsed as the Dojo parses it), or `Late(result)` (the tactic times out and `result`
arrives afterwards).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__version__ = "4.20.0"


@dataclass(frozen=True)
class Declaration:
    ident: str
    lean_type: str


@dataclass(frozen=True)
class Goal:
    assumptions: list[Declaration]
    conclusion: str

    @classmethod
    def from_pp(cls, pp: str) -> "Goal":
        assert pp.count("⊢") == 1
        context, conclusion = pp.split("⊢")
        declarations = []
        for line in context.strip().splitlines():
            if " : " in line and not line.startswith("case "):
                idents, lean_type = line.split(" : ", 1)
                declarations += [Declaration(i, lean_type.strip()) for i in idents.split()]
        return cls(declarations, conclusion.strip())


def parse_goals(pp: str) -> list[Goal]:
    return [Goal.from_pp(block) for block in pp.split("\n\n") if "⊢" in block]


@dataclass(frozen=True)
class TacticState:
    pp: str
    id: int = field(default=0, compare=False)
    message: str | None = field(default=None, compare=False)
    goals: list[Goal] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        goals = parse_goals(self.pp)
        assert len(goals) == self.pp.count("⊢")
        object.__setattr__(self, "goals", goals)

    @property
    def num_goals(self) -> int:
        return len(self.goals)


@dataclass(frozen=True)
class ProofFinished:
    tactic_state_id: int = 0
    message: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ProofGivenUp:
    pass


@dataclass(frozen=True)
class LeanError:
    error: str


class DojoCrashError(Exception):
    @property
    def is_out_of_memory(self) -> bool:
        return str(self) == "OOM"


class DojoTacticTimeoutError(Exception):
    pass


class DojoInitError(Exception):
    pass


@dataclass(frozen=True)
class Late:
    """Script value: the tactic runs past the Dojo's timeout; `result` is what Lean prints afterwards."""

    result: Any


@dataclass(frozen=True)
class LeanGitRepo:
    url: str
    commit: str

    def __post_init__(self) -> None:
        WORLD.repo_threads.append(threading.current_thread() is threading.main_thread())
        if not re.match(r"(https://|git@)\S+$", self.url) and not Path(self.url).is_absolute():
            raise ValueError(f"{self.url} is not a valid URL")
        if WORLD.repo_error is not None:
            raise WORLD.repo_error
        WORLD.repos_built += 1


@dataclass(frozen=True)
class Theorem:
    repo: LeanGitRepo
    file_path: Path
    full_name: str

    def __post_init__(self) -> None:
        if isinstance(self.file_path, str):
            object.__setattr__(self, "file_path", Path(self.file_path))
        assert self.file_path.suffix == ".lean", f"File extension must be .lean: {self.file_path}"


@dataclass
class World:
    """What every Dojo of this fake module answers, and a record of what it was asked."""

    root: str = "⊢ True"
    script: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_init: bool = False
    missing_repl: bool = False  # the traced repository has no Lean4Repl.lean
    repo_error: Exception | None = None
    repos_built: int = 0
    repo_threads: list[bool] = field(default_factory=list)  # True: built on the main (event loop) thread
    entered: list[Theorem] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    exits: int = 0


WORLD = World()


def _post_process(pp: str) -> str:
    match = re.match(r"\d+ goals\n", pp)
    return pp[match.end():] if match else pp


class Dojo:
    def __init__(self, entry: Theorem, timeout: int = 600, additional_imports: list[str] | None = None,
                 build_deps: bool = True) -> None:
        self.entry = entry
        self.timeout = timeout
        self._ids = 0
        self._late: list[Any] = []  # answers Lean printed after their tactic timed out, still unread
        self._alive = False
        self.has_timedout = False

    def __enter__(self):
        if WORLD.missing_repl:
            raise AssertionError("Unable to find Lean4Repl.lean in the traced repo. The traced repo was likely "
                                 "produced by an outdated version of LeanDojo.")
        if WORLD.fail_init:
            raise DojoInitError(f"Cannot find the *.ast.json file for {self.entry} in the traced repo.")
        self.proc = object()  # `lake env lean ...` spawned through pexpect
        self._alive = True
        WORLD.entered.append(self.entry)
        return self, TacticState(_post_process(WORLD.root), 0)

    def __exit__(self, *exc: object) -> None:
        self.proc  # noqa: B018 - like the real one, which kills `self.proc`'s descendants, fails before a spawn
        self._alive = False
        self._late.clear()
        WORLD.exits += 1

    def run_tac(self, state: TacticState, tactic: str):
        if not isinstance(state, TacticState):
            raise RuntimeError(f"Attempting to run a tactic on an invalid state {state}.")
        assert isinstance(tactic, str), f"Invalid tactic {tactic}"
        if not self._alive:
            raise DojoCrashError("Unexpected exit code: 1")
        WORLD.calls.append((state.pp, tactic))
        result = WORLD.script.get(state.pp, {}).get(tactic, LeanError(f"unknown tactic {tactic}"))
        if self._late:  # the next line Lean prints is the answer to an earlier, timed-out tactic
            self._late.append(result)
            result = self._late.pop(0)
        if isinstance(result, Late):
            self.has_timedout = True
            self._late.append(result.result)
            raise DojoTacticTimeoutError()
        if isinstance(result, DojoCrashError):
            self._alive = False
        if isinstance(result, BaseException):
            raise result
        if isinstance(result, LeanError) and "proof contains `sorry`" in result.error:
            return ProofGivenUp()
        if isinstance(result, LeanError):
            return LeanError(result.error.strip())
        if isinstance(result, (TacticState, str)):  # a str is the raw `tacticState` text Lean printed
            self._ids += 1
            pp, message = (result, None) if isinstance(result, str) else (result.pp, result.message)
            return TacticState(_post_process(pp), self._ids, message)
        return result
