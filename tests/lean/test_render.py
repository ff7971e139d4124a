"""Rendering proofs and statements, and the typed messages' edge cases."""

from __future__ import annotations

import json

import pytest

from llemma_prove.provers.lean.messages import (
    CommandResponse,
    ReplProtocolError,
    TacticResponse,
    decode_response,
    encode_request,
    CommandRequest,
    parse_response,
)
from llemma_prove.provers.lean.render import (
    declaration_name,
    proof_body,
    render_source,
    render_tactic,
    sorry_command,
    split_header,
    split_tactics,
    statement_head,
    strip_comments,
)
from llemma_prove.types import Proof, Theorem
from tests.conftest import require_shared


@pytest.mark.parametrize(
    "statement, head",
    [
        ("theorem a : 1 = 1 := by sorry", "theorem a : 1 = 1 :="),
        ("theorem a : 1 = 1 := by\n", "theorem a : 1 = 1 :="),
        ("theorem a : 1 = 1 := sorry", "theorem a : 1 = 1 :="),
        ("theorem a : 1 = 1 :=", "theorem a : 1 = 1 :="),
        ("theorem a (hby : True) : True", "theorem a (hby : True) : True :="),
    ],
)
def test_statement_head(statement: str, head: str) -> None:
    assert statement_head(statement) == head


def test_sorry_command_keeps_a_statement_that_already_ends_in_sorry() -> None:
    assert sorry_command("theorem ex : False := sorry") == "theorem ex : False := sorry"
    assert sorry_command("theorem ex : False := by\n") == "theorem ex : False := by sorry"
    assert declaration_name("theorem mathd_algebra_10 : True := by sorry") == "mathd_algebra_10"
    assert declaration_name("@[simp] lemma foo.bar' (x : ℕ) : x = x := rfl") == "foo.bar'"
    assert declaration_name("example : True := trivial") is None


def test_rendering_keeps_relative_indentation() -> None:
    assert render_tactic("  intro x") == "  intro x"
    assert render_tactic("calc a = b := h\n  _ = c := h'") == "  calc a = b := h\n    _ = c := h'"
    assert render_tactic("  calc a = b := h\n      _ = c := h'") == "  calc a = b := h\n      _ = c := h'"
    theorem = Theorem("t", "theorem t : True := by sorry", header="import Mathlib\n", preamble="def x := 1")
    assert render_source(theorem, Proof(("trivial",))) == "import Mathlib\ndef x := 1\n\ntheorem t : True := by\n  trivial\n"
    assert split_header("import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\nopen Real\n").imports == (
        "Mathlib", "Aesop")


def test_published_proofs_split_into_steps_and_render_back() -> None:
    """Every published v4.24.0 proof: split into top-level tactics, rendered back to the same lines."""
    path = require_shared("minif2f/lean4/solutions/yangky11_valid_442f415.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 75
    for row in rows:
        tactics = split_tactics(row["proof"])
        assert tactics and all(t.strip() for t in tactics)
        original = []
        for line in row["proof"].split("\n")[1:]:
            if line.strip() and not line.startswith(" "):
                break  # the next command of the upstream file (`set_option ... in`)
            if line.strip() and not line.strip().startswith("--"):
                original.append(line)
        rendered = [ln for ln in proof_body(tactics).split("\n")[1:] if ln.strip()]
        assert rendered == original, row["name"]


def test_comments_are_blanked_but_strings_kept() -> None:
    text = 'simp -- sorry\n/- nested /- sorry -/ still -/ exact "sorry"'
    out = strip_comments(text)
    assert "sorry" not in out.replace('"sorry"', "") and '"sorry"' in out and out.count("\n") == 1


def test_unknown_keys_and_explicit_nulls_survive_a_round_trip() -> None:
    raw = {"env": 3, "messages": [{"severity": "info", "pos": {"line": 1, "column": 0}, "endPos": None,
                                   "data": "x", "kind": "new"}], "newField": [1, 2]}
    typed = parse_response(raw)
    assert isinstance(typed, CommandResponse) and typed.to_json() == raw
    tactic = {"proofState": 4, "goals": [], "proofStatus": "Completed", "mystery": True}
    assert isinstance(parse_response(tactic), TacticResponse) and parse_response(tactic).to_json() == tactic


def test_garbage_is_a_protocol_error() -> None:
    with pytest.raises(ReplProtocolError):
        decode_response("PANIC at Lean.Elab\nnot json")
    with pytest.raises(ReplProtocolError):
        decode_response('{"what": 1}')
    with pytest.raises(ReplProtocolError):
        decode_response('{"env": "zero"}')


def test_requests_never_carry_a_raw_newline() -> None:
    data = encode_request(CommandRequest("theorem a : True := by\n  trivial", env=0))
    assert data.endswith(b"\n\n") and data.count(b"\n") == 2
    assert json.loads(data) == {"cmd": "theorem a : True := by\n  trivial", "env": 0}
