"""Tactic-position `sorry`s the scanner must accept (and term-position ones it must refuse), measured
on the published miniF2F Lean 4 proofs with one tactic re-sorried at a time, as in issue 15's counts:
`| succ m => sorry`, a bullet whose `sorry` follows a comment line, inside `(try { ... })`, after a
line ending in `<;>`, `all_goals sorry`; and a `sorry` element of a multi-line `simp [...]` list,
which is a term."""

from __future__ import annotations

import collections
import json
import re
from typing import Iterator

import pytest

from llemma_prove.editor.targets import HoleKind, locate
from llemma_prove.types import Language
from tests.conftest import require_shared

PER_KIND = 25  # re-sorried cases checked per pattern (the whole set takes minutes on a small machine)


def lean(text: str):
    return locate(text, Language.LEAN4)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def resorried(code: str) -> Iterator[tuple[str, int | tuple[int, int], str]]:
    """(pattern, line index or [first, last) line range, replacement line) for each single-line tactic
    of one of the patterns (or the whole block of an alternative)."""
    lines = code.split("\n")

    def single(j: int) -> bool:  # the tactic is one line: no more-indented continuation below it
        return j + 1 >= len(lines) or not lines[j + 1].strip() or _indent(lines[j + 1]) <= _indent(lines[j])

    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        m = re.match(r"^(\s*\|[^=]*=>\s*)(\S.*)$", line)
        if m and single(i) and "--" not in m.group(2):
            for j in range(i - 1, -1, -1):
                above = lines[j]
                if above.strip() and (_indent(above) < _indent(line) or
                                      (_indent(above) == _indent(line) and not above.strip().startswith("|"))):
                    if re.match(r"^\s*(·\s*)?(induction|cases|rcases|match)\b", above):
                        yield "alternative", i, m.group(1) + "sorry"
                    break
        m = re.match(r"^(\s*\|[^=]*=>)\s*$", line)
        if m and i + 1 < len(lines) and _indent(lines[i + 1]) > _indent(line):
            j = i + 1  # an alternative whose tactics are on the lines below: all of them become one sorry
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > _indent(line)):
                j += 1
            yield "alternative-block", (i + 1, j), " " * _indent(lines[i + 1]) + "sorry"
        if re.match(r"^\s*·\s*--", line) and nxt.strip() and not nxt.strip().startswith("--") and single(i + 1):
            yield "bullet-comment", i + 1, " " * _indent(nxt) + "sorry"
        if (line.rstrip().endswith("<;>") and nxt.strip() and not nxt.strip().startswith(("--", "("))
                and single(i + 1) and not nxt.rstrip().endswith("<;>")):
            yield "after-<;>", i + 1, " " * _indent(nxt) + "sorry"
        m = re.match(r"^(\s*all_goals\s+)(\S.*)$", line)
        if m and single(i) and not m.group(2).startswith("("):
            yield "all_goals", i, m.group(1) + "sorry"
        if re.search(r"\(try \{\s*$", line) and i + 1 < len(lines):
            j, column = i + 1, _indent(lines[i + 1])
            while j < len(lines) and lines[j].strip() and _indent(lines[j]) >= column:
                inner = lines[j]
                if (_indent(inner) == column and single(j) and not inner.strip().startswith(("--", "}", "<;>"))
                        and "})" not in inner and not inner.rstrip().endswith("<;>")):
                    yield "try-block", j, " " * column + "sorry"
                j += 1
        m = re.match(r"^(\s*)(simp|nlinarith|linarith|field_simp|norm_num|simp_all)( only)? \[[^\]]*,\s*$", line)
        if m and nxt.strip() and not nxt.strip().startswith("--"):
            yield "term-list", i + 1, " " * _indent(nxt) + "sorry" + ("]" if nxt.rstrip().endswith("]") else ",")


