"""Ask Isabelle which oracles a proved theorem depends on, what it states, and read its answer.

An oracle makes a theorem without a proof and the kernel records that it did: `sorry` is the
`skip_proof` oracle (Isabelle2022 `src/Pure/skip_proof.ML`), and SMT without reconstruction
(`[[smt_oracle]]`), code evaluation (`eval`) and normalisation by evaluation (`normalization`) add
their own. The rule of this project is Isabelle's: a theorem that depends on any oracle at all is
not proved. Word lists only filter early.

The query is an `ML` command appended after the proof (never part of it). It prints one `writeln`
line that starts with a fresh random nonce, so no text the model wrote before the check can forge
it; `Thm_Deps.all_oracles` walks the full transitive dependency graph (`src/Pure/thm_deps.ML`, the
function behind the `thm_oracles` command of `src/Pure/Pure.thy`). Through `isabelle server`,
`writeln` output arrives in the `use_theories` reply as a node message of kind `writeln`
(`src/Pure/Tools/server_commands.scala`, `Protocol.is_exported` in `src/Pure/PIDE/protocol.scala`).

No oracle is not enough: a theorem proved from a new axiom has none, and the name the query asks
for may, after an abandoned proof (`oops`) and a second declaration, name another statement. So
two more facts come from Isabelle in the same report:
- statement: before the checked theorem we insert the reference statement (the benchmark's own
  text) under a fresh nonce-named lemma, closed by `sorry` under a quick_and_dirty switched on for
  it alone (whatever uses it inherits its skip_proof oracle), and the query compares the two theorems' propositions as terms
  (`Thm.full_prop_of`, `aconv`): the same text elaborated in the same context is the same term;
- axioms: an `ML` command right before the checked theorem records the names of the theory's
  axioms (`Theory.all_axioms_of`, src/Pure/theory.ML; definitions are axioms there too), and the
  query counts the axioms that are new after the proof.
All of this is generated here, never by the model, and runs after the model's text.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Mapping, Sequence

from .theory import THEOREM_KEYWORDS, TheorySyntaxError, TokenKind, _significant, _unquote, tokens

MARKER = "llemma-prove oracle report"
# Fact names the query may name: a plain (possibly qualified) identifier, nothing to escape.
_FACT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_']*(\.[A-Za-z][A-Za-z0-9_']*)*$")
_REPORT = re.compile(
    re.escape(MARKER) + r" (?P<nonce>[0-9a-f]{32}) (?P<name>\S+) statement: (?P<statement>same|different|unchecked)"
    r" new axioms: (?P<axioms>\d+) oracles: (?P<count>\d+)(?P<rest>.*)",
    re.S,
)
REFERENCE_PREFIX = "llemma_prove_reference_"
BASELINE_PREFIX = "llemma_prove_axioms_"


class OracleQueryError(ValueError):
    """The theorem's name cannot be put into a query (the check cannot run)."""


@dataclass(frozen=True)
class OracleReport:
    """Isabelle's answer for one theorem: its oracles, whether it states the reference statement,
    and how many axioms the theory gained around it."""

    name: str
    count: int
    listing: str
    statement: str = "unchecked"  # same | different | unchecked (no reference given)
    new_axioms: int = 0
    duplicated: bool = False  # two reports for one name under one nonce: neither is believed

    @property
    def clean(self) -> bool:
        return self.problem(reference_expected=False) is None

    def problem(self, reference_expected: bool) -> str | None:
        """Why this report does not show a proof of the statement, or None."""
        if self.duplicated:
            return f"two oracle reports for {self.name}"
        if self.count:
            return f"{self.name} depends on {self.count} oracle(s): {self.listing[:300]}"
        if self.new_axioms:
            return f"the theory gained {self.new_axioms} new axiom(s) around {self.name}"
        if self.statement == "different":
            return f"the theorem named {self.name} does not state the reference statement"
        if reference_expected and self.statement != "same":
            return f"the statement of {self.name} was not compared with the reference"
        return None


def new_nonce() -> str:
    return secrets.token_hex(16)


def _check_name(theorem_name: str) -> None:
    if not _FACT_NAME.match(theorem_name):
        raise OracleQueryError(f"theorem name {theorem_name!r} cannot be queried for oracles")


def reference_name(nonce: str) -> str:
    return f"{REFERENCE_PREFIX}{nonce}"


def baseline_command(nonce: str) -> str:
    """The ML command, placed before the checked theorem, that records the theory's axioms."""
    return (
        "ML \\<open>\n"
        f"  val {BASELINE_PREFIX}{nonce} = Symtab.make_set (map #1 (Theory.all_axioms_of @{{theory}}));\n"
        "\\<close>\n"
    )


def reference_lemma(statement: str, nonce: str) -> str:
    """`statement` (`theorem NAME: ...`) renamed to the nonce's reference name and closed by `sorry`."""
    try:
        toks = _significant(tokens(statement))
    except TheorySyntaxError as exc:
        raise OracleQueryError(f"cannot read the reference statement: {exc}") from None
    for k, (tok, nxt) in enumerate(zip(toks, toks[1:])):
        if tok.kind is TokenKind.WORD and tok.text in THEOREM_KEYWORDS and nxt.kind is TokenKind.WORD:
            end = nxt.end
            if k + 2 < len(toks) and toks[k + 2].text == "[":
                # attributes such as [simp] would put the unproved copy into the proof tools' reach
                close = next((j for j in range(k + 3, len(toks)) if toks[j].text == "]"), None)
                if close is None:
                    raise OracleQueryError("cannot read the reference statement: unclosed attribute list")
                end = toks[close].end
            renamed = statement[: nxt.start] + reference_name(nonce) + statement[end:]
            # `sorry` needs quick_and_dirty outside interactive mode (src/Pure/Isar/method.ML
            # `cheating`); it is switched on for this copy only.
            return (f"declare [[quick_and_dirty = true]]\n{renamed.strip()}\n  sorry\n"
                    "declare [[quick_and_dirty = false]]\n")
    raise OracleQueryError("the reference statement declares no named theorem")


