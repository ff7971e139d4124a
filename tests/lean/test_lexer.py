"""The Lean lexer cuts text where Lean's tokenizer cuts it (Lean.Parser.Basic), and the filter on it."""

from __future__ import annotations

import pytest

from llemma_prove.provers.lean.lexer import Kind, LeanSyntaxError, canonical_name, filter_text, tokenize


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind.value, t.text) for t in tokenize(text)]


def test_every_spelling_of_a_name_is_the_same_name() -> None:
    spellings = ["debug.skipKernelTC", "«debug».skipKernelTC", "debug.«skipKernelTC»", "«debug».«skipKernelTC»",
                 "_root_.debug.skipKernelTC"]
    assert {canonical_name(s) for s in spellings} == {"debug.skipKernelTC"}
    for spelling in spellings:
        assert not filter_text(f"set_option {spelling} true in\n  decide").ok, spelling


@pytest.mark.parametrize("text, expected", [
    ("exact '\"' -- c", [("ident", "exact"), ("char", "'\"'"), ("comment", "-- c")]),
    ("'\\''", [("char", "'\\''")]),
    ('r#"a"b"#', [("string", 'r#"a"b"#')]),
    ('r"/-"', [("string", 'r"/-"')]),
    ('for"x"', [("ident", "for"), ("string", '"x"')]),
    ("/- a /- b -/ c -/ d", [("comment", "/- a /- b -/ c -/"), ("ident", "d")]),
    ("h' h₁ x.«y z».w", [("ident", "h'"), ("ident", "h₁"), ("ident", "x.«y z».w")]),
    ("f ⁻¹' s '' t ∑' i", [("ident", "f"), ("symbol", "⁻¹'"), ("ident", "s"), ("symbol", "''"), ("ident", "t"),
                           ("symbol", "∑'"), ("ident", "i")]),
    ("`foo ``bar `(x)", [("name", "`foo"), ("name", "``bar"), ("symbol", "`("), ("ident", "x"), ("symbol", ")")]),
    ("#[1] #eval", [("symbol", "#"), ("symbol", "["), ("number", "1"), ("symbol", "]"), ("symbol", "#eval")]),
])
def test_tokens_as_lean_cuts_them(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize("text", ["/- never closed", '"never closed', "'ab'", "«open", 'r#"x"', "'\\q'",
                                  's!"{"}"}"'])
def test_text_lean_cannot_lex_is_refused(text: str) -> None:
    with pytest.raises(LeanSyntaxError):
        tokenize(text)
    assert not filter_text(text).ok


@pytest.mark.parametrize("tactic", [
    "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b)]",
    "simp only [Finset.sum_range_succ] at h ⊢",
    "set_option maxRecDepth 4000 in\n  norm_num",
    "open Real in\n  rw [Real.sqrt_eq_iff]",
    "open scoped BigOperators in\n  simp",
    "have h' : f ⁻¹' {0} = ∅ := by simp",
    "exact ⟨by norm_num, by norm_num⟩ -- sorry is only mentioned",
    'have : "a" ++ "b" = "ab" := rfl',
    "decide",
])
def test_ordinary_tactics_pass(tactic: str) -> None:
    assert filter_text(tactic, "mathd_algebra_478").ok, filter_text(tactic).reasons


@pytest.mark.parametrize("tactic, fragment", [
    ("sorry", "`sorry`"), ("exact «sorry»", "`«sorry»`"), ("exact sorryAx _ false", "sorryAx"),
    ("admit", "`admit`"), ("exact?", "search"), ("native_decide", "native_decide"), ("decide +native", "native"),
    ("run_tac pure ()", "run_tac"), ("exact (by_elab pure default)", "by_elab"), ("norm_num\naxiom x : False", "axiom"),
    ("open Lean\n  simp", "open"), ("set_option maxRecDepth 10\n  simp", "set_option"),
    ("set_option trace.Meta.synthInstance true in simp", "trace.Meta.synthInstance"),
    ("exact Lean.Environment.addDecl", "Lean.Environment.addDecl"), ("#exit", "#exit"), ("@[simp] theorem x", "@["),
    ("exact mathd_algebra_478 _", "itself"), ("exact _root_.«mathd_algebra_478» _", "itself"),
])
def test_refused_tactics(tactic: str, fragment: str) -> None:
    reasons = filter_text(tactic, "mathd_algebra_478").reasons
    assert reasons and any(fragment in r for r in reasons), reasons


def test_token_positions_are_lean_positions() -> None:
    tokens = tokenize("theorem t :\n  True := by\n    trivial")
    trivial = tokens[-1]
    assert (trivial.text, trivial.line, trivial.column, trivial.kind) == ("trivial", 3, 4, Kind.IDENT)