def test_resorried_published_proofs():
    folder = require_shared("minif2f/lean4/solutions")
    seen: collections.Counter[str] = collections.Counter()
    wrong: list[tuple[str, str, int, str]] = []
    kinds = {"alternative", "alternative-block", "bullet-comment", "after-<;>", "all_goals", "try-block",
             "term-list"}
    for path in sorted(folder.glob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(raw)
            if row["contains_sorry"]:
                continue
            lines = row["lean_code"].split("\n")
            for kind, i, replacement in resorried(row["lean_code"]):
                if seen[kind] >= PER_KIND:
                    continue
                first, last = i if isinstance(i, tuple) else (i, i + 1)
                (target,) = lean("\n".join(lines[:first] + [replacement] + lines[last:])).targets
                seen[kind] += 1
                supported = target.kind is not HoleKind.UNSUPPORTED
                if supported != (kind != "term-list"):
                    wrong.append((kind, row["name"], first + 1, target.reason))
            if all(seen[k] >= PER_KIND for k in kinds):
                break
    assert {k: seen[k] for k in kinds} == {k: PER_KIND for k in kinds}
    assert wrong == []


@pytest.mark.parametrize("proof, expected", [
    ("  induction n with\n  | zero => simp\n  | succ m ih => sorry\n", HoleKind.NESTED),
    ("  cases h with\n  | inl h => sorry\n  | inr h => simp\n", HoleKind.NESTED),
    ("  match n with\n  | 0 => simp\n  | m + 1 =>\n    sorry\n", HoleKind.NESTED),
    ("  constructor\n  · -- the first part\n    sorry\n  · simp\n", HoleKind.NESTED),
    ("  (try {\n    simp\n    sorry\n  })\n  simp\n", HoleKind.NESTED),
    ("  (try {\n    sorry\n  })\n  simp\n", HoleKind.NESTED),
    ("  constructor <;>\n  sorry\n", HoleKind.NESTED),  # the right-hand side of `<;>`, not a last step
    ("  constructor <;>\n    sorry\n", HoleKind.NESTED),
    ("  constructor\n  all_goals sorry\n", HoleKind.NESTED),
    ("  constructor\n  all_goals\n    sorry\n", HoleKind.NESTED),
    ("  case succ m ih =>\n    sorry\n", HoleKind.NESTED),
    ("  simp\n  <;> cases n with\n  | zero => sorry\n  | succ m => simp\n", HoleKind.NESTED),
    ("  exact ⟨rfl, by\n    cases n with\n    | zero => sorry\n    | succ m => simp⟩\n", HoleKind.NESTED),
    ("  exact ⟨by simp, sorry⟩\n", HoleKind.UNSUPPORTED),
    ("  refine ⟨?_, by\n    have k : n = n := by simp\n    sorry⟩\n", HoleKind.NESTED),
    ("  simp [Nat.add_comm,\n    sorry]\n  rfl\n", HoleKind.UNSUPPORTED),
    ("  nlinarith [sq_nonneg (a - b),\n    sorry, sq_nonneg a]\n", HoleKind.UNSUPPORTED),
    ("  exact match n with\n  | 0 => sorry\n  | _ => rfl\n", HoleKind.UNSUPPORTED),
    ("  refine ⟨?_,\n    sorry⟩\n", HoleKind.UNSUPPORTED),
    ("  have := { x := 1,\n            y := sorry }\n", HoleKind.UNSUPPORTED),
])
def test_hand_written_positions(proof, expected):
    (target,) = lean("theorem t (n : ℕ) (h : n = 0 ∨ n = 1) : n = n := by\n" + proof).targets
    assert target.kind is expected, target.reason
    if expected is HoleKind.UNSUPPORTED:
        assert "only in tactic position" in target.reason


def test_after_a_combinator_several_steps_go_in_as_one_tactic():
    from llemma_prove.editor.targets import proof_edit

    (target,) = lean("theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor <;>\n    sorry\n").targets
    assert target.kind is HoleKind.NESTED and target.insertion.single_tactic
    assert proof_edit(target, ["simp"]).new_text == "simp"
    assert proof_edit(target, ["simp", "assumption"]).new_text == "(simp; assumption)"
    # a `sorry` after a bullet takes a sequence: one step per line at its column
    (bullet,) = lean("theorem t (p : Prop) (hp : p) : p ∧ p := by\n  constructor\n  · sorry\n  · exact hp\n").targets
    assert not bullet.insertion.single_tactic
    assert proof_edit(bullet, ["simp", "assumption"]).new_text == "simp\n    assumption"
