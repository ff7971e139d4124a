"""Hole extraction and reassembly are exact text operations (real DSP sketches, Lean sketches)."""

from __future__ import annotations

import json

import pytest

from llemma_prove.autoformalize.holes import lean_fill_text, parse_sketch
from llemma_prove.autoformalize.prompts import default_prompts
from llemma_prove.types import Language
from tests.conftest import require_shared


def _dsp_sketches() -> list[dict]:
    path = require_shared("prompts/dsp/paper_prompt_examples.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_real_dsp_sketches_parse_into_holes_and_reassemble_byte_exactly():
    rows = _dsp_sketches()
    assert len(rows) == 20
    total = 0
    for row in rows:
        text = row["formal_sketch"]
        sketch = parse_sketch(text, Language.ISABELLE)
        assert sketch.holes, row["tag"]
        # every hole is the word `sledgehammer` at its recorded position, line and column
        lines = text.split("\n")
        for hole in sketch.holes:
            assert text[hole.start : hole.end] == "sledgehammer"
            assert lines[hole.line - 1][hole.column : hole.column + len("sledgehammer")] == "sledgehammer"
        # filling every hole with its own token gives the sketch back, byte for byte
        assert sketch.fill([h.token for h in sketch.holes]).encode() == text.encode()
        # distinct markers land exactly where the holes were, and nothing else moves
        markers = [f"<<{i}>>" for i in range(len(sketch.holes))]
        filled = sketch.fill(markers)
        back = filled
        for marker, hole in zip(markers, sketch.holes):
            back = back.replace(marker, hole.token, 1)
        assert back == text
        assert "".join(sketch.segments()) == text.replace("sledgehammer", "")
        total += len(sketch.holes)
    assert total == sum(r["formal_sketch"].count("sledgehammer") for r in rows)


def test_isabelle_holes_skip_comments_strings_and_cartouches():
    text = (
        'proof -\n'
        '  (* sledgehammer would do (* nested sledgehammer *) here *)\n'
        '  have "sledgehammer_lemma = x" sledgehammer\n'
        '  text \\<open>sledgehammer in a cartouche\\<close>\n'
        '  note ‹sledgehammer›\n'
        '  show ?thesis using c0 sledgehammer\n'
        'qed'
    )
    sketch = parse_sketch(text, Language.ISABELLE)
    assert [(h.line, h.column) for h in sketch.holes] == [(3, 32), (6, 24)]
    assert sketch.fill(["by simp", "by auto"]) == text.replace(
        '"sledgehammer_lemma = x" sledgehammer', '"sledgehammer_lemma = x" by simp'
    ).replace("c0 sledgehammer", "c0 by auto")


def test_lean_sketch_with_several_sorries_reassembles_exactly():
    text = (
        "\n  -- a sorry in a comment is not a hole\n"
        "  have h₁ : x = 19 := by\n"
        "    sorry\n"
        "  /- nor is /- a nested sorry -/ here -/\n"
        "  have h₂ : y = -12 := by sorry\n"
        '  have h₃ : s = "sorry" := sorry\n'
        "  rcases h with h | h\n"
        "  · sorry\n"
        "  · exact sorry_lemma\n"
        "  sorry"
    )
    sketch = parse_sketch(text, Language.LEAN4)
    lines = text.split("\n")
    expected = [(4, False), (6, False), (7, True), (9, False), (11, False)]
    assert [(h.line, h.term_position) for h in sketch.holes] == expected
    assert [h.column for h in sketch.holes] == [lines[row - 1].rindex("sorry") for row, _ in expected]
    assert sketch.fill([h.token for h in sketch.holes]) == text
    filled = sketch.fill(["linarith", "norm_num", "lean_fill", "simp", "omega"])
    assert "sorry_lemma" in filled and '"sorry"' in filled
    assert filled.count("sorry") == 4  # two comments, the string and the lemma name, nothing else


def test_project_lean_examples_parse_with_their_holes():
    for example in default_prompts(Language.LEAN4).examples:
        sketch = parse_sketch(example.formal_sketch, Language.LEAN4)
        assert len(sketch.holes) == example.formal_sketch.count("sorry") - example.formal_sketch.count(":= by sorry")
        assert sketch.fill([h.token for h in sketch.holes]) == example.formal_sketch


def test_lean_fill_text_keeps_tactic_blocks_aligned():
    text = "  have h : P := by\n    sorry\n  have g : Q := by sorry\n  exact ⟨h, sorry⟩"
    sketch = parse_sketch(text, Language.LEAN4)
    first, second, third = sketch.holes
    assert not first.term_position and not second.term_position and third.term_position
    assert lean_fill_text(first, ["norm_num", "linarith"]) == "norm_num\n    linarith"
    assert lean_fill_text(second, ["simp", "ring"]) == "simp\n" + " " * second.column + "ring"
    assert lean_fill_text(third, ["simp"]) == "(by simp)"
    filled = sketch.fill([lean_fill_text(h, ["norm_num", "linarith"]) for h in sketch.holes])
    assert filled.startswith("  have h : P := by\n    norm_num\n    linarith\n")
    with pytest.raises(ValueError):
        lean_fill_text(first, [])


def test_hole_at_finds_a_hole_by_reported_position():
    sketch = parse_sketch("by\n  have : 1 = 1 := by sorry\n  sorry", Language.LEAN4)
    assert sketch.hole_at(2, len("  have : 1 = 1 := by ")).index == 0
    assert sketch.hole_at(3, 2).index == 1
    assert sketch.hole_at(3, 3) is None
