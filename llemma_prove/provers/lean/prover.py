"""`LeanReplProver`: the Lean 4 backend behind the `Prover` interface, on a pool of REPL processes.

A session opens its theorem as `statement := by sorry` on the header environment and takes the
root goal from the command's `sorries`; a step is a tactic request on a proof state. Every state
the session hands out remembers its parent and tactic, so when its proof-state id is gone (the
process was restarted after a timeout or crash, or the search moved to an idle worker) the state is
rebuilt by replaying the tactic path from the root: a crash costs time, not the theorem.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ...errors import ProverError
from ...types import GoalState, OutcomeKind, Proof, StepOutcome, Theorem, Verdict, Verification
from .messages import CommandRequest, CommandResponse, ReplFailure, ReplProtocolError, TacticRequest
from .options import LeanOptions
from .outcomes import classify_tactic_response
from .pool import Job, ReplPool, Worker
from .project import default_project_dir, installation_identity, resolve_launch
from .render import render_source, sorry_command, source_prefix
from .repl import LeanRepl, ReplCrashed, ReplLaunch, ReplTimeout
from .final_check import KernelChecker
from .lexer import filter_text
from .render import declaration_name
from .soundness import CheckLimits, check_proof, check_source

__all__ = ["LeanOptions", "LeanReplProver", "LeanReplSession", "ReplHandle"]

log = logging.getLogger(__name__)

T = TypeVar("T")

@dataclass(frozen=True)
class ReplHandle:
    """The prover's private handle in `GoalState.handle`: which session, which node of its tree."""

    session: int
    node: int


@dataclass
class _Node:
    parent: int | None
    tactic: str | None
    text: str
    depth: int
    token: tuple[int, int] | None = None  # the REPL incarnation the proof-state id belongs to (latest)
    proof_state: int | None = None
    # Every REPL incarnation where this state lives, with its id there: a session's steps may run on
    # several workers at once (candidates checked concurrently), each replaying states it lacks.
    states: dict[tuple[int, int], int] = field(default_factory=dict)

    def remember(self, token: tuple[int, int], proof_state: int) -> None:
        self.token, self.proof_state = token, proof_state
        self.states[token] = proof_state


class _ReplayFailed(Exception):
    pass


