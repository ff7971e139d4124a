"""Which accepted proofs rest on an oracle, and so are not kernel proofs.

Isabelle's `eval`, `normalization` and `smt_oracle` (and Lean's `native_decide`, through the axiom
`Lean.ofReduceBool`) trust compiled code or an external solver instead of the kernel; the final check
reports no error for them. DSP's and LLEMMA's checkers try `by eval` on every hole (DSP
`autoformalization/checker.py`, `_run_sledgehammer`; lm-evaluation-harness `minif2f_isabelle.py`).
The rule is the prover's: a final check that reports the oracles a theorem depends on
(`details["oracles"]` or `details["thm_oracles"]`, or Lean's `details["axioms"]`) decides (the
Isabelle prover rejects such a proof, with `details["isabelle_server"] == "oracles"`); the word list here is only a first
filter on the proof text, so a proof using one of these words is never counted as plainly proved.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..types import Language, Verdict, Verification

ISABELLE_ORACLE_WORDS = frozenset({"eval", "normalization", "smt_oracle", "skip_proof"})
LEAN_ORACLE_WORDS = frozenset({"native_decide", "ofReduceBool", "trustCompiler"})
LEAN_ORACLE_AXIOMS = frozenset({"Lean.ofReduceBool", "Lean.trustCompiler"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_'.]*")


def _words(text: str, language: Language) -> Iterable[str]:
    if language is Language.ISABELLE:
        from .isabelle import tokenize

        # comments, strings and cartouches are tokens of their own; `[[smt_oracle]]` yields its word
        yield from (tok.text for tok in tokenize(text) if tok.kind == "word")
        return
    text = re.sub(r"--[^\n]*", " ", text)
    for match in _WORD.finditer(text):
        yield from match.group(0).split(".")
        yield match.group(0)


def oracle_words(text: str, language: Language) -> list[str]:
    """The oracle words the text uses as code (not in comments or strings), in order, once each."""
    words = ISABELLE_ORACLE_WORDS if language is Language.ISABELLE else LEAN_ORACLE_WORDS
    return list(dict.fromkeys(w for w in _words(text, language) if w in words))


def reported_oracles(details: Any) -> str:
    """The oracles a final check reported ("" for none): a list, or Isabelle's printed listing, where
    "none" means the query ran and found none."""
    if not isinstance(details, dict):
        return ""
    value = details.get("oracles") or details.get("thm_oracles")
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, str) and value.strip().lower() not in ("", "none", "[]"):
        return value.strip()
    return ""


def rejected_only_for_oracles(verification: Verification | None) -> bool:
    """The final check found no error but refused the proof because it rests on an oracle (the
    Isabelle prover's official check reports that as `details["isabelle_server"] == "oracles"`)."""
    if verification is None or verification.accepted or verification.verdict is not Verdict.REJECTED:
        return False
    details = verification.details if isinstance(verification.details, dict) else {}
    return details.get("isabelle_server") == "oracles" and bool(reported_oracles(details))


def oracle_use(text: str, language: Language, verification: Verification | None = None) -> list[str]:
    """Why this proof rests on an oracle (empty: it does not, as far as the check and the filter see)."""
    reasons: list[str] = []
    details = verification.details if verification is not None else {}
    reported = reported_oracles(details)
    if reported:
        reasons.append("the final check reports oracles: " + reported)
    axioms = details.get("axioms") if isinstance(details, dict) else None
    if axioms:
        trusted = [a for a in axioms if a in LEAN_ORACLE_AXIOMS]
        if trusted:
            reasons.append("the proof depends on " + ", ".join(trusted))
    words = oracle_words(text, language)
    if words:
        reasons.append("the proof text uses " + ", ".join(f"`{w}`" for w in words))
    return reasons
