"""Hand-made Lean and Isabelle files: attributes, docstrings, `where`, several sorrys, Unicode names,
unsupported spots with their reasons, selection errors, and the layout of inserted proofs."""

from __future__ import annotations

import pytest

from llemma_prove.editor.errors import NoTarget, UnsupportedSource, UnsupportedTarget
from llemma_prove.editor.targets import HoleKind, apply_edits, language_for, locate, proof_edit, select_targets
from llemma_prove.errors import UserError
from llemma_prove.types import Language


def lean(text: str):
    return locate(text, Language.LEAN4)


def only(text: str):
    (target,) = lean(text).targets
    return target


# ------------------------------------------------------------------------------------------- Lean


def test_docstring_attribute_and_modifiers_belong_to_the_statement():
    text = (
        "import Mathlib\n\nset_option maxHeartbeats 400000\nopen Real\n\n"
        "def double (n : ℕ) : ℕ := 2 * n\n\n"
        "/-- The double of two.\n  (multi-line docstring) -/\n@[simp]\nprivate theorem double_two : double 2 = 4 := by sorry\n"
    )
    target = only(text)
    assert target.kind is HoleKind.WHOLE_PROOF
    theorem = target.theorem
    assert theorem.name == "double_two"
    assert theorem.header == "import Mathlib\n\nset_option maxHeartbeats 400000\nopen Real\n\n"
    assert theorem.preamble == "def double (n : ℕ) : ℕ := 2 * n\n\n"
    assert theorem.statement.startswith("/-- The double of two.")
    assert theorem.statement.endswith("private theorem double_two : double 2 = 4 := by sorry")


def test_prefix_commands_with_in_stay_with_the_declaration():
    text = "import Mathlib\nopen Nat\n\nopen Real in\nset_option linter.unusedVariables false in\nlemma l (x : ℝ) : x = x := by sorry\n"
    target = only(text)
    assert target.theorem.header == "import Mathlib\nopen Nat\n\n"
    assert target.theorem.preamble == ""
    assert target.theorem.statement.startswith("open Real in\nset_option linter.unusedVariables false in\nlemma l")
    assert target.declaration.keyword == "lemma"


def test_namespaces_give_full_names_and_either_name_selects():
    text = (
        "namespace Foo\n\ntheorem bar : 1 = 1 := by sorry\n\nsection\nnamespace Baz.Qux\n"
        "theorem deep : 2 = 2 := by sorry\nend Baz.Qux\nend\n\nend Foo\n\ntheorem top : 3 = 3 := by sorry\n"
    )
    located = lean(text)
    assert [t.theorem.name for t in located.targets] == ["Foo.bar", "Foo.Baz.Qux.deep", "top"]
    assert [t.declaration.name for t in located.targets] == ["bar", "deep", "top"]
    assert select_targets(located, theorem="Foo.bar") == select_targets(located, theorem="bar")
    assert located.targets[1].theorem.preamble.startswith("namespace Foo\n")


def test_where_clauses_are_located_and_reported():
    text = (
        "theorem outer (n : ℕ) : n + 0 = n := by\n  exact aux n\nwhere\n  aux (k : ℕ) : k + 0 = k := by sorry\n\n"
        "theorem before_where : True := by sorry\nwhere\n  helper : Nat := 1\n\n"
        "def f (n : ℕ) : ℕ := go n\nwhere\n  go : ℕ → ℕ\n  | 0 => 0\n  | k + 1 => go k\n\n"
        "theorem after : f 0 = 0 := by sorry\n"
    )
    inside, followed, after = lean(text).targets
    assert inside.kind is HoleKind.UNSUPPORTED and "in a `where` clause" in inside.reason
    assert inside.declaration.name == "outer"
    assert followed.kind is HoleKind.UNSUPPORTED and "followed by a `where` clause" in followed.reason
    # The `where` of `f` does not swallow the next theorem.
    assert after.kind is HoleKind.WHOLE_PROOF and after.theorem.name == "after"
    assert "def f (n : ℕ)" in after.theorem.preamble