class LeanReplSession:
    """One theorem on one worker; implements `ProverSession`."""

    def __init__(self, prover: "LeanReplProver", theorem: Theorem, worker: Worker) -> None:
        self.prover = prover
        self.theorem = theorem
        self.id = next(prover._session_ids)
        self._worker: Worker | None = worker
        self._nodes: list[_Node] = []
        self._root_state: GoalState | None = None
        self.replayed_steps = 0
        self.moves = 0

    @property
    def worker(self) -> Worker | None:
        return self._worker

    @property
    def parallelism(self) -> int:
        """How many steps of this session can usefully run at once: one per REPL worker."""
        pool = self.prover._pool_or_none()
        return len(pool.workers) if pool is not None else 1

    # ------------------------------------------------------------------ ProverSession

    async def initial_state(self) -> GoalState:
        if self._root_state is None:
            await self._submit(lambda repl: self._materialize(repl, 0), depth=0)
            self._root_state = GoalState(self._nodes[0].text, ReplHandle(self.id, 0))
        return self._root_state

    async def step(self, state: GoalState, tactic: str) -> StepOutcome:
        handle = state.handle
        if handle is None:
            raise ProverError(f"state {state.text[:60]!r} has no REPL handle: reach it through this session's steps")
        if not isinstance(handle, ReplHandle) or handle.session != self.id or not 0 <= handle.node < len(self._nodes):
            raise ProverError(f"state {state.text[:60]!r} does not belong to this session of {self.theorem.name}")
        node = self._nodes[handle.node]
        # Every tactic passes the text filter before any worker sees it: a model's metaprogram or option
        # change never runs in the search's Lean at all. A plain `sorry` may run: the state it leaves is
        # queued in paper mode as the harness did (`introduces_sorry`), and no final check accepts it.
        refused = filter_text(tactic, declaration_name(self.theorem.statement), allow_sorry=True)
        if not refused.ok:
            return StepOutcome.error("refused by the text filter: " + "; ".join(refused.reasons))
        return await self._submit(lambda repl: self._step_job(repl, handle.node, tactic), depth=node.depth)

    async def close(self) -> None:
        worker, self._worker = self._worker, None
        pool = self.prover._pool_or_none()
        if worker is not None and pool is not None:
            pool.release(worker)

    # ------------------------------------------------------------------ scheduling

    async def _submit(self, job: Job[T], depth: int) -> T:
        pool = self.prover._pool()
        worker = self._worker
        if worker is None:
            raise ProverError(f"the session for {self.theorem.name} is closed")
        options = self.prover.options
        if options.rebalance and not worker.idle and depth <= options.max_rebalance_depth:
            other = pool.idle_worker(exclude=worker)
            if other is not None:
                pool.move(worker, other)
                self._worker = worker = other
                self.moves += 1
        return await pool.run(worker, job)

    # ------------------------------------------------------------------ jobs (run with the REPL held)

    async def _step_job(self, repl: LeanRepl, node_id: int, tactic: str) -> StepOutcome:
        options = self.prover.options
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                proof_state = await self._materialize(repl, node_id)
            except (ReplTimeout, ReplCrashed, ReplProtocolError, _ReplayFailed) as exc:
                return StepOutcome.error(f"could not rebuild the proof state: {exc}", time.monotonic() - started)
            except ProverError as exc:
                return StepOutcome.error(f"could not reopen the theorem: {exc}", time.monotonic() - started)
            step_started = time.monotonic()
            try:
                response = await repl.request(TacticRequest(tactic, proof_state), options.step_timeout_s)
            except ReplTimeout as exc:
                return StepOutcome.timeout(f"the tactic ran past {options.step_timeout_s:g} s", exc.elapsed_s)
            except ReplCrashed as exc:
                return StepOutcome.error(str(exc), time.monotonic() - step_started, crashed=True)
            except ReplProtocolError as exc:
                return StepOutcome.error(f"REPL protocol error: {exc}", time.monotonic() - step_started)
            elapsed = time.monotonic() - step_started
            if isinstance(response, ReplFailure) and response.unknown_id and attempt == 1:
                log.warning("%s: %s; rebuilding the state", self.theorem.name, response.message)
                self._forget(repl)
                continue
            verdict = classify_tactic_response(response)
            if verdict.kind is OutcomeKind.GOALS:
                parent = self._nodes[node_id]
                child = _Node(node_id, tactic, verdict.text, parent.depth + 1)
                child.remember(repl.token, response.proof_state)  # type: ignore[union-attr]
                self._nodes.append(child)
                return StepOutcome.goals(GoalState(verdict.text, ReplHandle(self.id, len(self._nodes) - 1)), elapsed,
                                         verdict.message, introduces_sorry=verdict.introduces_sorry)
            if verdict.kind is OutcomeKind.PROVED:
                return StepOutcome.proved(elapsed, verdict.message)
            return StepOutcome.error(verdict.message, elapsed)
        return StepOutcome.error("the REPL lost the proof state twice", time.monotonic() - started)

    def _forget(self, repl: LeanRepl) -> None:
        for node in self._nodes:
            node.states.pop(repl.token, None)
            if node.token == repl.token:
                node.token = None
                node.proof_state = None

    async def _materialize(self, repl: LeanRepl, node_id: int) -> int:
        """The proof-state id of `node_id` in this REPL incarnation, replaying its path if needed."""
        token = repl.token
        if node_id == 0 and not self._nodes:
            proof_state, text = await self._open_root(repl)
            root = _Node(None, None, text, 0)
            root.remember(token, proof_state)
            self._nodes.append(root)
            return proof_state
        chain: list[int] = []
        current: int | None = node_id
        while current is not None and token not in self._nodes[current].states:
            chain.append(current)
            current = self._nodes[current].parent
        for nid in reversed(chain):
            node = self._nodes[nid]
            if node.parent is None:
                proof_state, text = await self._open_root(repl)
            else:
                parent = self._nodes[node.parent]
                assert node.tactic is not None and token in parent.states
                response = await repl.request(TacticRequest(node.tactic, parent.states[token]), self.prover.options.step_timeout_s)
                self.replayed_steps += 1
                verdict = classify_tactic_response(response)
                if verdict.kind is not OutcomeKind.GOALS:
                    raise _ReplayFailed(f"replaying {node.tactic!r} gave {verdict.kind.value}: {verdict.message}")
                proof_state, text = response.proof_state, verdict.text  # type: ignore[union-attr]
            if text != node.text:
                log.warning("%s: replay reached a different state text at depth %d", self.theorem.name, node.depth)
            node.remember(token, proof_state)
        return self._nodes[node_id].states[token]

    async def _open_root(self, repl: LeanRepl) -> tuple[int, str]:
        """Run `statement := by sorry` on the header env (after the preamble) and take its sorry."""
        theorem = self.theorem
        timeout = self.prover.options.check_timeout_s
        env = await repl.env_for_header(theorem.header, timeout)
        if theorem.preamble.strip():
            response = await repl.request(CommandRequest(theorem.preamble, env=env), timeout)
            if not isinstance(response, CommandResponse) or response.errors:
                raise ProverError(f"{theorem.name}: the preamble does not elaborate: {_first_problem(response)}")
            env = response.env
        response = await repl.request(CommandRequest(sorry_command(theorem.statement), env=env), timeout)
        if not isinstance(response, CommandResponse):
            raise ProverError(f"{theorem.name}: the REPL refused the statement: {_first_problem(response)}")
        if response.errors:
            raise ProverError(f"{theorem.name}: the statement does not elaborate: {_first_problem(response)}")
        sorries = [s for s in response.sorries if s.proof_state is not None]
        if not sorries:
            raise ProverError(f"{theorem.name}: the statement gave no proof state (no `sorry` found)")
        last = max(sorries, key=lambda s: (s.end_pos.line, s.end_pos.column) if s.end_pos else (0, 0))
        assert last.proof_state is not None
        return last.proof_state, last.goal


