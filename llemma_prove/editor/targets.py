"""Where the proofs go: `sorry` targets in `.lean` and `.thy` files, and the theorem each one asks for.

A *target* is one `sorry` (or Isabelle `oops`). For each, the file's own context becomes a `Theorem`:
the header (Lean: the leading `import`/`set_option`/`open` commands; Isabelle: `theory ... begin`),
everything between the header and the declaration as the preamble (so earlier definitions and lemmas
are usable), and the declaration itself as the statement.

What can be searched (anything else is reported as unsupported, with the reason):
- a whole proof: Lean `:= by sorry` / `:= sorry`, Isabelle `sorry` / `oops` right after the statement;
- the last step of a proof: Lean, a `sorry` that is the last tactic of the proof's top-level `by`
  block; Isabelle, a `sorry`/`oops` ending a flat `apply`/`using` script. The steps before it are
  replayed in the prover first, the search continues from the goal they leave, and the final check
  runs on the whole proof (those steps plus the found ones).
- Lean, any other `sorry` in tactic position (`have h : P := by sorry`, `· sorry`, `| succ m => sorry`,
  `all_goals sorry`, after `<;>`, inside `(try { ... })`, a `sorry` line followed by more tactics)
  inside a `:= by` proof, alone or with other tactic-position `sorry`s of the same declaration. Their
  goals are ones only the prover can compute from the enclosing proof, so the declaration is opened
  as a sketch whose holes are its `sorry`s (`autoformalize.protocols.SketchProver`); each search
  starts from its hole's goal and the final check runs on the whole declaration with every hole
  filled by exactly the text the edits write (`session.prove_declaration`).
A `sorry` in a term (`exact sorry`, `⟨sorry, h⟩`, a `simp [a, sorry]` element, a `calc` step
`:= sorry`), in a term-mode proof, in a `where` clause, beside a term `sorry` of the same declaration,
or in an Isar `proof ... qed` is located and reported with the reason, not searched.

This module holds the values and the selection and writing helpers shared by both languages; the
scanners are `lean_targets` and `isabelle_targets`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..types import Language, Theorem
from .errors import NoTarget, UnsupportedSource, UnsupportedTarget

LEAN_SUFFIXES = (".lean",)
ISABELLE_SUFFIXES = (".thy",)


def language_for(path: str | Path) -> Language:
    suffix = Path(path).suffix.lower()
    if suffix in LEAN_SUFFIXES:
        return Language.LEAN4
    if suffix in ISABELLE_SUFFIXES:
        return Language.ISABELLE
    raise UnsupportedSource(f"{path}: unsupported file type {suffix or '(none)'!r}; expected a .lean or .thy file")


class HoleKind(str, enum.Enum):
    WHOLE_PROOF = "whole-proof"  # the entire proof is the `sorry`
    LAST_STEP = "last-step"  # the last step of a tactic block / apply script; earlier steps replayed
    NESTED = "nested"  # Lean: a tactic-position `sorry` deeper in the proof, searched from its sketch hole
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Declaration:
    """One theorem-like declaration as written in the file (offsets in code points)."""

    keyword: str  # theorem | lemma | example | def | ... (Isabelle: theorem | lemma | corollary ...)
    name: str | None  # as written (`Foo.bar`, `«my thm»`); None for `example` / unnamed lemmas
    full_name: str | None  # with the enclosing Lean namespaces
    start: int  # first token: docstring, attribute, modifier or `... in` prefix
    keyword_start: int
    end: int  # end of the last token
    line: int  # 1-based line of `keyword_start`
    end_line: int

    @property
    def display_name(self) -> str:
        return self.full_name or self.name or f"{self.keyword} at line {self.line}"


@dataclass(frozen=True)
class Insertion:
    """How a proof replaces the `sorry`: the span, the block indentation and the file's newline."""

    start: int
    end: int
    indent: str  # indentation of the proof's lines after the first
    newline: str  # "\n" or "\r\n", as the file writes them
    own_line: bool  # the `sorry` starts its line: the first proof line goes where it stands
    inline_prefix: str | None  # one one-line step may replace the `sorry` in place, after this prefix
    block_prefix: str = ""  # otherwise: this, a newline, then the indented block
    block_start: int | None = None  # where a block replacement starts (drops blanks before `sorry`)
    # The hole takes one tactic, not a sequence (the right-hand side of `<;>`): several steps go in as
    # one parenthesised sequence, `(tac1; tac2)`, or, with a multi-line step, as a block in parentheses.
    single_tactic: bool = False