def test_several_sorrys_in_one_theorem_are_searched_together():
    text = (
        "theorem pair (p q : Prop) (hp : p) (hq : q) : p ∧ q := by\n  constructor\n  · sorry\n  · sorry\n\n"
        "theorem seq (p q : Prop) : p ∧ q := by\n  refine ⟨?_, ?_⟩\n  sorry\n  sorry\n\n"
        "theorem have_then_last (x : ℕ) : x = x := by\n  have h : x = x := by sorry\n  sorry\n\n"
        "theorem mixed (x : ℕ) : x = x := by\n  have h : x = x := sorry\n  sorry\n"
    )
    targets = lean(text).targets
    assert len(targets) == 8
    assert all(t.kind is HoleKind.NESTED and t.holes == 2 for t in targets[:6])
    assert targets[0].sketch_body == targets[1].sketch_body == "\n  constructor\n  · sorry\n  · sorry"
    assert [t.line for t in select_targets(lean(text), theorem="seq")] == [8, 9]
    # `have h : x = x := sorry` is a term: the declaration cannot pass with it, so neither is searched.
    term, last = targets[6:]
    assert term.kind is HoleKind.UNSUPPORTED and "only in tactic position" in term.reason
    assert last.kind is HoleKind.UNSUPPORTED and "another sorry, at line 16, that stands for a term" in last.reason
    with pytest.raises(UnsupportedTarget, match=r"sorry at line 17, column 3: this sorry ends the proof; the proof"):
        last.require_supported()


def test_last_tactic_sorry_replays_the_tactics_before_it():
    text = (
        "theorem t (a b : ℕ) (h : a = b) : b = a := by\n  -- a comment line\n  subst h  -- trailing\n"
        "  have k : a = a := by\n    rfl\n  sorry\n"
    )
    target = only(text)
    assert target.kind is HoleKind.LAST_STEP
    assert target.prefix == ("subst h", "have k : a = a := by\n  rfl")
    assert target.theorem.statement == "theorem t (a b : ℕ) (h : a = b) : b = a := by sorry"


def test_unicode_names():
    text = (
        "theorem «my favourite theorem» (x : ℕ) : x = x := by sorry\n\n"
        "theorem α_β₁' (x : ℝ) (h₀ : 0 < x) : 0 ≤ x := by sorry\n\n"
        "lemma Nat.ε_pos : (0 : ℕ) < 1 := by sorry\n"
    )
    guillemets, greek, dotted = lean(text).targets
    assert guillemets.declaration.name == "«my favourite theorem»"
    # The Lean backend reads the name back for `#print axioms`; a name with spaces gets a plain one.
    assert guillemets.theorem.name == "llemma_theorem_line1"
    assert guillemets.theorem.statement == "theorem llemma_theorem_line1 (x : ℕ) : x = x := by sorry"
    assert greek.theorem.name == "α_β₁'" and greek.theorem.statement.startswith("theorem α_β₁' (x : ℝ)")
    assert dotted.theorem.name == "Nat.ε_pos"
    located = lean(text)
    assert select_targets(located, theorem="my favourite theorem") == [guillemets]
    assert select_targets(located, theorem="«my favourite theorem»") == [guillemets]
    assert select_targets(located, theorem="α_β₁'") == [greek]


def test_example_is_searched_under_a_fresh_theorem_name():
    target = only("example (n : ℕ) : n + 0 = n := by\n  sorry\n")
    assert target.kind is HoleKind.WHOLE_PROOF
    assert target.theorem.name == "llemma_example_line1"
    assert target.theorem.statement == "theorem llemma_example_line1 (n : ℕ) : n + 0 = n := by\n  sorry"


def test_term_mode_sorry_whole_and_nested():
    whole, nested = lean("theorem a : 1 = 1 := sorry\n\ntheorem b : 1 = 1 ∧ True := ⟨sorry, trivial⟩\n").targets
    assert whole.kind is HoleKind.WHOLE_PROOF and whole.theorem.statement == "theorem a : 1 = 1 := sorry"
    assert nested.kind is HoleKind.UNSUPPORTED and "term-mode proof" in nested.reason


def test_sorry_words_that_are_not_sorry_tokens():
    text = (
        "-- sorry in a comment\n/- a block /- nested sorry -/ comment -/\n"
        "def s : String := \"sorry\"\n\ntheorem sorry_free : True := Foo.sorry\n"
        "theorem t : 'a' = 'a' := rfl -- sorry\n"
    )
    assert lean(text).targets == ()
    with pytest.raises(NoTarget, match="no sorry in"):
        select_targets(lean(text))


