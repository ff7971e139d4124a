"""The Isabelle prover: PISA sessions for the search, and a sound final check.

A session opens a theorem by running `header + preamble + statement` on PISA's `default` state;
every search node is a named PISA state (`GoalState.handle` is a `PisaHandle`: the name and the
concrete steps from the root, so the state can be rebuilt on a restarted server).

Soundness (PISA runs with quick_and_dirty): a proof is accepted only if
- it contains no `sorry`, `oops`, cheat tactic, ML code or unresolved hammer (`theory.forbidden_reason`);
- replayed in a fresh state, split by Isabelle's own parser into single commands, every command
  succeeds, the proof stays open after each but the last, and the last closes the target
  theorem itself (so nothing can abandon it and prove something else);
- the whole rendered theory passes the official Isabelle server, and Isabelle reports that the
  theorem depends on no oracle at all, that the theorem of that name states the benchmark's own
  statement (compared as terms with a reference copy), and that the theory gained no axiom
  (`oracles.py`); without that check the verdict is UNCHECKED.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

import grpc

from ...errors import ProverError, ProverUnavailable, UserError
from ...types import GoalState, Language, OutcomeKind, Proof, StepOutcome, Theorem, Verdict, Verification
from .client import (
    DEFAULT_STATE,
    HAMMER_SEP,
    PisaClient,
    PisaReply,
    PisaRpcError,
    ReplyKind,
    outcome_for_reply,
    outcome_for_rpc_error,
    split_hammer_reply,
)
from .hammer import HAMMER, HammerOptions, is_hammer_step, join_step, run_hammer
from .health import blocking_problems, isabelle_health, unavailable_message
from .official import IsabelleServerChecker
from .options import IsabelleOptions
from .server import PisaPool, PisaWorker, WorkerFailed
from .theory import (
    command_count,
    forbidden_reason,
    header_theory_name,
    normalise_space,
    proof_text,
    statement_name,
    render_theory,
    statement_text,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class StatementRejected(ProverError):
    """Isabelle refused the theorem's header, preamble or statement."""


@dataclass(frozen=True)
class PisaHandle:
    """A PISA state name plus the concrete steps that lead to it from the theorem's root."""

    name: str
    path: tuple[str, ...]


class _Retry(Exception):
    """Internal: the server lost our states; rebuild and try once more."""


