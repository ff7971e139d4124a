"""The tactic-outcome cache: a second run asks the prover nothing it already answered."""

from llemma_prove.provers.cache import CachingProver, TacticCache
from llemma_prove.search import SearchConfig, prove_theorem
from llemma_prove.types import SearchStatus, Theorem
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves, times_out

SCRIPT = {
    "A": {"a1": goes_to("B"), "a2": fails(), "a3": times_out()},
    "B": {"b1": goes_to("C"), "b2": fails()},
    "C": {"c1": proves()},
}
TABLE = {"A": [("a1", -0.1), ("a2", -0.2), ("a3", -0.3)], "B": [("b2", -0.1), ("b1", -0.2)], "C": [("c1", -0.1)]}
THM = Theorem("t", "theorem t : P := by sorry", header="import Mathlib\n")


async def attempt(cache_path, table=TABLE):
    inner = ScriptedProver(SCRIPT, {"t": "A"})
    prover = CachingProver(inner, TacticCache(cache_path))
    result = await prove_theorem(THM, prover, ScriptedProposer(table), SearchConfig())
    stats = prover.cache.stats
    await prover.close()
    return result, inner, stats


async def test_second_run_is_served_from_the_cache(tmp_path):
    first, inner1, stats1 = await attempt(tmp_path / "cache.sqlite")
    assert first.status is SearchStatus.PROVED
    assert stats1.hits == 0 and len(inner1.calls) == 6
    second, inner2, stats2 = await attempt(tmp_path / "cache.sqlite")
    assert second.status is SearchStatus.PROVED and second.proof == first.proof
    # Only the timeout is asked again (timeouts are not cached); the proof is still verified for real.
    assert inner2.calls == [("t", "A", "a3")]
    assert stats2.hits == 5 and stats2.misses == 1
    assert second.verification.accepted


async def test_states_reached_through_the_cache_are_replayed_on_a_miss(tmp_path):
    path = tmp_path / "cache.sqlite"
    # First run only learns A -> B.
    await attempt(path, {"A": [("a1", -0.1)]})
    # Second run needs a step on B that is not cached: B must be re-created on the real prover first.
    second, inner, stats = await attempt(path, {"A": [("a1", -0.1)], "B": [("b1", -0.1)], "C": [("c1", -0.1)]})
    assert second.status is SearchStatus.PROVED
    assert inner.calls[0] == ("t", "A", "a1")  # the replay
    assert stats.replays == 1