def test_statements_with_abs_bars_let_and_default_arguments():
    text = (
        "theorem abs_nonneg' (x : ℝ) : |x| ≥ 0 := by sorry\n\n"
        "theorem with_let : let n := 3; n = 3 := by sorry\n\n"
        "theorem with_default (x : ℕ := 2) : x = x := by sorry\n"
    )
    targets = lean(text).targets
    assert [t.kind for t in targets] == [HoleKind.WHOLE_PROOF] * 3
    assert targets[1].theorem.statement == "theorem with_let : let n := 3; n = 3 := by sorry"


def test_other_unsupported_spots():
    text = (
        "def f : ℕ := sorry\n\ninstance : Inhabited ℕ := sorry\n\n"
        "theorem in_statement (h : sorry) : True := trivial\n\n"
        "mutual\n  theorem even_odd : True := by sorry\nend\n\n#eval sorry\n\n"
        "theorem by_cases_ (n : ℕ) : n = n\n  | 0 => sorry\n  | _ => rfl\n"
    )
    reasons = [t.reason for t in lean(text).targets]
    assert "in a `def`" in reasons[0]
    assert "in a `instance`" in reasons[1]
    assert "in the statement" in reasons[2]
    assert "`mutual` block" in reasons[3]
    assert "not inside a theorem" in reasons[4]
    assert "pattern-matching" in reasons[5]


def test_header_is_only_the_leading_imports_options_and_opens():
    text = ("/- Copyright (c) 2024. -/\nimport Mathlib\nimport Aesop\n/-! # Module doc -/\nset_option maxHeartbeats 0\n"
            "open Nat Real\n-- notes\nvariable (x : ℕ)\n/-- doc -/\ntheorem v : x = x := by sorry\n")
    target = only(text)
    assert target.theorem.header == ("/- Copyright (c) 2024. -/\nimport Mathlib\nimport Aesop\n/-! # Module doc -/\n"
                                     "set_option maxHeartbeats 0\nopen Nat Real\n-- notes\n")
    assert target.theorem.preamble == "variable (x : ℕ)\n"
    assert target.theorem.statement == "/-- doc -/\ntheorem v : x = x := by sorry"
    bare = only("theorem z : 0 = 0 := by sorry")
    assert bare.theorem.header == "" and bare.theorem.preamble == ""


# ------------------------------------------------------------------------------------------- selection


def test_selection_by_line_and_errors():
    text = "theorem one : 1 = 1 := by\n  sorry\n\ntheorem two : 2 = 2 := rfl\n\ntheorem three : 3 = 3 := by sorry\n"
    located = lean(text)
    assert select_targets(located, line=2)[0].theorem.name == "one"
    assert select_targets(located, line=1)[0].theorem.name == "one"  # the theorem's line
    assert select_targets(located, line=6)[0].theorem.name == "three"
    with pytest.raises(NoTarget, match="no sorry and no theorem at line 3"):
        select_targets(located, line=3)
    with pytest.raises(NoTarget, match="two at line 4 has no sorry"):
        select_targets(located, line=4)
    with pytest.raises(NoTarget, match="theorem two \\(line 4\\) has no sorry"):
        select_targets(located, theorem="two")
    with pytest.raises(NoTarget, match="no theorem named 'four' in f.lean; theorems in f.lean: one, two, three"):
        select_targets(located, theorem="four", source="f.lean")
    with pytest.raises(NoTarget, match="not both"):
        select_targets(located, theorem="one", line=2)
    for error in (NoTarget, UnsupportedTarget, UnsupportedSource):
        assert issubclass(error, UserError)


def test_language_and_unreadable_text():
    assert language_for("a/b.lean") is Language.LEAN4
    assert language_for("x.THY") is Language.ISABELLE
    with pytest.raises(UnsupportedSource, match="expected a .lean or .thy file"):
        language_for("notes.txt")
    with pytest.raises(UnsupportedSource, match="unterminated comment"):
        lean("theorem x : True := by sorry /- open")
    with pytest.raises(UnsupportedSource, match="no `theory NAME imports ... begin`"):
        locate("lemma x: \"True\" sorry", Language.ISABELLE)


# ------------------------------------------------------------------------------------------- layout


def _insert(text: str, steps, language=Language.LEAN4) -> str:
    (target,) = locate(text, language).targets
    return apply_edits(text, [proof_edit(target, steps)])