class PisaSession:
    """One theorem on one PISA server. Implements `ProverSession`."""

    def __init__(self, prover: "PisaProver", theorem: Theorem, worker: PisaWorker, prefix: str) -> None:
        self.prover = prover
        self.theorem = theorem
        self.worker = worker
        self.prefix = prefix
        self.options = prover.options
        self._counter = itertools.count()
        self._generation = -1
        self._live: set[str] = set()
        self._root_text: str | None = None
        self.closed = False

    # Names -----------------------------------------------------------------------------------

    @property
    def root_name(self) -> str:
        return f"{self.prefix}_root"

    def _new_name(self) -> str:
        return f"{self.prefix}_{next(self._counter)}"

    def _sync_generation(self) -> None:
        if self.worker.generation != self._generation:
            self._generation = self.worker.generation
            self._live.clear()

    # Low level: one command under the server lock, with failures mapped --------------------

    async def _apply(self, parent: str, step: str, new: str, timeout_s: float, more_time: bool) -> tuple[PisaReply, bool]:
        """Run `step` on `parent` as `new`; returns (reply, finished)."""

        async def call(client: PisaClient) -> tuple[PisaReply, bool]:
            reply = await client.apply(parent, step, new, timeout_s, more_time)
            if not reply.ok:
                return reply, False
            return reply, await client.is_finished(new)

        return await self.worker.run(call)

    async def _ensure_root(self) -> str:
        """Create the root state (statement opened) on the current server generation."""
        self._sync_generation()
        if self.root_name in self._live and self._root_text is not None:
            return self._root_text
        text = f"{self.theorem.header.strip()}\n\n{statement_text(self.theorem)}"
        reason = forbidden_reason(statement_text(self.theorem))
        if reason is not None:
            raise StatementRejected(f"statement of {self.theorem.name} {reason}")
        deadline = self.options.statement_timeout_s + self.options.rpc_grace_s
        reply, finished = await self._apply(DEFAULT_STATE, text, self.root_name, deadline, True)
        if reply.kind is ReplyKind.NO_SUCH_STATE:  # the server lost `default` (restarted behind our back)
            await self.worker.run(lambda client: client.initialise())
            reply, finished = await self._apply(DEFAULT_STATE, text, self.root_name, deadline, True)
        if reply.kind in (ReplyKind.STEP_ERROR, ReplyKind.UNKNOWN_ERROR):
            raise StatementRejected(f"Isabelle did not accept the statement of {self.theorem.name}: {reply.text[:500]}")
        if not reply.ok:
            raise ProverError(f"could not open {self.theorem.name}: {reply.text[:500]}")
        if finished:
            raise StatementRejected(f"the statement of {self.theorem.name} opened no proof (does it carry one?)")
        self._live.add(self.root_name)
        self._root_text = reply.text.strip()
        return self._root_text

    async def _ensure_live(self, handle: PisaHandle) -> None:
        """Rebuild `handle` on the current server by replaying its path if the server lost it."""
        await self._ensure_root()
        if handle.name in self._live:
            return
        if not handle.path:
            raise ProverError(f"state {handle.name} is unknown to this session")
        parent = self.root_name
        temps: list[str] = []
        for i, step in enumerate(handle.path):
            name = handle.name if i == len(handle.path) - 1 else f"{handle.name}~{i}"
            deadline = self.options.step_deadline_s(command_count(step))
            reply, _ = await self._apply(parent, step, name, deadline, self.options.allow_more_time)
            if not reply.ok:
                raise ProverError(f"replaying step {i} ({step[:80]!r}) failed after a restart: {reply.text[:300]}")
            if name != handle.name:
                temps.append(name)
            parent = name
        self._live.add(handle.name)
        for name in temps:
            await self.worker.run(lambda client, n=name: client.delete(n))

    async def _guarded(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn` (an async callable), rebuilding states once if the server lost them or died."""
        for attempt in (0, 1):
            generation = self.worker.generation
            try:
                return await fn()
            except _Retry:
                if attempt:
                    raise ProverError("PISA lost this session's states twice in a row") from None
                self._live.clear()
            except PisaRpcError as exc:
                if exc.deadline:
                    await self.worker.recover(generation, "a command ran past its deadline")
                    raise
                if exc.server_gone and not attempt:
                    await self.worker.recover(generation, f"server unreachable ({exc.code.name})", probe=False)
                    continue
                raise
        raise ProverError("unreachable")

    # ProverSession ---------------------------------------------------------------------------

    async def initial_state(self) -> GoalState:
        try:
            text = await self._guarded(self._ensure_root)
        except WorkerFailed as exc:
            raise ProverError(str(exc)) from None
        except PisaRpcError as exc:
            raise ProverError(f"could not open {self.theorem.name}: {exc}") from None
        return GoalState(text, PisaHandle(self.root_name, ()))

    def _handle(self, state: GoalState) -> PisaHandle:
        handle = state.handle
        if not isinstance(handle, PisaHandle):
            raise ProverError(f"state handle {handle!r} does not come from a PISA session")
        return handle

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        """Run one proof step (or a hammer call). Isabelle errors are outcomes, not exceptions."""
        if self.closed:
            raise ProverError("session is closed")
        handle = self._handle(state)
        step = tactic.strip()
        if not step:
            return StepOutcome.error("empty step")
        reason = forbidden_reason(step, allow_hammer=True)
        if reason is not None:
            return StepOutcome.error(f"step rejected: it {reason}")
        if is_hammer_step(step):
            return await self._hammer(handle, step)
        return await self.run_step(handle, step)

    async def run_step(
        self, handle: PisaHandle, step: str, timeout_s: float | None = None, more_time: bool | None = None
    ) -> StepOutcome:
        """An ordinary step on `handle`; failures of the server become outcomes."""
        start = time.monotonic()
        more = self.options.allow_more_time if more_time is None else more_time
        if timeout_s is not None:
            deadline = timeout_s
        elif more_time:
            deadline = self.options.replay_timeout_s + self.options.rpc_grace_s
        else:
            # PISA gives each command of a step its own limit (PisaOS.scala `step`): a step of n
            # commands may take n limits before PISA answers.
            deadline = self.options.step_deadline_s(command_count(step))
        new = self._new_name()

        async def attempt() -> StepOutcome:
            await self._ensure_live(handle)
            reply, finished = await self._apply(handle.name, step, new, deadline, more)
            if reply.kind is ReplyKind.NO_SUCH_STATE:
                raise _Retry()
            return self._outcome(reply, finished, PisaHandle(new, handle.path + (step,)), start)

        return await self._run_guarded(attempt, start)

    async def _run_guarded(self, attempt: Callable[[], Awaitable[StepOutcome]], start: float) -> StepOutcome:
        try:
            return await self._guarded(attempt)
        except PisaRpcError as exc:
            return outcome_for_rpc_error(exc, time.monotonic() - start)
        except ProverError as exc:  # includes WorkerFailed and failed replays
            return StepOutcome.error(str(exc), time.monotonic() - start)

    def _outcome(self, reply: PisaReply, finished: bool, handle: PisaHandle, start: float) -> StepOutcome:
        elapsed = time.monotonic() - start
        failed = outcome_for_reply(reply, elapsed)
        if failed is not None:
            return failed
        self._live.add(handle.name)
        if finished:
            return StepOutcome.proved(elapsed)
        return StepOutcome.goals(GoalState(reply.text.strip(), handle), elapsed)

    # Hammer ----------------------------------------------------------------------------------

    async def _hammer(self, handle: PisaHandle, step: str) -> StepOutcome:
        session = self

        class Target:
            async def try_step(self, text: str) -> StepOutcome:
                return await session.run_step(handle, text)

            async def sledgehammer(self, prefix: str, timeout_s: float) -> tuple[StepOutcome, str | None]:
                return await session._sledgehammer(handle, prefix, timeout_s)

        result = await run_hammer(step, Target(), self.prover.hammer_options)
        if result.step is not None:
            # The new state's path already holds the concrete step, so a replay never re-runs the hammer.
            self.prover.record_hammer(self.theorem, handle.path, step, result.step)
        return result.outcome

    async def _sledgehammer(self, handle: PisaHandle, prefix: str, timeout_s: float) -> tuple[StepOutcome, str | None]:
        start = time.monotonic()
        base = handle
        if prefix:
            pre = await self.run_step(handle, prefix)
            if pre.kind is OutcomeKind.PROVED:
                return StepOutcome.error("the prefix alone closed the proof; nothing left to hammer"), None
            if pre.kind is not OutcomeKind.GOALS or pre.state is None:
                return pre, None
            base = pre.state.handle
        new = self._new_name()
        found: list[str] = []

        async def attempt() -> StepOutcome:
            await self._ensure_live(base)
            reply, finished = await self._apply(base.name, HAMMER, new, timeout_s + self.options.rpc_grace_s, False)
            if reply.kind is ReplyKind.NO_SUCH_STATE:
                raise _Retry()
            if not reply.ok:
                return self._outcome(reply, finished, base, start)
            parsed = split_hammer_reply(reply.text)
            if parsed is None or not parsed[0]:
                return StepOutcome.error(f"PISA's hammer reply had no `{HAMMER_SEP}` tactic: {reply.text[:200]!r}")
            tactic, state_text = parsed
            found.append(tactic)
            state = PisaReply(ReplyKind.STATE, state_text)
            return self._outcome(state, finished, PisaHandle(new, handle.path + (join_step(prefix, tactic),)), start)

        outcome = await self._run_guarded(attempt, start)
        if prefix and base is not handle:
            await self.release_handle(base)
        return outcome, (found[0] if found and outcome.kind in (OutcomeKind.GOALS, OutcomeKind.PROVED) else None)

    # Pruning and closing ---------------------------------------------------------------------

    async def release(self, state: GoalState) -> None:
        """Delete a state the search no longer needs (`<delete>`); it is rebuilt if stepped again."""
        await self.release_handle(self._handle(state))

    async def release_handle(self, handle: PisaHandle) -> None:
        if handle.name == self.root_name or handle.name not in self._live:
            return
        self._live.discard(handle.name)
        try:
            await self.worker.run(lambda client: client.delete(handle.name))
        except (PisaRpcError, WorkerFailed):
            pass

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.worker.generation == self._generation and not self.worker.failed:
            for name in sorted(self._live):
                try:
                    await self.worker.run(lambda client, n=name: client.delete(n, timeout_s=10.0))
                except (PisaRpcError, WorkerFailed):
                    break
        self._live.clear()
        self.prover.pool_release(self.worker)


class PisaProver:
    """Isabelle through PISA. Implements `Prover` and `StatementChecker`."""

    name = "isabelle"

    def __init__(
        self,
        options: IsabelleOptions | None = None,
        pool: PisaPool | None = None,
        official: IsabelleServerChecker | None = None,
    ) -> None:
        self.options = options or IsabelleOptions.from_env()
        self.pool = pool
        self._own_pool = pool is None
        self.official = official
        self._own_official = False
        self._session_ids = itertools.count()
        self._hammer_table: dict[tuple[str, str, tuple[str, ...], str], str] = {}
        self.hammer_options = HammerOptions(
            use_heuristics=self.options.use_heuristics,
            use_sledgehammer=self.options.use_sledgehammer,
            hammer_timeout_s=self.options.hammer_timeout_s,
        )
        self.started = False

    # Lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.started:
            return
        if self.pool is None:
            problems = blocking_problems(isabelle_health(self.options))
            if problems:
                raise ProverUnavailable(unavailable_message(problems))
            self.pool = PisaPool.from_options(self.options)
        try:
            await self.pool.start()
        except ProverError as exc:
            raise ProverUnavailable(f"PISA could not start: {exc}") from None
        if self.official is None and self.options.official_check and self.options.isabelle_executable is not None:
            if self.options.isabelle_executable.is_file():
                self.official = IsabelleServerChecker(self.options)
                self._own_official = True
        if self.official is None:
            log.warning("no Isabelle server check: every proof will be UNCHECKED (the oracle query needs it)")
        self.started = True

    def _require_pool(self) -> PisaPool:
        if self.pool is None or not self.started:
            raise ProverError("PisaProver.start() has not been called")
        return self.pool

    def pool_release(self, worker: PisaWorker) -> None:
        if self.pool is not None:
            self.pool.release(worker)

    async def open(self, theorem: Theorem) -> PisaSession:
        if theorem.language is not Language.ISABELLE:
            raise UserError(f"theorem {theorem.name} is {theorem.language.value}, not Isabelle")
        pool = self._require_pool()
        worker = pool.acquire()
        return PisaSession(self, theorem, worker, f"s{next(self._session_ids)}")

    async def close(self) -> None:
        if self.official is not None and self._own_official:
            await self.official.close()
            self.official = None
        if self.pool is not None:
            await self.pool.stop()
            if self._own_pool:
                self.pool = None
        self.started = False

    # Hammer bookkeeping ----------------------------------------------------------------------

    @staticmethod
    def _key(theorem: Theorem) -> tuple[str, str]:
        return (theorem.name, theorem.statement)

    def record_hammer(self, theorem: Theorem, path: tuple[str, ...], hammer_step: str, concrete: str) -> None:
        self._hammer_table[self._key(theorem) + (tuple(path), hammer_step.strip())] = concrete

    def resolve(self, theorem: Theorem, proof: Proof) -> Proof:
        """The proof with every hammer call replaced by the tactic it found (where known)."""
        path: list[str] = []
        for step in proof.tactics:
            step = step.strip()
            if is_hammer_step(step):
                step = self._hammer_table.get(self._key(theorem) + (tuple(path), step), step)
            path.append(step)
        return Proof(tuple(path))

    def render(self, theorem: Theorem, proof: Proof) -> str:
        return render_theory(theorem, self.resolve(theorem, proof))

    # Checking --------------------------------------------------------------------------------

    async def check_statement(self, theorem: Theorem) -> Verification:
        """Does the statement (with preamble) start a proof in Isabelle?"""
        start = time.monotonic()
        text = render_theory(theorem)
        try:
            session = await self.open(theorem)
        except ProverError as exc:
            return Verification(Verdict.UNCHECKED, str(exc), text, time.monotonic() - start)
        try:
            await session.initial_state()
        except StatementRejected as exc:
            return Verification(Verdict.REJECTED, str(exc), text, time.monotonic() - start)
        except ProverError as exc:
            return Verification(Verdict.UNCHECKED, str(exc), text, time.monotonic() - start)
        finally:
            await session.close()
        return Verification(Verdict.ACCEPTED, "", text, time.monotonic() - start)

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        """Check `proof` of the benchmark's own statement from scratch (see the module docstring)."""
        start = time.monotonic()

        def done(verdict: Verdict, reason: str, text: str, **details: object) -> Verification:
            return Verification(verdict, reason, text, time.monotonic() - start, dict(details))

        if theorem.language is not Language.ISABELLE:
            return done(Verdict.REJECTED, f"theorem is {theorem.language.value}, not Isabelle", "")
        resolved = self.resolve(theorem, proof)
        try:
            session = await self.open(theorem)
        except ProverError as exc:
            return done(Verdict.UNCHECKED, str(exc), render_theory(theorem, resolved))
        try:
            try:
                resolved = await self._resolve_remaining_hammers(session, resolved)
            except ProverError as exc:
                return done(Verdict.REJECTED, str(exc), render_theory(theorem, resolved))
            text = proof_text(resolved)
            rendered = render_theory(theorem, resolved)
            if not text.strip():
                return done(Verdict.REJECTED, "empty proof", rendered)
            reason = forbidden_reason(text)
            if reason is not None:
                return done(Verdict.REJECTED, f"proof {reason}", rendered)
            verdict = await self._replay(session, text, rendered, start)
            if not verdict.accepted:
                return verdict
        finally:
            await session.close()
        details: dict[str, object] = {"tactics": list(resolved.tactics), "pisa_replay": "ok"}
        if self.official is None:
            # PISA's replay cannot see oracles (SMT oracle, eval, normalization, skip_proof): without
            # the oracle query of the official check nothing has shown that the theorem is proved.
            details["isabelle_server"] = "not configured"
            return Verification(Verdict.UNCHECKED, "the Isabelle server check (with its oracle query) is not "
                                "available: set ISABELLE_HOME and install isabelle-client>=1.0", rendered,
                                time.monotonic() - start, details)
        try:
            target = statement_name(theorem)
            official = await self.official.check(header_theory_name(theorem.header) or theorem.name, rendered,
                                                 theorem_names=[target], references={target: theorem.statement})
        except (ProverError, ProverUnavailable) as exc:
            details["isabelle_server"] = "failed"
            return Verification(Verdict.UNCHECKED, f"Isabelle server check could not run: {exc}", rendered,
                                time.monotonic() - start, details)
        details["isabelle_server"] = official.verdict.value
        details.update({k: v for k, v in official.details.items() if k in ("oracles", "statement", "new_axioms")})
        if not official.accepted:
            return Verification(official.verdict, official.reason, rendered, time.monotonic() - start, details)
        return Verification(Verdict.ACCEPTED, "", rendered, time.monotonic() - start, details)

    async def _resolve_remaining_hammers(self, session: PisaSession, proof: Proof) -> Proof:
        """Run any hammer step the table does not know (a proof found elsewhere) on a fresh state."""
        if not any(is_hammer_step(s) for s in proof.tactics):
            return proof
        state = await session.initial_state()
        steps: list[str] = []
        for step in proof.tactics:
            outcome = await session.step(state, step)
            if outcome.kind in (OutcomeKind.ERROR, OutcomeKind.TIMEOUT):
                raise ProverError(f"step {len(steps)} ({step[:80]!r}) fails: {outcome.message[:300]}")
            concrete = self.resolve(session.theorem, Proof(tuple(steps) + (step,))).tactics[-1]
            steps.append(concrete)
            if outcome.kind is OutcomeKind.PROVED:
                break
            assert outcome.state is not None
            state = outcome.state
        return Proof(tuple(steps) + tuple(proof.tactics[len(steps):]))

    async def _replay(self, session: PisaSession, text: str, rendered: str, start: float) -> Verification:
        """Replay the proof command by command in a fresh state; see the module docstring."""

        def verdict(v: Verdict, reason: str) -> Verification:
            return Verification(v, reason, rendered, time.monotonic() - start)

        worker = session.worker
        fresh = PisaSession(self, session.theorem, worker, f"{session.prefix}v")
        worker.sessions += 1
        try:
            try:
                await fresh._guarded(fresh._ensure_root)
            except StatementRejected as exc:
                return verdict(Verdict.REJECTED, str(exc))
            except PisaRpcError as exc:
                return verdict(Verdict.UNCHECKED, f"PISA failed during the check: {exc}")
            except ProverError as exc:
                return verdict(Verdict.UNCHECKED, str(exc))
            generation = worker.generation
            try:
                commands = await worker.run(lambda client: client.parse_text(text, timeout_s=self.options.parse_timeout_s))
            except PisaRpcError as exc:
                if exc.code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
                    # PISA's parser raised and zio-grpc ended the call: Isabelle cannot read the proof.
                    return verdict(Verdict.REJECTED, f"Isabelle could not parse the proof: {exc.details[:300]}")
                if exc.deadline or exc.server_gone:
                    # No reply: nothing is known about the proof; the server may be stuck in the parser.
                    try:
                        await worker.recover(generation, "no reply to <parse text>", probe=exc.deadline)
                    except ProverError as failed:
                        log.warning("PISA could not be recovered: %s", failed)
                return verdict(Verdict.UNCHECKED, f"PISA gave no answer to <parse text>: {exc.code.name}")
            except ProverError as exc:
                return verdict(Verdict.UNCHECKED, str(exc))
            if normalise_space("".join(commands)).replace(" ", "") != normalise_space(text).replace(" ", ""):
                return verdict(Verdict.REJECTED, "Isabelle's parser did not read the proof text completely")
            handle = PisaHandle(fresh.root_name, ())
            for i, command in enumerate(commands):
                outcome = await fresh.run_step(handle, command.strip(), timeout_s=None, more_time=True)
                last = i == len(commands) - 1
                where = f"command {i + 1}/{len(commands)} ({command.strip()[:80]!r})"
                if outcome.kind is OutcomeKind.TIMEOUT:
                    return verdict(Verdict.UNCHECKED, f"{where} timed out on replay")
                if outcome.kind is OutcomeKind.ERROR:
                    return verdict(Verdict.REJECTED, f"{where} fails on replay: {outcome.message[:300]}")
                if outcome.kind is OutcomeKind.PROVED and not last:
                    return verdict(
                        Verdict.REJECTED,
                        f"the theorem was closed at {where}, before the proof ended (something else would be proved)",
                    )
                if outcome.kind is OutcomeKind.GOALS and last:
                    return verdict(Verdict.REJECTED, "the proof leaves the theorem open")
                if outcome.state is not None:
                    handle = outcome.state.handle
            return verdict(Verdict.ACCEPTED, "")
        finally:
            await fresh.close()