@dataclass(frozen=True)
class Target:
    """One `sorry` and what proving it means."""

    language: Language
    start: int  # the `sorry` / `oops` token
    end: int
    line: int  # 1-based
    column: int  # 0-based, code points
    kind: HoleKind
    declaration: Declaration | None
    reason: str = ""  # why an UNSUPPORTED target cannot be searched
    theorem: Theorem | None = None
    prefix: tuple[str, ...] = ()  # steps replayed before the search (LAST_STEP)
    insertion: Insertion | None = None
    keyword: str = "sorry"
    # NESTED: the proof text after the declaration's `:= by` (the sketch, with this `sorry` its only
    # hole) and the file offset where it starts.
    sketch_body: str = ""
    sketch_offset: int = 0
    holes: int = 1  # NESTED: how many sorrys the sketch has (all of the declaration's, searched together)

    @property
    def sketch_hole(self) -> tuple[int, int]:
        """The `sorry`'s span inside `sketch_body` (NESTED targets)."""
        return self.start - self.sketch_offset, self.end - self.sketch_offset

    @property
    def supported(self) -> bool:
        return self.kind is not HoleKind.UNSUPPORTED

    @property
    def name(self) -> str:
        return self.declaration.display_name if self.declaration else f"line {self.line}"

    @property
    def label(self) -> str:
        return f"{self.name} (line {self.line})"

    def require_supported(self) -> "Target":
        if not self.supported:
            raise UnsupportedTarget(f"{self.keyword} at line {self.line}, column {self.column + 1}: {self.reason}")
        return self


@dataclass(frozen=True)
class LocatedFile:
    """All declarations and all targets of one text."""

    language: Language
    text: str
    declarations: tuple[Declaration, ...]
    targets: tuple[Target, ...]
    header: str = ""

    def target_at(self, offset: int) -> Target | None:
        """The target whose token contains `offset` (or ends exactly there)."""
        for target in self.targets:
            if target.start <= offset <= target.end:
                return target
        return None


def context_tokens(text: str, language: Language) -> list[str] | None:
    """The tokens of `text` that the prover reads (comments and layout dropped); None if unscannable.

    Two texts with the same context tokens give a declaration after them the same meaning, so a proof
    checked after one may be placed after the other."""
    from .isabelle_targets import isabelle_tokens
    from .lean_syntax import LeanSyntaxError, tokenize

    try:
        if language is Language.LEAN4:
            return [t.text for t in tokenize(text) if t.significant]
        return [t.text for t in isabelle_tokens(text)]
    except (LeanSyntaxError, UnsupportedSource):
        return None


def locate(text: str, language: Language) -> LocatedFile:
    """Declarations and `sorry` targets of a source text. Raises `UnsupportedSource` on unscannable text."""
    if language is Language.LEAN4:
        from .lean_targets import locate_lean

        return locate_lean(text)
    from .isabelle_targets import locate_isabelle

    return locate_isabelle(text)


# ============================================================================================ helpers