def test_inserted_proof_layout_lean():
    assert _insert("theorem a : 1 = 1 := by sorry\n", ["rfl"]) == "theorem a : 1 = 1 := by rfl\n"
    assert _insert("theorem a : 1 = 1 := by sorry\n", ["norm_num", "rfl"]) == (
        "theorem a : 1 = 1 := by\n  norm_num\n  rfl\n")
    assert _insert("theorem a : 1 = 1 := sorry\n", ["rfl"]) == "theorem a : 1 = 1 := by rfl\n"
    assert _insert("theorem a : 1 = 1 := sorry", ["simp", "rfl"]) == "theorem a : 1 = 1 := by\n  simp\n  rfl"
    assert _insert("  theorem a : 1 = 1 := by\n    sorry -- todo\n", ["simp", "rfl"]) == (
        "  theorem a : 1 = 1 := by\n    simp\n    rfl -- todo\n")
    # A step of several lines keeps its inner layout, shifted to the block's column.
    multi = "cases h with\n| inl h => exact h\n| inr h =>\n  simp at h"
    assert _insert("theorem c (h : p ∨ p) : p := by\n  sorry\n", [multi]) == (
        "theorem c (h : p ∨ p) : p := by\n  cases h with\n  | inl h => exact h\n  | inr h =>\n    simp at h\n")


def test_inserted_proof_keeps_crlf_and_unicode():
    text = "theorem ü (x : ℝ) : x = x := by sorry\r\ntheorem other : True := trivial\r\n"
    assert _insert(text, ["simp", "rfl"]) == (
        "theorem ü (x : ℝ) : x = x := by\r\n  simp\r\n  rfl\r\ntheorem other : True := trivial\r\n")
    own_line = "theorem 𝔽 : True := by\r\n  trivial'\r\n  sorry\r\n"
    assert _insert(own_line, ["exact trivial", "done"]) == (
        "theorem 𝔽 : True := by\r\n  trivial'\r\n  exact trivial\r\n  done\r\n")


# ------------------------------------------------------------------------------------------- Isabelle


ISA = '''theory Demo
  imports Main "HOL-Library.Code_Target_Numeral"
begin

definition double :: "nat \\<Rightarrow> nat" where "double n = 2 * n"

lemma double_two [simp]: "double 2 = 4" sorry

theorem apply_script:
  fixes n :: nat
  assumes h: "n > 0"
  shows "n \\<ge> 1"
  using h
  apply (cases n)
   apply simp
  sorry

lemma structured: "(1::nat) + 1 = 2"
proof -
  have "(1::nat) + 1 = 2" sorry
  then show ?thesis by simp
qed

lemma "True" oops

lemma (in semigroup) in_locale: "f x = f x"
  by simp

end
'''


def test_isabelle_targets():
    located = locate(ISA, Language.ISABELLE)
    same_line, script, structured, unnamed = located.targets
    assert same_line.kind is HoleKind.WHOLE_PROOF
    assert same_line.theorem.statement == 'lemma double_two [simp]: "double 2 = 4"'
    assert same_line.theorem.header == 'theory Demo\n  imports Main "HOL-Library.Code_Target_Numeral"\nbegin'
    assert same_line.theorem.preamble == 'definition double :: "nat \\<Rightarrow> nat" where "double n = 2 * n"'
    assert script.kind is HoleKind.LAST_STEP
    assert script.prefix == ("using h", "apply (cases n)", "apply simp")
    assert script.theorem.statement.endswith('shows "n \\<ge> 1"')
    assert structured.kind is HoleKind.UNSUPPORTED and "structured proof (`proof` at line 19)" in structured.reason
    assert unnamed.keyword == "oops" and unnamed.kind is HoleKind.WHOLE_PROOF
    assert unnamed.theorem.name == "Demo_line24"
    assert [d.name for d in located.declarations] == ["double_two", "apply_script", "structured", None, "in_locale"]


def test_isabelle_inserted_proof_layout():
    text = ISA
    located = locate(text, Language.ISABELLE)
    same_line, script = located.targets[:2]
    out = apply_edits(text, [proof_edit(same_line, ["by (simp add: double_def)"])])
    assert 'lemma double_two [simp]: "double 2 = 4" by (simp add: double_def)\n' in out
    out = apply_edits(text, [proof_edit(same_line, ["unfolding double_def", "by simp"])])
    assert 'lemma double_two [simp]: "double 2 = 4"\n  unfolding double_def\n  by simp\n' in out
    out = apply_edits(text, [proof_edit(script, ["apply simp", "done"])])
    assert "   apply simp\n  apply simp\n  done\n\nlemma structured" in out
