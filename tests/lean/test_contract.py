"""Contract suite: every recorded REPL session (the transcripts' index.jsonl) through the driver.

Generic checks run on every entry; named fixtures also check what the driver concluded. The stand-in
REPL (tests/doubles/fake_repl.py, a test double) replays the recorded responses byte for byte, and only
to a request whose ids map to the recorded ones. By default the suite runs over both shared folders:
the REPL v4.24.0 that `lean_project/` pins and the newer v4.33.0-rc2 (test ids start with the
version). Set LLEMMA_PROVE_REPL_TRANSCRIPTS to run it on one directory of the same layout instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from llemma_prove.provers.lean import LeanReplProver
from llemma_prove.provers.lean.messages import (
    CommandResponse,
    PickleEnvRequest,
    ReplFailure,
    TacticRequest,
    TacticResponse,
    parse_input_block,
    parse_output_block,
    parse_request,
    parse_response,
    split_blocks,
)
from llemma_prove.provers.lean.outcomes import classify_tactic_response, is_sorry_warning
from llemma_prove.types import OutcomeKind, Proof, Theorem, Verdict

from .conftest import Transcript, fake_options, fake_repl, load_index, transcript, transcript_roots, transcripts_dirs

pytestmark = pytest.mark.contract

ROOTS = transcript_roots()
ENTRIES = [entry for _, root in ROOTS for entry in load_index(root)]
if not ENTRIES:
    ENTRIES_PARAMS = [pytest.param(None, marks=pytest.mark.skip(
        reason=f"no transcripts at {', '.join(map(str, transcripts_dirs()))}"))]
else:
    ENTRIES_PARAMS = [pytest.param(e, id=e.id) for e in ENTRIES]
ROOT_PARAMS = [pytest.param(root, id=version) for version, root in ROOTS] or [
    pytest.param(None, marks=pytest.mark.skip(reason="no transcripts"))]
WITH_OUTPUT = [p for p in ENTRIES_PARAMS if p.values[0] is None or p.values[0].expected_output is not None]


def _requests(entry: Transcript) -> list[dict]:
    return [parse_input_block(b) for b in split_blocks(entry.input.read_text(encoding="utf-8"))]


def _responses(entry: Transcript) -> list[dict]:
    assert entry.expected_output is not None
    return [parse_output_block(b) for b in split_blocks(entry.expected_output.read_text(encoding="utf-8"))]


# ----------------------------------------------------------------------------------- generic


@pytest.mark.parametrize("entry", ENTRIES_PARAMS)
def test_every_message_round_trips_through_typed_values(entry: Transcript) -> None:
    for raw in _requests(entry):
        assert parse_request(raw).to_json() == raw
    if entry.expected_output is None:
        return
    responses = _responses(entry)
    assert len(responses) == len(_requests(entry)), "one response per request"
    for raw in responses:
        typed = parse_response(raw)
        assert typed.to_json() == raw
        assert type(parse_response(typed.to_json())) is type(typed)


@pytest.mark.parametrize("entry", WITH_OUTPUT)
async def test_driver_replays_the_session_with_consistent_ids(entry: Transcript, no_leftover_children) -> None:
    requests = [parse_request(r) for r in _requests(entry)]
    expected = [parse_response(r) for r in _responses(entry)]
    repl = fake_repl(*entry.pair_args)
    await repl.start()
    envs: set[int] = set()
    states: set[int] = set()
    try:
        for request, want in zip(requests, expected):
            got = await repl.request(request, timeout_s=10.0)
            assert got == want and got.to_json() == want.to_json()
            unknown = isinstance(got, ReplFailure) and got.unknown_id
            env = getattr(request, "env", None)
            if env is not None and not unknown:
                assert env in envs, f"request uses env {env} before any response gave it"
            state = getattr(request, "proof_state", None)
            if state is not None and not unknown:
                assert state in states, f"request uses proof state {state} before any response gave it"
            if isinstance(got, CommandResponse):
                if not isinstance(request, PickleEnvRequest):  # pickling answers with the env it wrote
                    assert got.env not in envs, f"env {got.env} handed out twice"
                envs.add(got.env)
                new = [s.proof_state for s in got.sorries] + [t.proof_state for t in got.tactics or ()]
            elif isinstance(got, TacticResponse):
                new = [s.proof_state for s in got.sorries] + [got.proof_state]
            else:
                new = []
            for ps in new:
                if ps is not None:
                    assert ps not in states, f"proof state {ps} handed out twice"
                    states.add(ps)
    finally:
        await repl.close()


@pytest.mark.parametrize("entry", WITH_OUTPUT)
def test_every_tactic_outcome_follows_the_soundness_rules(entry: Transcript) -> None:
    for raw_request, raw_response in zip(_requests(entry), _responses(entry)):
        if not isinstance(parse_request(raw_request), TacticRequest):
            continue
        response = parse_response(raw_response)
        verdict = classify_tactic_response(response)
        if isinstance(response, ReplFailure):
            assert verdict.kind is OutcomeKind.ERROR
            continue
        assert isinstance(response, TacticResponse)
        has_error = any(m.is_error for m in response.messages)
        has_sorry = bool(response.sorries) or any(is_sorry_warning(m) for m in response.messages)
        if verdict.kind is OutcomeKind.PROVED:
            assert not has_error and not has_sorry and not response.goals
            assert response.proof_status in (None, "Completed")
        if not response.goals and has_error:
            assert verdict.kind is OutcomeKind.ERROR  # goals: [] with an error is never a proof
        if response.proof_status and response.proof_status != "Completed" and not response.goals:
            assert verdict.kind is OutcomeKind.ERROR
        if verdict.kind is OutcomeKind.GOALS:
            assert response.goals and verdict.text == "\n\n".join(response.goals)


# ----------------------------------------------------------------------------------- named fixtures


@dataclass(frozen=True)
class Step:
    tactic: str
    on: int  # index of the state it runs on: 0 = root, k = the state the k-th GOALS step produced
    kind: OutcomeKind
    text: str = ""  # expected state text (GOALS) or a fragment of the message (ERROR)


@dataclass(frozen=True)
class Case:
    fixture: str
    statement: str
    root: str
    steps: tuple[Step, ...]
    header: str = ""


G, P, E = OutcomeKind.GOALS, OutcomeKind.PROVED, OutcomeKind.ERROR

# Steps that the text filter refuses (search tactics, the theorem's own name) never reach the REPL
# since issue 10; a plain `sorry` does reach it, so that a state it leaves is queued as the paper's harness did: their transcripts' REPL answers are still classified by the transcript-wide test above.
CASES = [
    Case("invalid_tactic", "theorem my_theorem (x : Nat) : x = x := by sorry", "x : Nat\n⊢ x = x",
         (Step("exact my_fake_premise", 0, E, "Unknown identifier `my_fake_premise`"),)),
    Case("proof_step", "def f : Nat := by sorry", "⊢ Nat",
         (Step("apply Int.natAbs", 0, G, "⊢ Int"), Step("have t : Nat := 42", 0, G, "t : Nat\n⊢ Nat"),
          Step("exact t", 2, P))),
    Case("proof_branching",
         "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry",
         "p q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ p ∧ r",
         (Step("apply And.intro", 0, G, "case left\np q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ p\n\n"
                                         "case right\np q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ r"),
          Step("exact h1.left", 1, G, "case right\np q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ r"),
          Step("apply h2", 2, G, "case right\np q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ q"),
          Step("exact h1.right", 3, P))),
    Case("self_proof_exact_check", "theorem ex : False := sorry", "⊢ False",
         (Step("exact ex", 0, E, "refused by the text filter: the proof refers to the theorem `ex`"),)),
    Case("self_proof_check", "theorem ex : False := sorry", "⊢ False",
         (Step("exact?", 0, E, "refused by the text filter"),)),
    Case("tactic_mode_sorry", "def f : Nat := by sorry", "⊢ Nat", (Step("sorry", 0, E, "sorry"),)),
    # Goals remain, so the state comes back marked `introduces_sorry` (the harness queued it; the
    # search prunes it only with prune_sorry); the final check rejects anything built on it.
    Case("sorry_hypotheses", "theorem foo (x : Int) : x = x := by sorry", "x : Int\n⊢ x = x",
         (Step("have h : x = 1 := sorry", 0, G, "x : Int\nh : x = 1\n⊢ x = x"),)),
    Case("app_type_mismatch", "example : 1 = 0 := sorry", "⊢ 1 = 0",
         (Step("cases 1", 0, G, "case zero\n⊢ 0 = 0\n\ncase succ\nn✝ : Nat\n⊢ n✝ + 1 = 0"),
          Step("rfl", 1, G, "case succ\nn✝ : Nat\n⊢ n✝ + 1 = 0"),
          Step("apply ?succ", 2, E, "metavariable"))),
    Case("unknown_tactic", "def f : Nat := by sorry", "⊢ Nat", (Step("exat 42", 0, E, "unknown tactic"),)),
    Case("assumption_proof", "theorem aa (x : Nat) (h1 : x  = 2) : x = 2 := by sorry", "x : Nat\nh1 : x = 2\n⊢ x = 2",
         (Step("assumption", 0, P),)),
    Case("readme", "def f (x : Unit) : Nat := by sorry", "x : Unit\n⊢ Nat",
         (Step("apply Int.natAbs", 0, G, "x : Unit\n⊢ Int"), Step("exact -37", 1, P))),
    Case("name_generator", "set_option trace.Meta.Tactic.simp true\nexample {x : Int} (h0 : x > 0) : False := by sorry",
         "x : Int\nh0 : x > 0\n⊢ False",
         (Step("have h : x > 0 := by sorry", 0, G, "x : Int\nh0 h : x > 0\n⊢ False"),)),
    Case("20240209", "example : False := by sorry", "⊢ False",
         (Step("simpa using show False by done", 0, E, "unsolved goals"),)),
    Case("H20231115", "example {x : Nat} : x + 1 > x := by sorry", "x : Nat\n⊢ x + 1 > x",
         (Step("induction' x with x hx", 0, G, "case zero\n⊢ 0 + 1 > 0\n\ncase succ\nx : Nat\nhx : x + 1 > x\n⊢ x + 1 + 1 > x + 1"),),
         header="import Mathlib.Tactic.Cases"),
    Case("exact", "theorem test : 0 < 1 := by sorry", "⊢ 0 < 1", (Step("exact?", 0, E, "refused by the text filter"),), header="import Mathlib"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.fixture) for c in CASES])
@pytest.mark.parametrize("root", ROOT_PARAMS)
async def test_named_fixture_outcomes(case: Case, root, no_leftover_children) -> None:
    entry = transcript(case.fixture, root)
    prover = LeanReplProver(fake_options(*entry.pair_args, header=case.header))
    await prover.start()
    try:
        session = await prover.open(Theorem(case.fixture, case.statement, header=case.header))
        root = await session.initial_state()
        assert root.text == case.root
        states = [root]
        for step in case.steps:
            outcome = await session.step(states[step.on], step.tactic)
            assert outcome.kind is step.kind, (step.tactic, outcome)
            if step.kind is G:
                assert outcome.state is not None and outcome.state.text == step.text
                assert outcome.introduces_sorry == ("sorry" in step.tactic)
                states.append(outcome.state)
            elif step.kind is E:
                assert step.text in outcome.message
            else:
                assert outcome.state is None
        await session.close()
        repl = prover.pool.workers[0].repl
        assert repl.alive and repl.generation == 1, "the REPL died during the session: " + repl.stderr_tail()
    finally:
        await prover.close()


@pytest.mark.parametrize("root", ROOT_PARAMS)
async def test_exact_search_step_counts_but_final_check_refuses_the_leftover(root, no_leftover_children) -> None:
    """`exact?` closes the goal in the REPL (Completed), yet the proof text still says `exact?`."""
    entry = transcript("exact", root)
    prover = LeanReplProver(fake_options(*entry.pair_args, header="import Mathlib"))
    await prover.start()
    try:
        theorem = Theorem("test", "theorem test : 0 < 1 := by sorry", header="import Mathlib")
        verification = await prover.verify(theorem, Proof(("exact?",)))
        assert verification.verdict is Verdict.REJECTED
        assert "exact?" in verification.reason
    finally:
        await prover.close()


@pytest.mark.parametrize("root", ROOT_PARAMS)
async def test_unknown_ids_parse_as_request_failures(root, no_leftover_children) -> None:
    entry = transcript("unknown_proof_state", root)
    repl = fake_repl(*entry.pair_args)
    await repl.start()
    try:
        opened = await repl.request(parse_request(_requests(entry)[0]), 5.0)
        assert isinstance(opened, CommandResponse) and opened.sorries[0].proof_state == 0
        failed = await repl.request(TacticRequest("exact 42", 1), 5.0)
        assert isinstance(failed, ReplFailure) and failed.unknown_id
        assert failed.message == "Unknown proof state."
    finally:
        await repl.close()


@pytest.mark.parametrize("root", ROOT_PARAMS)
def test_all_tactics_infotree_and_traces_are_typed(root) -> None:
    tactics = parse_response(_responses(transcript("all_tactics", root))[0])
    assert isinstance(tactics, CommandResponse) and tactics.tactics is not None
    assert [t.tactic for t in tactics.tactics] == ["have t := 37", "exact t"]
    assert tactics.tactics[1].goals == "t : Nat\n⊢ Nat" and tactics.tactics[0].used_constants == (
        "instOfNatNat", "Nat", "OfNat.ofNat")
    tree = parse_response(_responses(transcript("infotree", root))[0])
    assert isinstance(tree, CommandResponse) and tree.infotree[0]["kind"] == "TacticInfo"
    traced = parse_response(_responses(transcript("trace_simp", root))[6])
    assert isinstance(traced, TacticResponse) and traced.proof_status == "Completed"
    assert traced.traces and "f_def" in traced.traces[0]
