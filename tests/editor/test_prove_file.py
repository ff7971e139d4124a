"""`prove_file` and `prove_target` against the scripted prover and proposer doubles."""

from __future__ import annotations

from dataclasses import replace

import pytest

from llemma_prove.editor.backends import EditorConfig
from llemma_prove.editor.errors import NoTarget, UnsupportedTarget
from llemma_prove.editor.prove_file import format_proofs, prove_file
from llemma_prove.editor.session import prove_target
from llemma_prove.editor.targets import HoleKind, locate
from llemma_prove.errors import UserError
from llemma_prove.types import Language
from tests.doubles.scripted import ScriptedProposer, fails, goes_to, proves
from tests.editor.doubles import SAMPLE_LEAN, EditorScriptedProver, ScriptedBackends, sample_backends

CONFIG = EditorConfig(expansions=10, candidates=4, time_limit_s=30)


async def test_every_sorry_in_file_order_with_earlier_proofs_in_the_context(tmp_path):
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    backends = sample_backends(CONFIG)
    report = await prove_file(path, CONFIG, backends=backends)
    statuses = [(o.target.name, o.status) for o in report.outcomes]
    assert statuses == [("helper", "proved"), ("uses_helper", "proved"),
                        ("example at line 11", "proved"), ("«nested one»", "unsupported")]
    assert [o.steps for o in report.proved] == [("simp",), ("exact helper a",), ("norm_num",)]
    opened = {t.name: t for t in backends.prover_double.opened}
    # uses_helper was read from the text that already holds helper's proof: a proved lemma, not a sorry.
    assert "lemma helper (x : ℕ) : x + 0 = x := by simp" in opened["uses_helper"].preamble
    assert opened["uses_helper"].statement == "theorem uses_helper (a : ℕ) : a + 0 + 0 = a := by sorry"
    assert opened["uses_helper"].header == "import Mathlib\nopen Real\n\n"
    # The final check saw the whole proof: the replayed tactic before the sorry, then the found one.
    checked = {t.name: p.tactics for t, p in backends.prover_double.verified}
    assert checked["uses_helper"] == ("rw [helper]", "exact helper a")
    assert checked["llemma_example_line11"] == ("norm_num",)
    assert report.new_text == SAMPLE_LEAN.replace(
        "x + 0 = x := by sorry", "x + 0 = x := by simp").replace(
        "  rw [helper]\n  sorry", "  rw [helper]\n  exact helper a").replace(
        "(2 : ℕ) + 2 = 4 := sorry", "(2 : ℕ) + 2 = 4 := by norm_num")
    assert not report.written and path.read_text(encoding="utf-8") == SAMPLE_LEAN
    assert not report.all_proved
    assert backends.closed is False  # backends passed in belong to the caller
    assert format_proofs(report).startswith("-- helper (line 5)\nsimp\n\n-- uses_helper (line 9)\nexact helper a\n")


async def test_write_puts_all_proofs_into_the_file(tmp_path):
    path = tmp_path / "Sample.lean"
    path.write_bytes(SAMPLE_LEAN.replace("\n", "\r\n").encode("utf-8"))
    report = await prove_file(path, CONFIG, write=True, backends=sample_backends(CONFIG))
    assert report.written
    data = path.read_bytes().decode("utf-8")
    assert data == report.new_text and "\r\n" in data and "\n" not in data.replace("\r\n", "")
    assert data.count("sorry") == 1  # the one in the bullet of «nested one» is left alone
    assert "rw [helper]\r\n  exact helper a\r\n" in data


async def test_search_that_fails_or_is_refused_reports_why(tmp_path):
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")
    backends = sample_backends(CONFIG, reject=["helper"])
    report = await prove_file(path, CONFIG, theorem="helper", write=True, backends=backends)
    (outcome,) = report.outcomes
    assert outcome.status == "rejected" and outcome.edit is None
    assert outcome.reason == "a proof was found but the final check refused it: rejected by the test script"
    assert not report.written and path.read_text(encoding="utf-8") == SAMPLE_LEAN


async def test_replay_failure_before_the_sorry_is_an_error_with_the_step():
    text = "theorem t (a : ℕ) : a = a := by\n  rw [nope]\n  sorry\n"
    (target,) = locate(text, Language.LEAN4).targets
    assert target.kind is HoleKind.LAST_STEP
    prover = EditorScriptedProver({"⊢ a = a": {"rw [nope]": fails("unknown constant 'nope'")}}, {"t": "⊢ a = a"})
    backends = ScriptedBackends(prover, ScriptedProposer({}))
    outcome = await prove_target(target, backends, CONFIG)
    assert outcome.status == "error"
    assert "step 1 of 1 before the sorry (`rw [nope]`) fails when replayed: unknown constant 'nope'" in outcome.reason
    assert all(s.closed for s in prover.sessions)


