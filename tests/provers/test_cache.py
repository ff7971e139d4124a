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


class VersionedProver(ScriptedProver):
    """The scripted prover with an installation version, as the Lean backend reports one."""

    def __init__(self, script, version: str) -> None:
        super().__init__(script, {"t": "A"})
        self.version = version


async def test_an_upgraded_prover_gets_no_stale_outcomes(tmp_path):
    path = tmp_path / "cache.sqlite"
    old = CachingProver(VersionedProver(SCRIPT, "lean v4.24.0"), TacticCache(path))
    first = await prove_theorem(THM, old, ScriptedProposer(TABLE), SearchConfig())
    await old.close()
    assert first.status is SearchStatus.PROVED
    # After the upgrade `a1` fails; the cache must not hand back the old Lean's answer.
    upgraded_script = {**SCRIPT, "A": {**SCRIPT["A"], "a1": fails()}}
    inner = VersionedProver(upgraded_script, "lean v4.25.0")
    new = CachingProver(inner, TacticCache(path))
    second = await prove_theorem(THM, new, ScriptedProposer(TABLE), SearchConfig())
    stats = new.cache.stats
    await new.close()
    assert second.status is not SearchStatus.PROVED
    assert stats.hits == 0 and ("t", "A", "a1") in inner.calls


def test_the_lean_version_names_toolchain_mathlib_repl_and_header(tmp_path):
    import json

    from llemma_prove.provers.lean import LeanOptions, LeanReplProver
    from llemma_prove.provers.lean.project import repository_project_dir

    project = tmp_path / "proj"
    project.mkdir()
    (project / "lean-toolchain").write_text((repository_project_dir() / "lean-toolchain").read_text())
    manifest = json.loads((repository_project_dir() / "lake-manifest.json").read_text())

    def version(header: str = "import Mathlib\n") -> str:
        (project / "lake-manifest.json").write_text(json.dumps(manifest))
        return LeanReplProver(LeanOptions(project_dir=project, header=header)).version

    base = version()
    assert "8fff8552292860d349b459d6a811e6915671dc0d" in base and "f897ebcf72cd16f89ab4577d0c826cd14afaafc7" in base
    seen = {base, version("import Mathlib\nopen Real\n")}
    for name in ("mathlib", "REPL"):
        entry = next(p for p in manifest["packages"] if p["name"] == name)
        entry["rev"] = "0" * 40
        seen.add(version())
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.25.0\n")
    seen.add(version())
    assert len(seen) == 5