def oracle_query(theorem_name: str, nonce: str, compare: bool = False) -> str:
    """The ML command that reports, in one `writeln` line, the statement comparison (when `compare`),
    the new axioms since the baseline, and the oracles of `theorem_name`."""
    _check_name(theorem_name)
    prefix = f"{MARKER} {nonce} {theorem_name} statement: "
    if compare:
        statement = (
            f'    (let val refs = Proof_Context.get_thms @{{context}} "{reference_name(nonce)}" in\n'
            "       if length refs = length llemma_prove_thms andalso\n"
            "          forall (null o Thm.hyps_of) llemma_prove_thms andalso\n"
            "          forall (fn (a, b) => Thm.full_prop_of a aconv Thm.full_prop_of b) (refs ~~ llemma_prove_thms)\n"
            '       then "same" else "different" end)'
        )
    else:
        statement = '"unchecked"'
    return (
        "ML \\<open>\n"
        f'  val llemma_prove_thms = Proof_Context.get_thms @{{context}} "{theorem_name}";\n'
        "  val llemma_prove_oracles = Thm_Deps.all_oracles llemma_prove_thms;\n"
        f"  val llemma_prove_statement =\n{statement};\n"
        "  val llemma_prove_new_axioms = filter_out (fn (name, _) =>\n"
        f"    Symtab.defined {BASELINE_PREFIX}{nonce} name) (Theory.all_axioms_of @{{theory}});\n"
        f'  val _ = writeln ("{prefix}" ^ llemma_prove_statement ^\n'
        '    " new axioms: " ^ string_of_int (length llemma_prove_new_axioms) ^\n'
        '    " oracles: " ^ string_of_int (length llemma_prove_oracles) ^ " " ^\n'
        "    Pretty.unformatted_string_of (Thm_Deps.pretty_thm_oracles @{context} llemma_prove_thms));\n"
        "\\<close>\n"
    )


def _theorem_start(toks: list, name: str) -> int | None:
    for tok, nxt in zip(toks, toks[1:]):
        if tok.kind is TokenKind.WORD and tok.text in THEOREM_KEYWORDS and nxt.kind is TokenKind.WORD \
                and _unquote(nxt.text) == name:
            return tok.start
    return None


def with_oracle_queries(
    text: str, theorem_names: Sequence[str], nonce: str, references: Mapping[str, str] | None = None
) -> str:
    """`text` (a whole theory) with the axiom baseline and the reference statements inserted before
    the first checked theorem, and one query per name inserted before the theory's final `end`.

    `references`: for the names it has, the reference statement (`theorem NAME: ...`) that the
    theorem of that name must state."""
    references = dict(references or {})
    for name in theorem_names:
        _check_name(name)
    try:
        toks = _significant(tokens(text))
    except TheorySyntaxError as exc:
        raise OracleQueryError(f"cannot place the oracle query: {exc}") from None
    if not toks or toks[-1].kind is not TokenKind.WORD or toks[-1].text != "end":
        raise OracleQueryError("cannot place the oracle query: the theory does not end with `end`")
    starts = []
    for name in theorem_names:
        start = _theorem_start(toks, name)
        if start is None:
            raise OracleQueryError(f"cannot place the oracle query: no `theorem {name}` in the theory")
        starts.append(start)
    first = min(starts)
    before = baseline_command(nonce) + "".join(
        reference_lemma(references[name], nonce) for name in theorem_names if name in references
    )
    if sum(1 for name in theorem_names if name in references) > 1:
        raise OracleQueryError("only one theorem per check can be compared with a reference statement")
    end = toks[-1].start
    queries = "".join(oracle_query(name, nonce, compare=name in references) for name in theorem_names)
    return f"{text[:first]}{before}\n{text[first:end].rstrip()}\n\n{queries}\n{text[end:]}"


def parse_reports(messages: Sequence[str], nonce: str) -> dict[str, OracleReport]:
    """The reports carrying `nonce` among `messages` (message texts), by theorem name. Two reports
    for one name are marked `duplicated` (the query prints exactly one)."""
    found: dict[str, OracleReport] = {}
    for message in messages:
        start = message.find(MARKER)
        if start < 0:
            continue
        match = _REPORT.match(message, start)
        if match is None or match.group("nonce") != nonce:
            continue
        name = match.group("name")
        report = OracleReport(name, int(match.group("count")), match.group("rest").strip(),
                              match.group("statement"), int(match.group("axioms")))
        if name in found:
            report = OracleReport(name, report.count, report.listing, report.statement, report.new_axioms, True)
        found[name] = report
    return found


def theorem_names(text: str) -> list[str]:
    """Names of the named `theorem`/`lemma`/... commands of a theory text, in order."""
    try:
        toks = _significant(tokens(text))
    except TheorySyntaxError:
        return []
    names: list[str] = []
    for tok, nxt, after in zip(toks, toks[1:], toks[2:]):
        # `lemma NAME:` or `lemma NAME [attrs]:`; `lemma "prop"` has no name
        if tok.kind is TokenKind.WORD and tok.text in THEOREM_KEYWORDS and nxt.kind is TokenKind.WORD \
                and after.text in (":", "["):
            name = _unquote(nxt.text)
            if _FACT_NAME.match(name) and name not in names:
                names.append(name)
    return names
