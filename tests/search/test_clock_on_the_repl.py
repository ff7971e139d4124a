"""The paper's clock and crash semantics through the real Lean driver, on the stand-in REPL (test double).

The hard clock interrupts a tactic that Lean is still running: the REPL process is killed (its answer
would arrive for the next request), the theorem ends as TIMEOUT, and the pool serves the next theorem
from a fresh process. A crash ends the theorem in paper mode and costs only a replay with
`replay_after_crash`. Waiting for a busy Lean process is queueing, not the theorem's time.
"""

from __future__ import annotations

import asyncio
import time

import psutil

from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.search import SearchConfig, best_first_search
from llemma_prove.types import Candidate, OutcomeKind, SamplingParams, SearchStatus, Theorem
from llemma_prove.waits import WaitMeter, install_meter, remove_meter
from tests.lean.conftest import fake_options

THEOREM = Theorem("toy", "theorem toy : True := by sorry", header="import Mathlib\nopen Real")


class Propose:
    """Every state gets the same candidates, best first."""

    def __init__(self, *tactics: str) -> None:
        self.tactics = tactics

    async def propose(self, requests, params):
        return [[Candidate(t, -0.1 * (i + 1)) for i, t in enumerate(self.tactics)] for _ in requests]


def prover(*fault_args: str, step_timeout_s: float = 600.0) -> LeanReplProver:
    return LeanReplProver(fake_options("--synthetic", *fault_args, header=THEOREM.header, step_timeout_s=step_timeout_s))


async def test_the_hard_clock_interrupts_a_running_tactic_and_the_pool_goes_on(no_leftover_children):
    lean = prover("--hang-on", "HANG")  # no per-tactic limit of its own (paper): only the theorem's clock
    await lean.start()
    try:
        repl = lean.pool.workers[0].repl
        session = await lean.open(THEOREM)
        started = time.monotonic()
        result = await best_first_search(THEOREM, session, Propose("HANG"), SearchConfig(time_limit_s=1.0))
        await session.close()
        assert result.status is SearchStatus.TIMEOUT and time.monotonic() - started < 5.0
        pid = repl.pid
        deadline = time.monotonic() + 5.0  # the worker kills it as soon as it sees the step given up
        while pid is not None and psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the interrupted REPL process is still running"
            await asyncio.sleep(0.05)
        # The next theorem gets a fresh process and normal answers.
        session = await lean.open(THEOREM)
        root = await session.initial_state()
        step = await session.step(root, "intro a")
        assert step.kind is OutcomeKind.GOALS and step.state.text == "⊢ toy ▸ intro a"
        assert repl.restarts == 1
        await session.close()
    finally:
        await lean.close()


async def test_a_crash_ends_the_theorem_in_paper_mode_and_costs_a_replay_when_opted_in(no_leftover_children):
    lean = prover("--crash-on", "CRASH")
    await lean.start()
    try:
        one = SamplingParams(n=2)
        session = await lean.open(THEOREM)
        paper = await best_first_search(THEOREM, session, Propose("CRASH", "done"), SearchConfig(sampling=one))
        await session.close()
        assert paper.status is SearchStatus.ERROR and "crashed" in paper.error
        session = await lean.open(THEOREM)
        improved = await best_first_search(THEOREM, session, Propose("CRASH", "done"),
                                           SearchConfig(sampling=one, replay_after_crash=True))
        await session.close()
        assert improved.status is SearchStatus.PROVED and improved.proof.tactics == ("done",)
    finally:
        await lean.close()


async def test_waiting_for_a_busy_lean_process_is_queueing(no_leftover_children):
    lean = prover("--delay-on", "SLOW=1.0")
    await lean.start()
    try:
        busy, waiting = await lean.open(THEOREM), await lean.open(THEOREM)
        busy_root, waiting_root = await busy.initial_state(), await waiting.initial_state()
        meter = WaitMeter()

        async def metered_step():
            token = install_meter(meter)
            try:
                await asyncio.sleep(0.2)  # let the slow step take the only worker first
                return await waiting.step(waiting_root, "intro a")
            finally:
                remove_meter(token)

        slow, step = await asyncio.gather(busy.step(busy_root, "SLOW"), metered_step())
        assert step.kind is OutcomeKind.GOALS
        assert 0.5 < meter.queued_s < 3.0  # the slow step's remaining time, not this theorem's
        await busy.close()
        await waiting.close()
    finally:
        await lean.close()