async def test_no_proof_within_budget_and_progress_reports():
    text = "theorem loop : True := by sorry\n"
    (target,) = locate(text, Language.LEAN4).targets
    script = {"⊢ True": {"skip": goes_to("⊢ True'")}, "⊢ True'": {"skip": goes_to("⊢ True''")},
              "⊢ True''": {"exact trivial": proves()}}
    table = {"⊢ True": [("skip", -0.1)], "⊢ True'": [("skip", -0.1)], "⊢ True''": [("skip", -0.1)]}
    backends = ScriptedBackends(EditorScriptedProver(script, {"loop": "⊢ True"}), ScriptedProposer(table))
    seen = []
    outcome = await prove_target(target, backends, CONFIG, progress=lambda done, budget: seen.append((done, budget)))
    assert outcome.status == "exhausted" and outcome.reason == "the search ran out of candidates after 3 expansions"
    assert seen == [(1, 10), (2, 10), (3, 10)]


async def test_user_mistakes_raise_before_any_backend_is_built(tmp_path):
    path = tmp_path / "Sample.lean"
    path.write_text(SAMPLE_LEAN, encoding="utf-8")

    class Exploding:
        async def prover(self, theorem):  # pragma: no cover - must not be reached
            raise AssertionError("no prover may be started for a user mistake")

    with pytest.raises(NoTarget, match="no theorem named 'nope'"):
        await prove_file(path, CONFIG, theorem="nope", backends=Exploding())
    with pytest.raises(NoTarget, match="no sorry and no theorem at line 3"):
        await prove_file(path, CONFIG, line=3, backends=Exploding())
    with pytest.raises(UnsupportedTarget, match="sorry at line 15, column 11: this sorry is nested inside the tactic `·`"):
        await prove_file(path, CONFIG, line=15, backends=Exploding())
    with pytest.raises(UserError, match="expansions must be at least 1"):
        EditorConfig(expansions=0)


def test_config_from_initialization_options():
    config = EditorConfig.from_mapping({"model": "m", "timeLimit": 12, "expansions": 5, "leanProject": "~/p",
                                        "modelBackend": "openai", "endpoint": "http://x"})
    assert (config.model, config.time_limit_s, config.expansions, config.model_backend) == ("m", 12.0, 5, "openai")
    assert config.search_config().max_expansions == 5 and config.search_config().time_limit_s == 12.0
    assert str(config.lean_project).endswith("/p") and "~" not in str(config.lean_project)
    with pytest.raises(UserError, match="unknown option 'modle'"):
        EditorConfig.from_mapping({"modle": "x"})
    with pytest.raises(UserError, match="option expansions must be an integer"):
        EditorConfig.from_mapping({"expansions": "many"})
    with pytest.raises(UserError, match="needs --endpoint"):
        EditorConfig.from_mapping({"modelBackend": "openai"})


class HammerResolvingProver(EditorScriptedProver):
    """Like the Isabelle backend, the final check reports the steps it accepted, with each hammer call
    replaced by the tactic the hammer found."""

    async def verify(self, theorem, proof):
        verdict = await super().verify(theorem, proof)
        steps = ["by (auto simp: field_simps)" if t == "normalhammer" else t for t in proof.tactics]
        return replace(verdict, details={"tactics": steps})


async def test_isabelle_writes_the_steps_the_final_check_accepted(tmp_path):
    path = tmp_path / "Hammer.thy"
    path.write_text('theory Hammer imports Complex_Main\nbegin\n\nlemma h:\n  fixes x :: real\n  assumes "x > 0"\n'
                    '  shows "x / x = 1"\n  using assms\n  sorry\n\nend\n', encoding="utf-8")
    prover = HammerResolvingProver({"x > 0 ==> x / x = 1": {"using assms": goes_to("using: x > 0 ==> x / x = 1")},
                                    "using: x > 0 ==> x / x = 1": {"normalhammer": proves()}},
                                   {"h": "x > 0 ==> x / x = 1"})
    backends = ScriptedBackends(prover, ScriptedProposer({"using: x > 0 ==> x / x = 1": [("normalhammer", -0.1)]}))
    report = await prove_file(path, CONFIG, write=True, backends=backends)
    (outcome,) = report.outcomes
    assert outcome.target.kind is HoleKind.LAST_STEP and outcome.target.theorem.language is Language.ISABELLE
    assert outcome.steps == ("by (auto simp: field_simps)",)
    assert prover.verified[0][1].tactics == ("using assms", "normalhammer")
    assert path.read_text(encoding="utf-8").endswith('  shows "x / x = 1"\n  using assms\n  by (auto simp: field_simps)\n\nend\n')
