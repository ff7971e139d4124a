"""Ask Isabelle which oracles a proved theorem depends on, and read its answer.

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
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Sequence

from .theory import THEOREM_KEYWORDS, TheorySyntaxError, TokenKind, _significant, _unquote, tokens

MARKER = "llemma-prove oracle report"
# Fact names the query may name: a plain (possibly qualified) identifier, nothing to escape.
_FACT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_']*(\.[A-Za-z][A-Za-z0-9_']*)*$")
_REPORT = re.compile(re.escape(MARKER) + r" (?P<nonce>[0-9a-f]{32}) (?P<name>\S+) oracles: (?P<count>\d+)(?P<rest>.*)", re.S)


class OracleQueryError(ValueError):
    """The theorem's name cannot be put into a query (the check cannot run)."""


@dataclass(frozen=True)
class OracleReport:
    """Isabelle's answer for one theorem: how many oracles, and their printed list."""

    name: str
    count: int
    listing: str

    @property
    def clean(self) -> bool:
        return self.count == 0


def new_nonce() -> str:
    return secrets.token_hex(16)


def oracle_query(theorem_name: str, nonce: str) -> str:
    """The ML command that reports the oracles of `theorem_name` in one `writeln` line."""
    if not _FACT_NAME.match(theorem_name):
        raise OracleQueryError(f"theorem name {theorem_name!r} cannot be queried for oracles")
    prefix = f"{MARKER} {nonce} {theorem_name} oracles: "
    return (
        "ML \\<open>\n"
        f'  val llemma_prove_thms = Proof_Context.get_thms @{{context}} "{theorem_name}";\n'
        "  val llemma_prove_oracles = Thm_Deps.all_oracles llemma_prove_thms;\n"
        f'  val _ = writeln ("{prefix}" ^ string_of_int (length llemma_prove_oracles) ^ " " ^\n'
        "    Pretty.unformatted_string_of (Thm_Deps.pretty_thm_oracles @{context} llemma_prove_thms));\n"
        "\\<close>\n"
    )


def with_oracle_queries(text: str, theorem_names: Sequence[str], nonce: str) -> str:
    """`text` (a whole theory) with one query per name inserted before its final `end`."""
    try:
        toks = _significant(tokens(text))
    except TheorySyntaxError as exc:
        raise OracleQueryError(f"cannot place the oracle query: {exc}") from None
    if not toks or toks[-1].kind is not TokenKind.WORD or toks[-1].text != "end":
        raise OracleQueryError("cannot place the oracle query: the theory does not end with `end`")
    end = toks[-1].start
    queries = "".join(oracle_query(name, nonce) for name in theorem_names)
    return f"{text[:end].rstrip()}\n\n{queries}\n{text[end:]}"


def parse_reports(messages: Sequence[str], nonce: str) -> dict[str, OracleReport]:
    """The reports carrying `nonce` among `messages` (message texts), by theorem name."""
    found: dict[str, OracleReport] = {}
    for message in messages:
        start = message.find(MARKER)
        if start < 0:
            continue
        match = _REPORT.match(message, start)
        if match is None or match.group("nonce") != nonce:
            continue
        found[match.group("name")] = OracleReport(match.group("name"), int(match.group("count")), match.group("rest").strip())
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
