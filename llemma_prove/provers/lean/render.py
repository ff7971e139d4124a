"""Lean source text: statements with their `sorry`, rendered proofs, headers, tactic blocks.

Kept apart from the driver so the session (which opens `statement := by sorry`) and the final check
(which compiles `statement := by <tactics>`) agree on one rendering, byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...types import Proof, Theorem

INDENT = "  "

_DECL = re.compile(
    r"^\s*(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable|nonrec|unsafe|partial)\s+)*"
    r"(?P<kw>theorem|lemma|example|def|abbrev|instance)\b\s*(?P<name>[^\s:({\[⦃]+)?",
    re.MULTILINE,
)


def statement_head(statement: str) -> str:
    """The statement up to and including its final `:=`, without the trailing `by sorry` / `sorry` / `by`.

    This prefix is what the final check compiles byte for byte, followed by the proof.
    """
    text = statement.rstrip()
    for suffix in ("sorry", "by"):
        if text.endswith(suffix) and (len(text) == len(suffix) or not _ident_char(text[-len(suffix) - 1])):
            text = text[: -len(suffix)].rstrip()
    if not text.endswith(":="):
        text += " :="
    return text


def _ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_'.!?"


def sorry_command(statement: str) -> str:
    """The command that opens a theorem in tactic mode: the statement as written if it already ends in
    `sorry`, else its head followed by `by sorry`."""
    text = statement.rstrip()
    if text.endswith("sorry"):
        return text
    return statement_head(statement) + " by sorry"


def declaration_name(statement: str) -> str | None:
    """The declared name (`theorem NAME ...`), or None for an `example`."""
    match = _DECL.search(statement)
    if not match or match.group("kw") == "example":
        return None
    return match.group("name")


def render_tactic(tactic: str, indent: str = INDENT) -> str:
    """One tactic as lines of a `by` block at `indent`, keeping the relative indentation of its lines.

    The REPL ran the tactic at column 0; the first line's own leading blanks are dropped and every
    continuation line keeps its offset from the first one, so `calc` steps and `·` blocks still parse.
    """
    lines = tactic.rstrip().split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    first = lines[0]
    base = len(first) - len(first.lstrip(" "))
    out = [indent + first.strip()]
    for line in lines[1:]:
        if not line.strip():
            out.append("")
            continue
        lead = len(line) - len(line.lstrip(" "))
        out.append(indent + line[min(lead, base):].rstrip())
    return "\n".join(out)


def proof_body(tactics: tuple[str, ...] | list[str]) -> str:
    """` by\\n  tac1\\n  tac2` (what follows the statement head)."""
    return " by\n" + "\n".join(render_tactic(t) for t in tactics)


def render_declaration(theorem: Theorem, proof: Proof) -> str:
    """`<statement head> by\\n  tactic1\\n  tactic2` (no header, no preamble)."""
    return statement_head(theorem.statement) + proof_body(proof.tactics)


def render_source(theorem: Theorem, proof: Proof) -> str:
    """The complete file a user can compile: header, preamble, statement, proof."""
    return source_prefix(theorem) + render_declaration(theorem, proof) + "\n"


def source_prefix(theorem: Theorem) -> str:
    """Header and preamble exactly as they precede the statement in the checked file."""
    header = theorem.header
    if header and not header.endswith("\n"):
        header += "\n"
    preamble = theorem.preamble
    if preamble:
        preamble = preamble.rstrip("\n") + "\n\n"
    return header + preamble


@dataclass(frozen=True)
class Header:
    """A header split into its `import` lines and the rest (options, `open`s), which runs as a command."""

    imports: tuple[str, ...]
    rest: str

    @property
    def import_command(self) -> str:
        return "\n".join(f"import {m}" for m in self.imports)


def split_header(header: str) -> Header:
    imports: list[str] = []
    rest: list[str] = []
    for line in header.splitlines():
        stripped = line.strip()
        if stripped.startswith("import ") and not rest:
            imports.extend(stripped[len("import ") :].split())
        else:
            rest.append(line)
    return Header(tuple(imports), "\n".join(rest).strip("\n"))


def split_tactics(body: str) -> list[str]:
    """A tactic proof (`by` optional) as its top-level tactics, each with its indented continuation.

    Used to turn a published whole proof into steps: a new tactic starts at a line indented exactly
    like the first one; deeper lines belong to the tactic above; a line indented less ends the block
    (it is the next command of the file). Comment-only lines are dropped.
    """
    text = body.strip("\n")
    stripped = text.lstrip()
    if stripped.startswith("by"):
        text = stripped[2:]
    lines = text.split("\n")
    steps: list[list[str]] = []
    base: int | None = None
    for line in lines:
        if not line.strip() or line.strip().startswith("--"):
            continue
        lead = len(line) - len(line.lstrip(" "))
        if base is None:
            base = lead
        if lead < base:
            break
        if lead == base or not steps:
            steps.append([line[lead:]])
        else:
            steps[-1].append(line[base:])
    return ["\n".join(s).rstrip() for s in steps]


def strip_comments(text: str) -> str:
    """The text with `-- ...` and (nested) `/- ... -/` comments blanked out; strings left alone."""
    out: list[str] = []
    i, n, depth = 0, len(text), 0
    in_string = False
    while i < n:
        ch = text[i]
        if depth:
            if text.startswith("/-", i):
                depth += 1
                i += 2
            elif text.startswith("-/", i):
                depth -= 1
                i += 2
            else:
                out.append("\n" if ch == "\n" else " ")
                i += 1
            continue
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif text.startswith("/-", i):
            depth = 1
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
