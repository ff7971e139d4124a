"""The batching front: many concurrent searches, few model calls, every caller gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from llemma_prove.errors import ProposerError
from llemma_prove.interfaces import Proposer
from llemma_prove.proposers.batching import BatchingProposer
from llemma_prove.proposers.prompts import default_lean4_template
from llemma_prove.proposers.tactic import TacticProposer
from llemma_prove.types import Candidate, DecodingMethod, GoalState, ProposalRequest, SamplingParams, Theorem

THEOREM = Theorem(name="t", statement="theorem t : True := by sorry")


def request(state: str) -> ProposalRequest:
    return ProposalRequest(THEOREM, GoalState(state))


class EchoProposer:
    """Inner proposer double: each candidate names its state and the n it was asked with; records calls."""

    def __init__(self, delay_s: float = 0.01, fail: bool = False) -> None:
        self.delay_s = delay_s
        self.fail = fail
        self.calls: list[tuple[list[str], SamplingParams]] = []
        self.concurrent = 0
        self.max_concurrent = 0

    async def propose(self, requests, params):
        self.calls.append(([r.state.text for r in requests], params))
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            await asyncio.sleep(self.delay_s)
            if self.fail:
                raise ProposerError("model server down (test double)")
            return [[Candidate(f"{r.state.text}/n={params.n}/{i}", -float(i)) for i in range(params.n)] for r in requests]
        finally:
            self.concurrent -= 1


async def test_concurrent_callers_get_their_own_candidates_in_few_batches():
    inner = EchoProposer()
    front = BatchingProposer(inner, max_batch_size=8, max_wait_ms=20)
    assert isinstance(front, Proposer)
    params = SamplingParams(n=2)

    async def search(i: int):
        states = [f"s{i}a", f"s{i}b"] if i % 3 == 0 else [f"s{i}"]
        return states, await front.propose([request(s) for s in states], params)

    results = await asyncio.gather(*(search(i) for i in range(20)))
    for states, groups in results:
        assert [[c.tactic for c in g] for g in groups] == [[f"{s}/n=2/0", f"{s}/n=2/1"] for s in states]
    total = sum(len(states) for states, _ in results)
    assert sum(len(states) for states, _ in inner.calls) == total  # every request sent exactly once
    assert len(inner.calls) < 20  # batches formed
    assert all(len(states) <= 8 for states, _ in inner.calls)
    assert front.stats.largest_batch > 1
    assert front.stats.requests == total and front.stats.callers == 20
    assert inner.max_concurrent == 1


async def test_requests_with_different_sampling_params_are_never_mixed():
    inner = EchoProposer()
    front = BatchingProposer(inner, max_batch_size=16, max_wait_ms=20)
    beam = SamplingParams(n=3, method=DecodingMethod.BEAM)
    sample = SamplingParams(n=2, method=DecodingMethod.SAMPLE, temperature=0.8)

    async def call(i: int):
        params = beam if i % 2 else sample
        (group,) = await front.propose([request(f"s{i}")], params)
        return i, params, group

    for i, params, group in await asyncio.gather(*(call(i) for i in range(12))):
        assert [c.tactic for c in group] == [f"s{i}/n={params.n}/{k}" for k in range(params.n)]
    for states, params in inner.calls:
        parities = {int(s[1:]) % 2 for s in states}
        assert parities == ({1} if params == beam else {0})
    assert len(inner.calls) == 2


async def test_a_lone_caller_is_served_after_the_time_window():
    inner = EchoProposer(delay_s=0.0)
    front = BatchingProposer(inner, max_batch_size=64, max_wait_ms=30)
    loop = asyncio.get_running_loop()
    start = loop.time()
    (group,) = await front.propose([request("alone")], SamplingParams(n=1))
    waited = loop.time() - start
    assert group[0].tactic == "alone/n=1/0"
    assert 0.025 <= waited < 1.0


async def test_a_full_batch_goes_without_waiting_for_the_window():
    inner = EchoProposer(delay_s=0.0)
    front = BatchingProposer(inner, max_batch_size=4, max_wait_ms=5000)
    out = await asyncio.wait_for(front.propose([request(f"s{i}") for i in range(4)], SamplingParams(n=1)), 2.0)
    assert len(out) == 4


async def test_failures_reach_every_caller_of_the_batch_and_the_front_recovers():
    inner = EchoProposer(fail=True)
    front = BatchingProposer(inner, max_batch_size=8, max_wait_ms=10)
    results = await asyncio.gather(
        *(front.propose([request(f"s{i}")], SamplingParams(n=1)) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ProposerError) for r in results)
    inner.fail = False
    (group,) = await front.propose([request("later")], SamplingParams(n=1))
    assert group[0].tactic == "later/n=1/0"


async def test_a_cancelled_caller_does_not_disturb_the_others():
    inner = EchoProposer()
    front = BatchingProposer(inner, max_batch_size=8, max_wait_ms=30)
    doomed = asyncio.create_task(front.propose([request("doomed")], SamplingParams(n=1)))
    kept = asyncio.create_task(front.propose([request("kept")], SamplingParams(n=1)))
    await asyncio.sleep(0.005)
    doomed.cancel()
    (group,) = await kept
    assert group[0].tactic == "kept/n=1/0"
    assert doomed.cancelled()
    assert all("doomed" not in states for states, _ in inner.calls)


async def test_close_fails_waiting_callers():
    front = BatchingProposer(EchoProposer(), max_batch_size=8, max_wait_ms=10_000)
    waiting = asyncio.create_task(front.propose([request("s")], SamplingParams(n=1)))
    await asyncio.sleep(0.01)
    await front.close()
    with pytest.raises((ProposerError, asyncio.CancelledError)):
        await waiting
    with pytest.raises(ProposerError, match="closed"):
        await front.propose([request("s")], SamplingParams(n=1))


async def test_with_the_tiny_model_concurrent_beam_results_equal_results_alone(tiny_model):
    proposer = TacticProposer(tiny_model, default_lean4_template())
    params = SamplingParams(n=4, method=DecodingMethod.BEAM, max_new_tokens=8)
    states = ["x : ℝ\n⊢ x = x", "n : ℕ\n⊢ n + 0 = n", "⊢ (2 : ℤ) + 2 = 4", "a b : ℕ\nh : a = b\n⊢ b = a"]
    alone = [(await proposer.propose([request(s)], params))[0] for s in states]
    front = BatchingProposer(proposer, max_batch_size=8, max_wait_ms=50)
    together = await asyncio.gather(*(front.propose([request(s)], params) for s in states))
    assert front.stats.inner_calls == 1 and front.stats.largest_batch == 4
    for single, (batched,) in zip(alone, together):
        assert [c.tactic for c in batched] == [c.tactic for c in single]
        assert [c.num_tokens for c in batched] == [c.num_tokens for c in single]
        for a, b in zip(batched, single):
            assert a.score == pytest.approx(b.score, abs=1e-5)