def newline_at(text: str, offset: int) -> str:
    """The newline the file uses around `offset` (the line's own ending, else the file's first one)."""
    end = text.find("\n", offset)
    if end < 0:
        end = text.rfind("\n", 0, offset)
    if end < 0:
        return "\n"
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def line_indent(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    j = start
    while j < len(text) and text[j] in " \t":
        j += 1
    return text[start:j]


def blank_start(text: str, offset: int) -> int:
    """Start of the spaces/tabs that precede `offset` on its line."""
    j = offset
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    return j


def step_text(text: str, start: int, end: int, column: int) -> str:
    """A step as the prover should receive it: its lines, continuation lines dedented by `column`."""
    lines = text[start:end].replace("\r\n", "\n").split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        lead = len(line) - len(line.lstrip(" "))
        out.append(line[min(lead, column):])
    return "\n".join(out).rstrip()


def has_unsafe_name(name: str) -> bool:
    """Names the Lean backend's `#print axioms NAME` check cannot read back (spaces, brackets, colons)."""
    return any(c.isspace() or c in ":({[⦃" for c in name)


# ============================================================================================ selection


def select_targets(located: LocatedFile, *, theorem: str | None = None, line: int | None = None,
                   source: str = "the file") -> list[Target]:
    """The targets a command asked for: by theorem name, by line, or every `sorry` (the default).

    Raises `NoTarget` (one line, naming what was looked for) when there is nothing to prove there.
    """
    if theorem is not None and line is not None:
        raise NoTarget("give either a theorem name or a line, not both")
    if theorem is not None:
        decls = [d for d in located.declarations if _name_matches(d, theorem)]
        if not decls:
            known = [d.display_name for d in located.declarations if d.name]
            hint = f"; theorems in {source}: {', '.join(known[:8])}{' ...' if len(known) > 8 else ''}" if known else ""
            raise NoTarget(f"no theorem named {theorem!r} in {source}{hint}")
        found = [t for t in located.targets if t.declaration in decls]
        if not found:
            raise NoTarget(f"theorem {theorem} (line {decls[0].line}) has no sorry to prove")
        return found
    if line is not None:
        on_line = [t for t in located.targets if t.line == line]
        if on_line:
            return on_line
        decls = [d for d in located.declarations if d.line <= line <= d.end_line]
        if not decls:
            raise NoTarget(f"no sorry and no theorem at line {line} of {source}")
        found = [t for t in located.targets if t.declaration in decls]
        if not found:
            raise NoTarget(f"{decls[0].display_name} at line {line} has no sorry to prove")
        return found
    if not located.targets:
        raise NoTarget(f"no sorry in {source}")
    return list(located.targets)


def _strip_guillemets(name: str) -> str:
    return name.replace("«", "").replace("»", "")


def _name_matches(decl: Declaration, wanted: str) -> bool:
    names = {n for n in (decl.name, decl.full_name) if n}
    if not names:
        return False
    plain = {_strip_guillemets(n) for n in names}
    return wanted in names or _strip_guillemets(wanted) in plain


# ============================================================================================ writing


def render_steps(steps: Sequence[str], indent: str, newline: str) -> str:
    """Steps as lines at `indent` (the first line without it), continuation lines kept relative.

    The prover ran each step with its first line at column 0, so a continuation line's own leading
    blanks (beyond the first line's) are its offset inside the step and are kept after `indent`.
    """
    lines: list[str] = []
    for step in steps:
        parts = step.replace("\r\n", "\n").rstrip().split("\n")
        while parts and not parts[0].strip():
            parts.pop(0)
        if not parts:
            continue
        base = len(parts[0]) - len(parts[0].lstrip(" "))
        lines.append(parts[0].strip())
        for part in parts[1:]:
            if not part.strip():
                lines.append("")
                continue
            lead = len(part) - len(part.lstrip(" "))
            lines.append(part[min(lead, base):].rstrip())
    out = [lines[0]] if lines else []
    out.extend(indent + ln if ln else "" for ln in lines[1:])
    return newline.join(out)


@dataclass(frozen=True)
class TextEdit:
    """Replace `text[start:end]` with `new_text` (offsets in code points)."""

    start: int
    end: int
    new_text: str


def proof_edit(target: Target, steps: Sequence[str]) -> TextEdit:
    """The edit that puts `steps` where the target's `sorry` stands, in the file's own layout."""
    ins = target.insertion
    if ins is None or not steps:
        raise UnsupportedTarget(f"{target.label}: nothing to insert")
    clean = [s for s in steps if s.strip()]
    if len(clean) == 1 and "\n" not in clean[0].strip() and ins.inline_prefix is not None:
        return TextEdit(ins.start, ins.end, ins.inline_prefix + clean[0].strip())
    if ins.single_tactic and len(clean) > 1:
        if all("\n" not in s.strip() for s in clean):
            return TextEdit(ins.start, ins.end, "(" + "; ".join(s.strip() for s in clean) + ")")
        return TextEdit(ins.start, ins.end, "(" + render_steps(clean, ins.indent + " ", ins.newline) + ")")
    if ins.own_line:
        return TextEdit(ins.start, ins.end, render_steps(clean, ins.indent, ins.newline))
    block = ins.indent + render_steps(clean, ins.indent, ins.newline)
    start = ins.block_start if ins.block_start is not None else ins.start
    lead = ins.block_prefix if ins.block_prefix else ""
    return TextEdit(start, ins.end, lead + ins.newline + block)


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """Apply non-overlapping edits (any order given) to `text`."""
    ordered = sorted(edits, key=lambda e: e.start)
    for a, b in zip(ordered, ordered[1:]):
        if b.start < a.end:
            raise ValueError("overlapping edits")
    out = text
    for edit in reversed(ordered):
        out = out[: edit.start] + edit.new_text + out[edit.end:]
    return out


__all__ = [
    "Declaration",
    "blank_start",
    "line_indent",
    "newline_at",
    "step_text",
    "HoleKind",
    "Insertion",
    "LocatedFile",
    "Target",
    "TextEdit",
    "apply_edits",
    "language_for",
    "locate",
    "proof_edit",
    "render_steps",
    "select_targets",
]
