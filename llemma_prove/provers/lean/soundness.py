"""The REPL layer of the final check: `header + original statement + proof` as a fresh REPL command.

It runs on a worker of the search pool, so it is an early, fast layer only: the verdict that can ACCEPT
is the kernel check of `final_check.py` (fresh processes, lean4checker, type comparison), which
`LeanReplProver.verify` runs after this one passes. Two layers here:

1. The text itself (`static_reasons`): the lexer-based filter of `lexer.py` (no `sorry`/`admit`, no
   search leftovers, no command, no metaprogram, no option but limits, no reference to the theorem
   itself). For a complete source text, the statement must follow the header (and preamble) byte for
   byte with nothing in between.
2. Lean's verdict (`judge_declaration`, `judge_axioms`): the declaration runs as a fresh command on
   the header environment and must produce no error, no `sorry` warning (both spellings, `'sorry'`
   before Lean 4.28 and `` `sorry` `` after), no "Try this" suggestion; then `#print axioms NAME`
   must list nothing beyond `propext`, `Classical.choice`, `Quot.sound` (so `native_decide`,
   `bv_decide`, user axioms and `sorryAx` fail). It must finish within the time and memory budget.

Every rejection carries its reasons in `Verification.reason` and `details["reasons"]`.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from ...types import Proof, Theorem, Verdict, Verification
from .messages import CommandRequest, CommandResponse, Message, ReplFailure, ReplProtocolError, Response, Severity
from .lexer import filter_text
from .outcomes import is_sorry_warning
from .render import (
    declaration_name,
    proof_body,
    render_source,
    source_prefix,
    statement_head,
    strip_comments,
)
from .repl import LeanRepl, ReplCrashed, ReplTimeout

log = logging.getLogger(__name__)

STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})

_AXIOMS = re.compile(r"depends on axioms:\s*\[(?P<list>[^\]]*)\]", re.DOTALL)
_NO_AXIOMS = re.compile(r"does not depend on any axioms")


@dataclass(frozen=True)
class CheckLimits:
    timeout_s: float
    memory_limit_mb: int | None


# ------------------------------------------------------------------------------------ layer 1: text


def static_reasons(theorem: Theorem, body: str) -> list[str]:
    """Reasons the proof text (everything after the statement's `:=`) is refused before Lean sees it:
    the lexer-based filter of `lexer.py` (the same one every search step passes)."""
    text = body.strip()
    if not text or text == "by" or not strip_comments(body).strip() or strip_comments(body).strip() == "by":
        return ["the proof is empty"]
    return list(filter_text(body, declaration_name(theorem.statement)).reasons)


def split_source(theorem: Theorem, source: str) -> tuple[str | None, list[str]]:
    """For a complete source text: the proof part after the statement, or the reasons it is refused.

    The statement must come right after the header and the preamble, byte-identical to the theorem's.
    """
    text = source
    header = theorem.header.rstrip()
    if header:
        if not text.startswith(header):
            return None, ["the header differs from the theorem's header"]
        text = text[len(header) :]
    preamble = theorem.preamble.strip()
    if preamble:
        text = text.lstrip()
        if not text.startswith(preamble):
            return None, ["the text before the statement differs from the theorem's preamble"]
        text = text[len(preamble) :]
    text = text.lstrip()
    head = statement_head(theorem.statement)
    if not text.startswith(head):
        if head in text:
            return None, ["commands stand between the header and the statement (e.g. `local notation`, "
                          "`macro`, `set_option`): only the header may precede the statement"]
        return None, ["the statement is not byte-identical to the theorem's statement"]
    return text[len(head) :], []


# ------------------------------------------------------------------------------------ layer 2: Lean


def judge_declaration(response: Response) -> list[str]:
    """Reasons Lean's answer to the checked declaration refuses it."""
    if isinstance(response, ReplFailure):
        return [f"the REPL refused the check: {response.message.strip()}"]
    if not isinstance(response, CommandResponse):
        return [f"unexpected answer to the check: {type(response).__name__}"]
    reasons: list[str] = []
    errors = [m for m in response.messages if m.severity == Severity.ERROR]
    if errors:
        reasons.append("Lean reports an error: " + _one_line(errors[0]))
    if response.sorries or any(is_sorry_warning(m) for m in response.messages):
        reasons.append("Lean reports that the declaration uses `sorry`")
    if any(m.data.lstrip().startswith("Try this") for m in response.messages):
        reasons.append("a search tactic (apply?/exact?) left a suggestion in the proof")
    return reasons


def parse_axioms(messages: tuple[Message, ...] | list[Message]) -> list[str] | None:
    """The axioms `#print axioms` reported, [] for none, None if no such report is among the messages."""
    for message in messages:
        match = _AXIOMS.search(message.data)
        if match:
            return [a.strip() for a in match.group("list").split(",") if a.strip()]
        if _NO_AXIOMS.search(message.data):
            return []
    return None


def judge_axioms(name: str, response: Response) -> tuple[list[str], list[str] | None]:
    """Reasons the `#print axioms NAME` answer refuses the proof, and the axioms it listed."""
    if not isinstance(response, CommandResponse):
        message = response.message if isinstance(response, ReplFailure) else type(response).__name__
        return [f"`#print axioms {name}` failed: {message}"], None
    errors = [m for m in response.messages if m.severity == Severity.ERROR]
    if errors:
        return [f"`#print axioms {name}` failed: " + _one_line(errors[0])], None
    axioms = parse_axioms(response.messages)
    if axioms is None:
        return [f"`#print axioms {name}` gave no axiom report"], None
    extra = [a for a in axioms if a not in STANDARD_AXIOMS]
    if extra:
        return [f"the proof depends on non-standard axioms: {', '.join(extra)}"], axioms
    return [], axioms


def _one_line(message: Message) -> str:
    lines = message.data.strip().splitlines()
    return lines[0][:300] if lines else ""


# ------------------------------------------------------------------------------------ the check


async def check_body(
    repl: LeanRepl, theorem: Theorem, body: str, limits: CheckLimits, *, source: str | None = None
) -> Verification:
    """Run both layers for `statement_head + body` on a REPL the caller holds exclusively."""
    head = statement_head(theorem.statement)
    declaration = head + body
    checked = source if source is not None else source_prefix(theorem) + declaration + "\n"
    started = time.monotonic()
    details: dict[str, object] = {"declaration": declaration}

    def verdict(kind: Verdict, reasons: list[str]) -> Verification:
        details["reasons"] = reasons
        return Verification(kind, "; ".join(reasons), checked, time.monotonic() - started, details)

    reasons = static_reasons(theorem, body)
    if reasons:
        details["layer"] = "text"
        return verdict(Verdict.REJECTED, reasons)
    name = declaration_name(theorem.statement)
    if name is None:
        details["layer"] = "text"
        return verdict(Verdict.REJECTED, ["the declaration has no name, so its axioms cannot be checked"])
    deadline = started + limits.timeout_s
    try:
        env = await repl.env_for_header(theorem.header, _left(deadline))
        if theorem.preamble.strip():
            pre = await repl.request(CommandRequest(theorem.preamble, env=env), _left(deadline))
            if not isinstance(pre, CommandResponse) or pre.errors:
                details["layer"] = "lean"
                return verdict(Verdict.UNCHECKED, [f"the theorem's preamble does not elaborate: {_describe(pre)}"])
            env = pre.env
        response = await repl.request(CommandRequest(declaration, env=env), _left(deadline))
        details["layer"] = "lean"
        details["messages"] = [m.to_json() for m in getattr(response, "messages", ())]
        if isinstance(response, ReplFailure):
            return verdict(Verdict.UNCHECKED, judge_declaration(response))
        reasons = judge_declaration(response)
        if reasons:
            return verdict(Verdict.REJECTED, reasons)
        assert isinstance(response, CommandResponse)
        axioms_response = await repl.request(CommandRequest(f"#print axioms {name}", env=response.env), _left(deadline))
        reasons, axioms = judge_axioms(name, axioms_response)
        details["axioms"] = axioms
        if reasons:
            return verdict(Verdict.REJECTED, reasons)
    except ReplTimeout:
        details["layer"] = "budget"
        return verdict(Verdict.REJECTED, [f"the check exceeded its time budget of {limits.timeout_s:g} s"])
    except ReplCrashed as exc:
        details["layer"] = "budget"
        if exc.memory:
            cap = f" of {limits.memory_limit_mb} MB" if limits.memory_limit_mb else ""
            return verdict(Verdict.REJECTED, [f"the check exceeded its memory budget{cap}"])
        return verdict(Verdict.UNCHECKED, [f"Lean crashed during the check: {exc}"])
    except ReplProtocolError as exc:
        details["layer"] = "lean"
        return verdict(Verdict.UNCHECKED, [f"the REPL broke its protocol during the check: {exc}"])
    return verdict(Verdict.ACCEPTED, [])


def _left(deadline: float) -> float:
    return max(0.05, deadline - time.monotonic())


def _describe(response: Response) -> str:
    if isinstance(response, CommandResponse) and response.errors:
        return _one_line(response.errors[0])
    if isinstance(response, ReplFailure):
        return response.message
    return type(response).__name__


async def check_proof(repl: LeanRepl, theorem: Theorem, proof: Proof, limits: CheckLimits) -> Verification:
    if not proof.tactics:
        return Verification(Verdict.REJECTED, "the proof is empty", render_source(theorem, proof), 0.0,
                            {"reasons": ["the proof is empty"], "layer": "text"})
    return await check_body(repl, theorem, proof_body(proof.tactics), limits)


async def check_source(repl: LeanRepl, theorem: Theorem, source: str, limits: CheckLimits) -> Verification:
    body, reasons = split_source(theorem, source)
    if body is None:
        return Verification(Verdict.REJECTED, "; ".join(reasons), source, 0.0, {"reasons": reasons, "layer": "text"})
    return await check_body(repl, theorem, body.rstrip() , limits, source=source)