def _with_earlier(final: Verification, earlier: Verification) -> Verification:
    """The kernel check's verdict, recording what the REPL layer saw before it."""
    final.details["repl_check"] = {"verdict": earlier.verdict.value, "axioms": earlier.details.get("axioms")}
    return final


def _first_problem(response) -> str:
    if isinstance(response, CommandResponse) and response.errors:
        return response.errors[0].data.strip().splitlines()[0]
    if isinstance(response, ReplFailure):
        return response.message
    return repr(response)


class LeanReplProver:
    """Lean 4 through the REPL: `Prover` and `StatementChecker`."""

    name = "lean-repl"

    def __init__(self, options: LeanOptions | None = None) -> None:
        self.options = options or LeanOptions()
        self.launch: ReplLaunch | None = None
        self._pool_: ReplPool | None = None
        self._session_ids = itertools.count(1)
        self.kernel = KernelChecker(self.options)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Resolve the launch (ProverUnavailable, with the doctor advice, when Lean is missing), then start
        the workers and import the header in each."""
        if self._pool_ is not None:
            return
        options = self.options
        self.launch = await resolve_launch(options)
        workers = options.resolved_workers()
        memory = options.resolved_memory_limit_mb()
        repls = [
            LeanRepl(
                self.launch,
                header=options.header,
                memory_limit_mb=memory,
                address_space_limit_mb=options.resolved_address_space_limit_mb(),
                memory_poll_s=options.memory_poll_s,
                max_requests=options.max_requests_per_process,
                import_timeout_s=options.import_timeout_s,
                name=f"lean-repl-{i}",
            )
            for i in range(workers)
        ]
        pool = ReplPool(repls, options.max_queue)
        await pool.start()
        self._pool_ = pool
        log.info("Lean REPL pool: %d workers, resident limit %s MB (address-space backstop %s MB)", workers, memory,
                 options.resolved_address_space_limit_mb())

    @property
    def version(self) -> str:
        """Toolchain, Mathlib commit, REPL commit and process header: the tactic cache's key, so an
        upgraded installation never gets the old one's outcomes. A custom `repl_command` counts too."""
        options = self.options
        facts: dict[str, object] = dict(installation_identity(Path(options.project_dir or default_project_dir())))
        facts["header"] = options.header
        if options.repl_command:
            facts["repl_command"] = list(options.repl_command)
        elif options.repl_path:
            facts["repl_path"] = str(options.repl_path)
        return f"{self.name}:" + json.dumps(facts, sort_keys=True, ensure_ascii=False)

    async def close(self) -> None:
        pool, self._pool_ = self._pool_, None
        if pool is not None:
            await pool.close()

    def _pool(self) -> ReplPool:
        if self._pool_ is None:
            raise ProverError("LeanReplProver.start() has not been called")
        return self._pool_

    def _pool_or_none(self) -> ReplPool | None:
        return self._pool_

    @property
    def pool(self) -> ReplPool:
        return self._pool()

    # ------------------------------------------------------------------ Prover

    async def open(self, theorem: Theorem) -> LeanReplSession:
        if self._pool_ is None:
            await self.start()
        return LeanReplSession(self, theorem, self._pool().assign())

    async def verify(self, theorem: Theorem, proof: Proof) -> Verification:
        """The final check: the REPL's check on a worker first (fast, catches most faults), then the
        kernel check in fresh processes (`final_check.py`), which alone can ACCEPT."""
        limits = self._limits()
        first = await self._run_anywhere(lambda repl: check_proof(repl, theorem, proof, limits))
        if first.verdict is not Verdict.ACCEPTED:
            return first
        return _with_earlier(await self.kernel.check_proof(theorem, proof), first)

    async def verify_source(self, theorem: Theorem, source: str) -> Verification:
        """Check a complete source text (header + statement + proof), e.g. a whole proof written by a
        model or found in a user's file: the statement must be the theorem's, byte for byte."""
        limits = self._limits()
        first = await self._run_anywhere(lambda repl: check_source(repl, theorem, source, limits))
        if first.verdict is not Verdict.ACCEPTED:
            return first
        return _with_earlier(await self.kernel.check_source(theorem, source), first)

    def render(self, theorem: Theorem, proof: Proof) -> str:
        return render_source(theorem, proof)

    async def check_statement(self, theorem: Theorem) -> Verification:
        """Does `statement := by sorry` elaborate on the header env (a `sorry` warning is expected)?"""
        text = source_prefix(theorem) + sorry_command(theorem.statement) + "\n"
        timeout = self.options.check_timeout_s

        async def job(repl: LeanRepl) -> Verification:
            started = time.monotonic()
            try:
                env = await repl.env_for_header(theorem.header, timeout)
                if theorem.preamble.strip():
                    pre = await repl.request(CommandRequest(theorem.preamble, env=env), timeout)
                    if not isinstance(pre, CommandResponse) or pre.errors:
                        return Verification(Verdict.REJECTED, f"the preamble does not elaborate: {_first_problem(pre)}", text,
                                            time.monotonic() - started)
                    env = pre.env
                response = await repl.request(CommandRequest(sorry_command(theorem.statement), env=env), timeout)
            except ReplTimeout:
                return Verification(Verdict.UNCHECKED, f"the statement check ran past {timeout:g} s", text,
                                    time.monotonic() - started)
            except (ReplCrashed, ReplProtocolError) as exc:
                return Verification(Verdict.UNCHECKED, f"Lean failed during the statement check: {exc}", text,
                                    time.monotonic() - started)
            elapsed = time.monotonic() - started
            if not isinstance(response, CommandResponse):
                return Verification(Verdict.UNCHECKED, _first_problem(response), text, elapsed)
            if response.errors:
                return Verification(Verdict.REJECTED, "the statement does not elaborate: " + _first_problem(response),
                                    text, elapsed, {"messages": [m.to_json() for m in response.messages]})
            return Verification(Verdict.ACCEPTED, "", text, elapsed)

        return await self._run_anywhere(job)

    async def elaborate(self, header: str, command: str, *, all_tactics: bool = False) -> CommandResponse | ReplFailure:
        """Lean's raw answer to `command` on the header environment (messages, `sorries` and, with
        `all_tactics`, `tactics`): what the editor reads to see a file as Lean does. Raises
        `ProverError` when Lean fails or runs past the check timeout."""
        timeout = self.options.check_timeout_s

        async def job(repl: LeanRepl) -> CommandResponse | ReplFailure:
            try:
                env = await repl.env_for_header(header, timeout)
                return await repl.request(CommandRequest(command, env=env, all_tactics=all_tactics or None), timeout)
            except ReplTimeout:
                raise ProverError(f"elaborating the file ran past {timeout:g} s") from None
            except (ReplCrashed, ReplProtocolError) as exc:
                raise ProverError(f"Lean failed while elaborating the file: {exc}") from None

        return await self._run_anywhere(job)

    # ------------------------------------------------------------------ helpers

    def _limits(self) -> CheckLimits:
        return CheckLimits(self.options.check_timeout_s, self.options.resolved_memory_limit_mb())

    async def _run_anywhere(self, job: Job[T]) -> T:
        if self._pool_ is None:
            await self.start()
        pool = self._pool()
        worker = pool.idle_worker() or pool.least_loaded()
        return await pool.run(worker, job)
