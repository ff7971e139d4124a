"""LeanDojo backend (extra `dojo`): the same `Prover` interface over `lean_dojo.Dojo`.

This is the LeanDojo API of today (lean-dojo 4.20.0, the version the `dojo` extra pins and the test
double in tests/lean/fake_lean_dojo.py models), not the paper's lean-dojo 1.1.2. For users who already
have traced repositories. A theorem is located in its repository by `Theorem.source` of the form
`URL@COMMIT:FILE_PATH` (the shape of the Llemma miniF2F pointers) and its full name, or by a `locate`
function. `lean_dojo` is imported only when the prover starts.

Results map onto step outcomes: `TacticState` -> GOALS (its `pp` is the state text), `ProofFinished`
-> PROVED (still subject to the final check), `LeanError` -> ERROR, `ProofGivenUp` -> ERROR (the tactic
used `sorry`), `DojoTacticTimeoutError` -> TIMEOUT, `DojoCrashError` -> ERROR.

After a timeout or a crash the Dojo is left and entered again on the next step (states are rebuilt by
replay): on a timeout lean-dojo leaves Lean running, and its late answer would be read as the answer to
the next tactic. `LeanGitRepo` resolves the repository over the network when built, so it is built in a
thread (once per repository and commit); its errors, `DojoInitError`, and lean-dojo's own assertions
(a missing `Lean4Repl.lean`, a file that is not `.lean`, goals it cannot parse) become `ProverError`.

The final check is the REPL prover's (`LeanReplProver.verify`: the REPL layer, then the kernel check
of `final_check.py`) when a `LeanReplProver` is given as `checker`: same statement, same rules.
LeanDojo alone cannot list a proof's axioms, so without a checker `verify` answers UNCHECKED (never
ACCEPTED); `trust_dojo_replay` replays the proof in a fresh Dojo with the text rules, which can reject
a proof but, passing, still answers UNCHECKED (`details["axioms_checked"] = False`).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from ...errors import ProverError, ProverUnavailable
from ...types import GoalState, OutcomeKind, Proof, StepOutcome, Theorem, Verdict, Verification
from .outcomes import StepVerdict
from .render import proof_body, render_source
from .lexer import filter_text
from .soundness import static_reasons

log = logging.getLogger(__name__)

_POINTER = re.compile(r"^(?P<url>.+?)@(?P<commit>[0-9a-fA-F]{7,40}):(?P<path>.+)$")


@dataclass(frozen=True)
class DojoTarget:
    repo_url: str
    commit: str
    file_path: str
    full_name: str


def target_from_theorem(theorem: Theorem) -> DojoTarget:
    """`Theorem.source` = `URL@COMMIT:FILE_PATH`, full name = `Theorem.name`."""
    match = _POINTER.match((theorem.source or "").strip())
    if not match:
        raise ProverError(
            f"{theorem.name}: LeanDojo needs the theorem's repository, commit and file "
            "(Theorem.source = 'URL@COMMIT:FILE_PATH')"
        )
    if not match.group("path").endswith(".lean"):
        raise ProverError(f"{theorem.name}: LeanDojo needs a `.lean` file, not {match.group('path')!r}")
    return DojoTarget(match.group("url"), match.group("commit"), match.group("path"), theorem.name)


def map_result(module: Any, result: Any) -> StepVerdict:
    """One `run_tac` result as GOALS / PROVED / ERROR."""
    if isinstance(result, module.TacticState):
        return StepVerdict(OutcomeKind.GOALS, text=str(result.pp))
    if isinstance(result, module.ProofFinished):
        return StepVerdict(OutcomeKind.PROVED, message=str(getattr(result, "message", "") or ""))
    if isinstance(result, module.LeanError):
        return StepVerdict(OutcomeKind.ERROR, message=str(result.error))
    if isinstance(result, module.ProofGivenUp):
        return StepVerdict(OutcomeKind.ERROR, message="the tactic gave the proof up (sorry)")
    return StepVerdict(OutcomeKind.ERROR, message=f"unknown LeanDojo result {type(result).__name__}")


def _errors(module: Any, *names: str) -> tuple[type[BaseException], ...]:
    found = tuple(getattr(module, n) for n in names if isinstance(getattr(module, n, None), type))
    return found or (_Never,)


class _Never(Exception):
    pass


@dataclass
class _Node:
    parent: int | None
    tactic: str | None
    text: str
    incarnation: int = -1
    state: Any = None


class DojoSession:
    """One theorem in one `Dojo`; implements `ProverSession`."""

    def __init__(self, prover: "LeanDojoProver", theorem: Theorem, target: DojoTarget) -> None:
        self.prover = prover
        self.theorem = theorem
        self.target = target
        self._ctx: Any = None
        self._dojo: Any = None
        self._incarnation = 0
        self._nodes: list[_Node] = []
        self._lock = asyncio.Lock()
        self.restarts = 0

    async def _enter(self) -> Any:
        module = self.prover.module
        init_errors = _errors(module, "DojoInitError", "DojoCrashError", "DojoTacticTimeoutError")
        repo = await self.prover.repository(self.target.repo_url, self.target.commit)
        try:
            theorem = module.Theorem(repo, self.target.file_path, self.target.full_name)
        except (AssertionError, ValueError, TypeError) as exc:
            raise ProverError(f"{self.theorem.name}: LeanDojo refused the theorem: {exc or type(exc).__name__}") from None
        ctx = module.Dojo(theorem, timeout=self.prover.timeout_s)
        try:
            dojo, state = await asyncio.to_thread(ctx.__enter__)
        except (*init_errors, AssertionError, RuntimeError, ValueError, OSError) as exc:
            await asyncio.to_thread(_exit_quietly, ctx)  # a failed __enter__ may leave Lean running
            what = str(exc) or type(exc).__name__
            raise ProverError(f"{self.theorem.name}: LeanDojo could not start the theorem: {what}") from None
        self._ctx, self._dojo = ctx, dojo
        self._incarnation += 1
        return state

    async def _leave(self) -> None:
        ctx, self._ctx, self._dojo = self._ctx, None, None
        if ctx is not None:
            await asyncio.to_thread(_exit_quietly, ctx)

    async def initial_state(self) -> GoalState:
        async with self._lock:
            if not self._nodes:
                state = await self._enter()
                verdict = map_result(self.prover.module, state)
                if verdict.kind is not OutcomeKind.GOALS:
                    raise ProverError(f"{self.theorem.name}: LeanDojo gave no initial state ({verdict.message})")
                self._nodes.append(_Node(None, None, verdict.text, self._incarnation, state))
            return GoalState(self._nodes[0].text, handle=(id(self), 0))

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        handle = state.handle
        if not (isinstance(handle, tuple) and len(handle) == 2 and handle[0] == id(self)):
            raise ProverError(f"state {state.text[:60]!r} does not belong to this LeanDojo session")
        node_id = handle[1]
        refused = filter_text(tactic, self.theorem.name, allow_sorry=True)  # as in the REPL backend: nothing refused reaches Lean
        if not refused.ok:
            return StepOutcome.error("refused by the text filter: " + "; ".join(refused.reasons))
        module = self.prover.module
        timeouts = _errors(module, "DojoTacticTimeoutError")
        crashes = _errors(module, "DojoCrashError")
        async with self._lock:
            started = time.monotonic()
            try:
                source = await self._materialize(node_id)
            except (*timeouts, *crashes) as exc:
                self.restarts += 1
                await self._leave()
                what = str(exc) or type(exc).__name__
                return StepOutcome.error(f"could not rebuild the state: {what}", time.monotonic() - started)
            except ProverError as exc:
                return StepOutcome.error(f"could not rebuild the state: {exc}", time.monotonic() - started)
            try:
                result = await asyncio.to_thread(self._dojo.run_tac, source, tactic)
            except timeouts:
                # lean-dojo leaves Lean running: its late answer would be read as the next tactic's.
                self.restarts += 1
                await self._leave()
                return StepOutcome.timeout(f"the tactic ran past LeanDojo's {self.prover.timeout_s} s",
                                           time.monotonic() - started)
            except crashes as exc:
                self.restarts += 1
                await self._leave()
                return StepOutcome.error(f"LeanDojo crashed: {exc}", time.monotonic() - started)
            except (AssertionError, RuntimeError) as exc:
                raise ProverError(f"{self.theorem.name}: LeanDojo failed on {tactic!r}: "
                                  f"{str(exc) or type(exc).__name__} (e.g. goals it cannot parse)") from None
            elapsed = time.monotonic() - started
            verdict = map_result(module, result)
            if verdict.kind is OutcomeKind.GOALS:
                self._nodes.append(_Node(node_id, tactic, verdict.text, self._incarnation, result))
                return StepOutcome.goals(GoalState(verdict.text, (id(self), len(self._nodes) - 1)), elapsed)
            if verdict.kind is OutcomeKind.PROVED:
                return StepOutcome.proved(elapsed, verdict.message)
            return StepOutcome.error(verdict.message, elapsed)

    async def _materialize(self, node_id: int) -> Any:
        """The Dojo state object of a node in the current Dojo, replaying its path after a crash."""
        if self._dojo is None:
            root = await self._enter()
            self._nodes[0].incarnation, self._nodes[0].state = self._incarnation, root
        chain = []
        current: int | None = node_id
        while current is not None and self._nodes[current].incarnation != self._incarnation:
            chain.append(current)
            current = self._nodes[current].parent
        for nid in reversed(chain):
            node = self._nodes[nid]
            parent = self._nodes[node.parent]  # type: ignore[index]
            try:
                result = await asyncio.to_thread(self._dojo.run_tac, parent.state, node.tactic)
            except (AssertionError, RuntimeError) as exc:
                raise ProverError(f"replaying {node.tactic!r}: {str(exc) or type(exc).__name__}") from None
            verdict = map_result(self.prover.module, result)
            if verdict.kind is not OutcomeKind.GOALS:
                raise ProverError(f"replaying {node.tactic!r} gave {verdict.kind.value}")
            node.incarnation, node.state = self._incarnation, result
        return self._nodes[node_id].state

    async def close(self) -> None:
        await self._leave()


def _exit_quietly(ctx: Any) -> None:
    """Leave a Dojo (kills its Lean process); one that crashed or never started may fail to exit."""
    try:
        ctx.__exit__(None, None, None)
    except Exception as exc:  # noqa: BLE001 - e.g. no process was ever spawned
        log.debug("leaving the Dojo failed: %s", exc)


class LeanDojoProver:
    """`Prover` over LeanDojo; the final check goes through `checker` (a LeanReplProver) when given."""

    name = "lean-dojo"

    def __init__(
        self,
        *,
        checker: Any = None,
        locate: Callable[[Theorem], DojoTarget] = target_from_theorem,
        timeout_s: int = 600,
        trust_dojo_replay: bool = False,
        dojo_module: ModuleType | Any = None,
    ) -> None:
        self.checker = checker
        self.locate = locate
        self.timeout_s = timeout_s
        self.trust_dojo_replay = trust_dojo_replay
        self._module = dojo_module
        self.sessions: list[DojoSession] = []
        self._repos: dict[tuple[str, str], Any] = {}
        self._repo_lock = asyncio.Lock()

    async def repository(self, url: str, commit: str) -> Any:
        """`LeanGitRepo(url, commit)`, built once per pair in a thread: building it queries GitHub or
        clones the repository. Its errors (bad URL, unknown commit, network) become ProverError."""
        key = (url, commit)
        async with self._repo_lock:
            if key not in self._repos:
                try:
                    self._repos[key] = await asyncio.to_thread(self.module.LeanGitRepo, url, commit)
                except Exception as exc:  # noqa: BLE001 - ValueError, AssertionError, GithubException, git errors
                    raise ProverError(f"LeanDojo could not resolve the repository {url}@{commit}: "
                                      f"{type(exc).__name__}: {exc}") from None
            return self._repos[key]

    @property
    def module(self) -> Any:
        if self._module is None:
            raise ProverError("LeanDojoProver.start() has not been called")
        return self._module

    async def start(self) -> None:
        if self._module is None:
            try:
                self._module = importlib.import_module("lean_dojo")
            except ImportError:
                raise ProverUnavailable(
                    "LeanDojo is not installed: pip install 'llemma-prove[dojo]' (it also needs git, elan and "
                    "traced repositories); the default backend is the Lean REPL"
                ) from None
        if self.checker is not None:
            await self.checker.start()

    async def open(self, theorem: Theorem) -> DojoSession:
        if self._module is None:
            await self.start()
        session = DojoSession(self, theorem, self.locate(theorem))
        self.sessions.append(session)
        return session

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        text = render_source(theorem, proof)
        if self.checker is not None:
            return await self.checker.verify(theorem, proof)
        if not self.trust_dojo_replay:
            reason = ("the final check needs the Lean REPL (`llemma-prove setup lean`, then pass a LeanReplProver "
                      "as checker): LeanDojo alone cannot audit a proof's axioms")
            return Verification(Verdict.UNCHECKED, reason, text, 0.0, {"reasons": [reason]})
        return await self._verify_by_replay(theorem, proof, text)

    async def _verify_by_replay(self, theorem: Theorem, proof: Proof, text: str) -> Verification:
        started = time.monotonic()
        reasons = static_reasons(theorem, proof_body(proof.tactics)) if proof.tactics else ["the proof is empty"]
        if reasons:
            return Verification(Verdict.REJECTED, "; ".join(reasons), text, 0.0, {"reasons": reasons})
        session = DojoSession(self, theorem, self.locate(theorem))
        try:
            return await self._replay(session, proof, text, started)
        except ProverError as exc:
            reason = f"LeanDojo could not replay the proof: {exc}"
            return Verification(Verdict.UNCHECKED, reason, text, time.monotonic() - started, {"reasons": [reason]})
        finally:
            await session.close()

    async def _replay(self, session: DojoSession, proof: Proof, text: str, started: float) -> Verification:
        """The proof's tactics in a fresh Dojo. Passing is UNCHECKED, never ACCEPTED: neither the axioms nor
        an independent kernel replay were checked, so not every layer ran (issue 10)."""
        state = await session.initial_state()
        for i, tactic in enumerate(proof.tactics):
            outcome = await session.step(state, tactic)
            last = i == len(proof.tactics) - 1
            if outcome.kind is OutcomeKind.PROVED and last:
                reason = ("replayed in a fresh Dojo, but the kernel check (compile, type, axioms, lean4checker) "
                          "did not run: pass a LeanReplProver as checker")
                details = {"reasons": [reason], "axioms_checked": False, "dojo_replay": "passed"}
                return Verification(Verdict.UNCHECKED, reason, text, time.monotonic() - started, details)
            if outcome.kind is not OutcomeKind.GOALS:
                reason = f"step {i + 1} ({tactic!r}) gives {outcome.kind.value}: {outcome.message}"
                return Verification(Verdict.REJECTED, reason, text, time.monotonic() - started, {"reasons": [reason]})
            assert outcome.state is not None
            state = outcome.state
        reason = "goals remain after the last tactic"
        return Verification(Verdict.REJECTED, reason, text, time.monotonic() - started, {"reasons": [reason]})

    def render(self, theorem: Theorem, proof: Proof) -> str:
        return render_source(theorem, proof)

    async def close(self) -> None:
        for session in self.sessions:
            await session.close()
        self.sessions.clear()
        if self.checker is not None:
            await self.checker.close()
