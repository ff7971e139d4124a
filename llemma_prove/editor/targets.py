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
- Lean, a nested `sorry` in tactic position (`have h : P := by sorry`, a bullet `· sorry`, a `sorry`
  line followed by more tactics, any `by sorry` inside the proof's top-level `by` block), when it is
  the only `sorry` of its declaration. Its goal is one only the prover can compute from the enclosing
  proof, so the declaration is opened as a sketch whose single hole is that `sorry`
  (`autoformalize.protocols.SketchProver`); the search starts from the hole's goal and the final check
  runs on the whole declaration with the hole filled by exactly the text the edit writes.
A `sorry` in a term (`exact sorry`, `⟨sorry, h⟩`, a `calc` step `:= sorry`), in a term-mode proof, in
a `where` clause, beside another `sorry` of the same declaration, or in an Isar `proof ... qed` is
located and reported with the reason, not searched.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..types import Language, Theorem
from .errors import NoTarget, UnsupportedSource, UnsupportedTarget
from .lean_syntax import Kind, LeanSyntaxError, LineIndex, Token, tokenize

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


_NESTED_ADVICE = (
    "only a whole proof (`:= by sorry`, `:= sorry`), a `sorry` that is the last tactic of the "
    "proof's top-level `by` block, or a lone `sorry` in tactic position inside a `:= by` proof can be searched"
)
_SIBLING_ADVICE = (
    "the sorrys of one declaration are searched together, each from its goal, and only when all of them "
    "stand for tactics (the final check accepts no proof that keeps a sorry), so fill that one first"
)
_TACTIC_POSITION_ADVICE = (
    "a nested sorry is searched only in tactic position (`by sorry`, `· sorry`, or a line of its own in a "
    "tactic block), not where it stands for a term"
)
_ISABELLE_ADVICE = (
    "only a whole proof (`sorry`/`oops` right after the statement) or a `sorry` ending a flat "
    "`apply` script can be searched"
)


def context_tokens(text: str, language: Language) -> list[str] | None:
    """The tokens of `text` that the prover reads (comments and layout dropped); None if unscannable.

    Two texts with the same context tokens give a declaration after them the same meaning, so a proof
    checked after one may be placed after the other."""
    try:
        if language is Language.LEAN4:
            return [t.text for t in tokenize(text) if t.significant]
        return [t.text for t in _isabelle_tokens(text)]
    except (LeanSyntaxError, UnsupportedSource):
        return None


def locate(text: str, language: Language) -> LocatedFile:
    """Declarations and `sorry` targets of a source text. Raises `UnsupportedSource` on unscannable text."""
    if language is Language.LEAN4:
        return _locate_lean(text)
    return _locate_isabelle(text)


# ============================================================================================ helpers


def newline_at(text: str, offset: int) -> str:
    """The newline the file uses around `offset` (the line's own ending, else the file's first one)."""
    end = text.find("\n", offset)
    if end < 0:
        end = text.rfind("\n", 0, offset)
    if end < 0:
        return "\n"
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def _line_indent(text: str, offset: int) -> str:
    start = text.rfind("\n", 0, offset) + 1
    j = start
    while j < len(text) and text[j] in " \t":
        j += 1
    return text[start:j]


def _blank_start(text: str, offset: int) -> int:
    """Start of the spaces/tabs that precede `offset` on its line."""
    j = offset
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    return j


def _step_text(text: str, start: int, end: int, column: int) -> str:
    """A step as the prover should receive it: its lines, continuation lines dedented by `column`."""
    lines = text[start:end].replace("\r\n", "\n").split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        lead = len(line) - len(line.lstrip(" "))
        out.append(line[min(lead, column):])
    return "\n".join(out).rstrip()


def _has_unsafe_name(name: str) -> bool:
    """Names the Lean backend's `#print axioms NAME` check cannot read back (spaces, brackets, colons)."""
    return any(c.isspace() or c in ":({[⦃" for c in name)


# ============================================================================================ Lean

LEAN_PROOF_KEYWORDS = frozenset({"theorem", "lemma", "example"})
LEAN_DECL_KEYWORDS = LEAN_PROOF_KEYWORDS | {
    "def", "abbrev", "instance", "structure", "class", "inductive", "coinductive", "axiom", "opaque",
    "irreducible_def",
}
LEAN_MODIFIERS = frozenset({"private", "protected", "noncomputable", "partial", "unsafe", "nonrec", "public", "local",
                            "scoped"})
# Commands that may prefix another as `X ... in <command>`.
LEAN_IN_PREFIXES = frozenset({"open", "set_option", "omit", "include", "attribute", "variable", "unseal", "seal"})
LEAN_COMMANDS = LEAN_DECL_KEYWORDS | LEAN_MODIFIERS | {
    "import", "prelude", "module", "namespace", "section", "end", "open", "set_option", "variable", "universe",
    "universes", "attribute", "mutual", "macro", "macro_rules", "syntax", "elab", "elab_rules", "notation",
    "notation3", "infix", "infixl", "infixr", "prefix", "postfix", "deriving", "initialize",
    "builtin_initialize", "export", "declare_syntax_cat", "add_decl_doc", "alias", "omit", "include",
    "library_note", "register_simp_attr", "run_cmd", "assert_not_exists", "compile_inductive",
    "suppress_compilation", "unseal", "seal",
}
# Keywords that start a command even when indented (they never occur inside a term or a tactic).
LEAN_STRONG = LEAN_DECL_KEYWORDS - {"class"} | {"namespace", "section", "end", "mutual", "universe"}
LEAN_HEADER_COMMANDS = frozenset({"import", "prelude", "module", "set_option", "open"})
LEAN_DECL_SUFFIXES = frozenset({"where", "termination_by", "decreasing_by"})


@dataclass
class _Command:
    tokens: list[Token]  # significant tokens (comments dropped)
    head: Token | None = None  # the command keyword after modifiers and `... in` prefixes
    head_index: int = 0
    in_prefixed: bool = False

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end


def _is_lean_command_start(tok: Token) -> bool:
    if tok.kind is Kind.DOC:
        return True
    if tok.kind is Kind.SYMBOL:
        return tok.text == "@[" or (tok.text.startswith("#") and len(tok.text) > 1)
    return tok.kind is Kind.IDENT and tok.text in LEAN_COMMANDS


def _is_decl_doc(tok: Token) -> bool:
    """A `/-- ... -/` docstring (part of the next declaration); `/-! ... -/` is a command of its own."""
    return tok.kind is Kind.DOC and not tok.text.startswith("/-!")


def _only_modifiers(tokens: list[Token]) -> bool:
    """Docstrings, `@[...]` attributes and modifier keywords only: they belong to the next command."""
    depth = 0
    for tok in tokens:
        if depth:
            if tok.text == "[" or tok.text == "@[":
                depth += 1
            elif tok.text == "]":
                depth -= 1
            continue
        if _is_decl_doc(tok) or (tok.kind is Kind.IDENT and tok.text in LEAN_MODIFIERS):
            continue
        if tok.text == "@[":
            depth = 1
            continue
        return False
    return True


def _find_in(tokens: list[Token], start: int) -> int | None:
    """Index of the `in` that ends a prefix command starting at `start` (bracket depth 0)."""
    depth = 0
    for k in range(start + 1, len(tokens)):
        tok = tokens[k]
        if tok.kind is Kind.SYMBOL and tok.text in ("(", "[", "{", "⟨", "@["):
            depth += 1
        elif tok.kind is Kind.SYMBOL and tok.text in (")", "]", "}", "⟩") and depth:
            depth -= 1
        elif depth == 0 and tok.kind is Kind.IDENT and tok.text == "in":
            return k
        elif depth == 0 and k > start + 1 and tok.first_on_line and tok.column == 0:
            return None
    return None


def _analyse_command(cmd: _Command) -> None:
    toks = cmd.tokens
    i = 0
    while i < len(toks):
        tok = toks[i]
        if _is_decl_doc(tok):
            i += 1
            continue
        if tok.text == "@[":
            depth = 1
            i += 1
            while i < len(toks) and depth:
                if toks[i].text in ("[", "@["):
                    depth += 1
                elif toks[i].text == "]":
                    depth -= 1
                i += 1
            continue
        if tok.kind is Kind.IDENT and tok.text in LEAN_MODIFIERS:
            i += 1
            continue
        if (tok.kind is Kind.IDENT and tok.text in LEAN_IN_PREFIXES) or tok.text.startswith("#guard_msgs"):
            j = _find_in(toks, i)
            if j is not None:
                cmd.in_prefixed = True
                i = j + 1
                continue
        break
    if i < len(toks):
        cmd.head = toks[i]
        cmd.head_index = i


def _split_lean_commands(tokens: list[Token]) -> list[_Command]:
    sig = [t for t in tokens if t.significant]
    # Candidates: command keywords first on their line at column 0; strong keywords at any column
    # when outside brackets (depth counted from the last column-0 command).
    starts: list[int] = []
    depth = 0
    for k, tok in enumerate(sig):
        col0 = tok.first_on_line and tok.column == 0 and _is_lean_command_start(tok)
        if col0:
            depth = 0
        strong = (
            tok.first_on_line and depth == 0 and tok.kind is Kind.IDENT and tok.text in LEAN_STRONG
        )
        if col0 or strong:
            starts.append(k)
        if tok.kind is Kind.SYMBOL:
            if tok.text in ("(", "[", "{", "⟨", "⦃", "⟦", "@["):
                depth += 1
            elif tok.text in (")", "]", "}", "⟩", "⦄", "⟧") and depth:
                depth -= 1
    commands: list[_Command] = []
    if not sig:
        return commands
    if not starts or starts[0] != 0:
        starts.insert(0, 0)  # text before the first command keyword (a stray term) is a command too
    current: list[Token] = []
    boundaries = set(starts)
    for k, tok in enumerate(sig):
        if k in boundaries and current:
            absorb = _only_modifiers(current) or (
                current[-1].kind is Kind.IDENT and current[-1].text == "in"
            )
            if not absorb:
                commands.append(_Command(current))
                current = []
        current.append(tok)
    if current:
        commands.append(_Command(current))
    for cmd in commands:
        _analyse_command(cmd)
    return commands


def _lean_decl_name(cmd: _Command) -> tuple[str | None, int]:
    """The declared name and the index of the first token after keyword and name."""
    toks = cmd.tokens
    k = cmd.head_index + 1
    keyword = cmd.head.text if cmd.head else ""
    if keyword == "example":
        return None, k
    if keyword == "instance":
        if k < len(toks) and toks[k].text == "(" and k + 1 < len(toks) and toks[k + 1].text == "priority":
            depth = 0
            while k < len(toks):
                if toks[k].text == "(":
                    depth += 1
                elif toks[k].text == ")":
                    depth -= 1
                    if depth == 0:
                        k += 1
                        break
                k += 1
    if k < len(toks) and toks[k].kind is Kind.IDENT:
        return toks[k].text, k + 1
    return None, k


_OPENERS = ("(", "[", "{", "⟨", "⦃", "⟦", "@[", "‹")
_CLOSERS = (")", "]", "}", "⟩", "⦄", "⟧", "›")


def _find_assign(toks: list[Token], start: int) -> int | None:
    """Index of the declaration's own `:=` (depth 0, not one belonging to a `let`/`have` in the type)."""
    depth = 0
    pending = 0
    for k in range(start, len(toks)):
        tok = toks[k]
        if tok.kind is Kind.SYMBOL and tok.text in _OPENERS:
            depth += 1
        elif tok.kind is Kind.SYMBOL and tok.text in _CLOSERS:
            depth = max(0, depth - 1)
        elif depth == 0 and tok.kind is Kind.IDENT and tok.text in ("let", "have", "haveI", "letI"):
            pending += 1
        elif depth == 0 and tok.text == ":=":
            if pending:
                pending -= 1
            else:
                return k
        elif depth == 0 and (tok.text == "where" or (tok.text == "|" and tok.first_on_line)):
            return None  # defined by pattern-matching alternatives / a structure-instance `where`
    return None


def _find_suffix(toks: list[Token], start: int) -> int:
    """Index of the first `where`/`termination_by`/`decreasing_by` at depth 0 (len(toks) if none)."""
    depth = 0
    for k in range(start, len(toks)):
        tok = toks[k]
        if tok.kind is Kind.SYMBOL and tok.text in _OPENERS:
            depth += 1
        elif tok.kind is Kind.SYMBOL and tok.text in _CLOSERS:
            depth = max(0, depth - 1)
        elif depth == 0 and tok.kind is Kind.IDENT and tok.text in LEAN_DECL_SUFFIXES:
            return k
    return len(toks)


@dataclass
class _LeanDecl:
    decl: Declaration
    cmd: _Command
    assign: int | None  # index in cmd.tokens
    suffix: int  # index in cmd.tokens
    in_mutual: bool


def _locate_lean(text: str) -> LocatedFile:
    try:
        all_tokens = tokenize(text)
    except LeanSyntaxError as exc:
        raise UnsupportedSource(f"cannot read the Lean text: {exc}") from None
    index = LineIndex(text)
    commands = _split_lean_commands(all_tokens)

    # Header: the leading import / set_option / open commands (not `... in` prefixes).
    header_end = 0
    for cmd in commands:
        head = cmd.head.text if cmd.head else ""
        if (head in LEAN_HEADER_COMMANDS or head.startswith("/-!")) and not cmd.in_prefixed and cmd.head_index == 0:
            continue
        header_end = cmd.start if cmd is not commands[0] else 0
        break
    else:
        header_end = len(text)
    header = text[:header_end]

    scopes: list[list[str]] = []  # open `namespace`/`section` scopes, innermost last
    in_mutual = False
    decls: list[_LeanDecl] = []
    for cmd in commands:
        head = cmd.head.text if cmd.head else ""
        if head == "namespace" and cmd.head_index + 1 < len(cmd.tokens):
            scopes.append(cmd.tokens[cmd.head_index + 1].text.split("."))
            continue
        if head == "section":
            scopes.append([])  # a section adds nothing to names; its `end` pops it
            continue
        if head == "end":
            if in_mutual:
                in_mutual = False
            elif scopes:
                scopes.pop()
            continue
        if head == "mutual":
            in_mutual = True
            continue
        if head not in LEAN_DECL_KEYWORDS:
            continue
        name, after_name = _lean_decl_name(cmd)
        prefix = ".".join(part for scope in scopes for part in scope)
        full = None
        if name is not None:
            if name.startswith("_root_."):
                full = name[len("_root_."):]
            else:
                full = f"{prefix}.{name}" if prefix else name
        assert cmd.head is not None
        line = cmd.head.line
        end_line = index.position(cmd.end)[0]
        decl = Declaration(head, name, full, cmd.start, cmd.head.start, cmd.end, line, end_line)
        assign = _find_assign(cmd.tokens, after_name)
        suffix = _find_suffix(cmd.tokens, assign + 1) if assign is not None else len(cmd.tokens)
        decls.append(_LeanDecl(decl, cmd, assign, suffix, in_mutual))

    targets: list[Target] = []
    for tok in all_tokens:
        if tok.kind is not Kind.IDENT or tok.text != "sorry":
            continue
        owner = next((d for d in decls if d.decl.start <= tok.start < d.decl.end), None)
        if owner is None:
            targets.append(_unsupported(Language.LEAN4, tok, None, "this sorry is not inside a theorem, lemma or example"))
            continue
        targets.append(_lean_target(text, header, tok, owner))
    return LocatedFile(Language.LEAN4, text, tuple(d.decl for d in decls), tuple(targets), header)


def _unsupported(language: Language, tok: Token, decl: Declaration | None, reason: str) -> Target:
    return Target(language, tok.start, tok.end, tok.line, tok.column, HoleKind.UNSUPPORTED, decl, reason,
                  keyword=tok.text)


def _lean_target(text: str, header: str, tok: Token, owner: _LeanDecl) -> Target:
    decl, cmd = owner.decl, owner.cmd
    if decl.keyword not in LEAN_PROOF_KEYWORDS:
        return _unsupported(Language.LEAN4, tok, decl,
                            f"this sorry is in a `{decl.keyword}`; only theorem, lemma and example proofs are searched")
    if owner.in_mutual:
        return _unsupported(Language.LEAN4, tok, decl, "this sorry is in a `mutual` block, which is not supported")
    toks = cmd.tokens
    k = next(i for i, t in enumerate(toks) if t.start == tok.start)
    if owner.assign is None:
        return _unsupported(Language.LEAN4, tok, decl,
                            "the declaration has no `:=` proof (pattern-matching alternatives are not supported); "
                            + _NESTED_ADVICE)
    if k < owner.assign:
        return _unsupported(Language.LEAN4, tok, decl, "this sorry is in the statement, not in the proof")
    if k >= owner.suffix:
        clause = toks[owner.suffix].text
        return _unsupported(Language.LEAN4, tok, decl, f"this sorry is in a `{clause}` clause; " + _NESTED_ADVICE)
    body = toks[owner.assign + 1: owner.suffix]
    suffix_note = ""
    if owner.suffix < len(toks):
        suffix_note = f"the proof is followed by a `{toks[owner.suffix].text}` clause, which is not supported"
    others = [t for t in body if t.kind is Kind.IDENT and t.text == "sorry" and t.start != tok.start]
    assign_tok = toks[owner.assign]
    newline = newline_at(text, tok.start)
    decl_indent = _line_indent(text, decl.keyword_start)

    # Whole proof: `:= sorry` or `:= by sorry`.
    if [t.text for t in body] in (["sorry"], ["by", "sorry"]):
        if suffix_note:
            return _unsupported(Language.LEAN4, tok, decl, suffix_note)
        statement = text[decl.start: tok.end]
        theorem = _lean_theorem(text, header, decl, statement)
        if tok.first_on_line:
            insertion = Insertion(tok.start, tok.end, _line_indent(text, tok.start), newline, True, "")
        elif body[0].text == "by":
            insertion = Insertion(tok.start, tok.end, decl_indent + "  ", newline, False, "",
                                  block_start=_blank_start(text, tok.start))
        else:
            insertion = Insertion(tok.start, tok.end, decl_indent + "  ", newline, False, "by ", block_prefix="by")
        return Target(Language.LEAN4, tok.start, tok.end, tok.line, tok.column, HoleKind.WHOLE_PROOF, decl,
                      theorem=theorem, insertion=insertion)

    if not body or body[0].text != "by":
        return _unsupported(Language.LEAN4, tok, decl, "this sorry is inside a term-mode proof; " + _NESTED_ADVICE)
    block = body[1:]
    column = block[0].column
    items: list[list[Token]] = []
    for t in block:
        # A line after a trailing `<;>` is that combinator's right-hand side, not a new tactic.
        if not items or (t.first_on_line and t.column == column and items[-1][-1].text != "<;>"):
            items.append([t])
        else:
            items[-1].append(t)
    last = items[-1]
    position = {t.start: i for i, t in enumerate(body)}
    is_last = len(last) == 1 and last[0].start == tok.start and tok.first_on_line
    if not is_last or others:
        holder = next((item for item in items if any(t.start == tok.start for t in item)), items[-1])
        if is_last:
            why = "this sorry ends the proof"
        elif len(holder) == 1:
            why = f"this sorry is followed by more tactics (line {last[0].line})"
        else:
            first = holder[0]
            why = f"this sorry is nested inside the tactic `{first.text}` at line {first.line}"
        if suffix_note:
            return _unsupported(Language.LEAN4, tok, decl, f"{why}; {suffix_note}")
        if not (is_last or _lean_tactic_position(body, position[tok.start])):
            return _unsupported(Language.LEAN4, tok, decl, f"{why}; " + _TACTIC_POSITION_ADVICE)
        term = next((t for t in others if not _lean_tactic_position(body, position[t.start])), None)
        if term is not None:
            return _unsupported(Language.LEAN4, tok, decl,
                                f"{why}; the proof has another sorry, at line {term.line}, that stands for a term: "
                                + _SIBLING_ADVICE)
        statement = text[decl.start: assign_tok.end] + " by sorry"
        theorem = _lean_theorem(text, header, decl, statement)
        # Further tactics go on new lines at the `sorry`'s own column: where Lean's tactic block (the
        # `by`, the bullet, or the enclosing block of a `sorry` line) expects its next tactic.
        insertion = Insertion(tok.start, tok.end, " " * tok.column, newline, True, "")
        by_end = body[0].end
        return Target(Language.LEAN4, tok.start, tok.end, tok.line, tok.column, HoleKind.NESTED, decl,
                      theorem=theorem, insertion=insertion, sketch_body=text[by_end: body[-1].end],
                      sketch_offset=by_end, holes=1 + len(others))
    if suffix_note:
        return _unsupported(Language.LEAN4, tok, decl, suffix_note)
    if others:
        lines = ", ".join(str(t.line) for t in others)
        return _unsupported(Language.LEAN4, tok, decl,
                            f"the proof has other sorrys (line {lines}); the final check accepts no proof that keeps "
                            "one, so those must be filled first")
    prefix = tuple(_step_text(text, item[0].start, item[-1].end, column) for item in items[:-1])
    statement = text[decl.start: assign_tok.end] + " by sorry"
    theorem = _lean_theorem(text, header, decl, statement)
    insertion = Insertion(tok.start, tok.end, _line_indent(text, tok.start), newline, True, "")
    return Target(Language.LEAN4, tok.start, tok.end, tok.line, tok.column, HoleKind.LAST_STEP, decl,
                  theorem=theorem, prefix=prefix, insertion=insertion)


_BULLETS = ("·", ".")
# Tactics whose argument is a tactic (sequence): a `sorry` right after one stands for a tactic.
_TACTIC_COMBINATORS = frozenset({"try", "repeat", "repeat'", "all_goals", "any_goals", "focus", "classical",
                                 "on_goal", "pick_goal", "iterate", "<;>", "by"})
_TACTIC_ALTERNATIVE_HEADS = frozenset({"induction", "cases", "match", "rcases", "induction'", "cases'"})
_TERM_BRACKETS = ("[", "⟨", "⦃", "⟦", "‹", "@[")


def _open_bracket(body: list[Token], k: int) -> int | None:
    """Index of the innermost bracket still open at `body[k]` (None at the top level of the proof)."""
    stack: list[int] = []
    for j in range(k):
        text = body[j].text
        if body[j].kind is not Kind.SYMBOL:
            continue
        if text in _OPENERS:
            stack.append(j)
        elif text in _CLOSERS and stack:
            stack.pop()
    return stack[-1] if stack else None


def _tactic_bracket(body: list[Token], j: int, depth: int) -> bool:
    """Is the bracket `body[j]` a tactic block: `(tacs)` standing where a tactic goes, or `{ tacs }`
    after a tactic combinator / a bullet / `=>` (a `{` elsewhere is a structure instance or a set)?"""
    tok = body[j]
    if tok.text in _TERM_BRACKETS:
        return False
    if tok.text == "{" and j > 0:
        prev = body[j - 1]
        if prev.text in _TACTIC_COMBINATORS or prev.text in _BULLETS:
            return True
    if tok.text in ("(", "{"):
        return _lean_tactic_position(body, j, depth + 1)
    return False


def _lean_tactic_position(body: list[Token], k: int, depth: int = 0) -> bool:
    """Does `body[k]` (a `sorry`) stand where a tactic goes? Inside no bracket other than a tactic
    block (`(try { ... })` yes, `simp [a,\n sorry]` no), and: right after `by`, a bullet, a tactic
    combinator (`try`, `all_goals`, `<;>`, ...), `case ... =>`/`next ... =>`, an alternative `| p =>`
    of a tactic `induction`/`cases`/`match`, or first on its line at the column of an earlier tactic
    line of the same block (a bullet line counts at the column after its bullet)."""
    if depth > 24 or k <= 0:
        return False
    tok = body[k]
    opener = _open_bracket(body, k)
    if opener is not None and not _tactic_bracket(body, opener, depth):
        return False
    prev = body[k - 1]
    if opener is not None and opener == k - 1:
        return True  # the first tactic of a tactic block
    if prev.kind is Kind.IDENT and prev.text in _TACTIC_COMBINATORS or prev.text in ("<;>", "by"):
        return True
    if prev.text == ";":  # `tac; sorry`: the next tactic of the same sequence
        return _lean_tactic_position(body, _line_head(body, k - 1), depth + 1)
    if prev.text in _BULLETS and (prev.first_on_line or (k >= 2 and body[k - 2].text in ("<;>", "by"))):
        return True
    if prev.text == "=>":
        head_index = next((j for j in range(k - 1, -1, -1) if body[j].first_on_line), None)
        if head_index is None:
            return False
        head = body[head_index]
        if head.text in ("case", "case'", "next"):
            return True
        if head.text == "|":
            return _tactic_alternative(body, head_index, depth)
        return False
    if not tok.first_on_line:
        return False
    floor = opener if opener is not None else -1
    for j in range(k - 1, floor, -1):
        head = body[j]
        if not head.first_on_line or _open_bracket(body, j) != opener:
            continue
        column = head.column
        if head.text in _BULLETS and j + 1 < k and body[j + 1].line == head.line:
            column = body[j + 1].column
        elif head.text == "|" and tok.column > head.column:
            # a tactic on the line after `| p =>`: inside the alternative's tactic block
            arrow = next((i for i in range(j + 1, k) if body[i].text == "=>"), None)
            if arrow is not None and body[arrow].line == head.line and (arrow + 1 == k or body[arrow + 1].line == head.line):
                if arrow + 1 == k or body[arrow + 1].column == tok.column:
                    return _tactic_alternative(body, j, depth)
        if column == tok.column:
            return _lean_tactic_position(body, j, depth + 1) if body[j].text not in _BULLETS else True
        if head.column < tok.column:
            if head.text in _BULLETS and j + 1 == k:
                return True  # `·` alone on its line (a comment after it), the block below it
            if head.text in ("case", "case'", "next") and body[k - 1].text == "=>":
                return True
            return False
    return opener is not None and body[opener].line < tok.line and _first_in_block(body, opener, k)


def _line_head(body: list[Token], k: int) -> int:
    """Index of the first token on `body[k]`'s line (within the proof)."""
    j = k
    while j > 0 and not body[j].first_on_line:
        j -= 1
    return j


def _first_in_block(body: list[Token], opener: int, k: int) -> bool:
    """`body[k]` is the first token after a tactic bracket's opening line (its block's first tactic)."""
    return all(body[j].line == body[opener].line for j in range(opener + 1, k))


def _tactic_alternative(body: list[Token], bar: int, depth: int) -> bool:
    """Is the `|` at `body[bar]` (first on its line) an alternative of a tactic `induction`, `cases`,
    `rcases` or `match` (whose right-hand sides are tactics), not of a term-mode `match`?"""
    column = body[bar].column
    for j in range(bar - 1, -1, -1):
        head = body[j]
        if not head.first_on_line or head.text == "|" and head.column == column:
            continue
        if head.column > column:
            continue
        line_tokens = [t for t in body[j:bar] if t.line == head.line]
        if not any(t.text in _TACTIC_ALTERNATIVE_HEADS for t in line_tokens):
            return False
        if head.text in _TACTIC_ALTERNATIVE_HEADS:
            return _lean_tactic_position(body, j, depth + 1) or (j > 0 and body[j - 1].text == "by")
        if head.text in _BULLETS:
            return True
        return False
    return False


def _lean_theorem(text: str, header: str, decl: Declaration, statement: str) -> Theorem:
    """The search's theorem. An `example`, and a name the backend cannot read back, get a fresh name
    (the proposition and the proof are the same; only the label Lean checks under changes)."""
    name = decl.full_name
    offset = decl.start
    if decl.keyword == "example":
        name = f"llemma_example_line{decl.line}"
        kw = decl.keyword_start - offset
        statement = statement[:kw] + "theorem " + name + statement[kw + len("example"):]
    elif decl.name is not None and _has_unsafe_name(decl.name):
        safe = f"llemma_theorem_line{decl.line}"
        at = statement.find(decl.name, decl.keyword_start - offset)
        statement = statement[:at] + safe + statement[at + len(decl.name):]
        name = safe
    assert name is not None
    return Theorem(
        name=name,
        statement=statement,
        header=header,
        preamble=text[len(header): decl.start] if decl.start >= len(header) else "",
        language=Language.LEAN4,
        source="file",
    )


# ============================================================================================ Isabelle

ISABELLE_THEOREM_KEYWORDS = frozenset({"theorem", "lemma", "corollary", "proposition", "schematic_goal"})
# Top-level theory commands: one ends the proof before it.
ISABELLE_THEORY_COMMANDS = ISABELLE_THEOREM_KEYWORDS | {
    "end", "definition", "fun", "function", "primrec", "datatype", "codatatype", "type_synonym", "abbreviation",
    "lemmas", "declare", "text", "section", "subsection", "subsubsection", "paragraph", "chapter", "locale",
    "context", "notation", "no_notation", "hide_const", "hide_fact", "instantiation", "class", "consts",
    "axiomatization", "inductive", "inductive_set", "coinductive", "record", "typedecl", "termination",
    "ML", "ML_file", "setup", "method_setup", "named_theorems", "interpretation", "sublocale", "export_code",
    "bundle", "unbundle", "syntax", "translations", "primcorec", "nominal_datatype", "type_notation",
    "overloading", "specification", "global_interpretation", "experiment", "print_theorems",
}
ISABELLE_PROOF_OPENERS = frozenset(
    {"proof", "by", "apply", "apply_end", "sorry", "oops", "using", "unfolding", "including", "supply", ".", ".."}
)
# Isar proof commands: each starts a new step.
ISABELLE_PROOF_COMMANDS = ISABELLE_PROOF_OPENERS | {
    "done", "qed", "defer", "prefer", "back", "have", "show", "hence", "thus", "then", "from", "with", "also",
    "finally", "moreover", "ultimately", "note", "fix", "assume", "presume", "obtain", "define", "let", "case",
    "next", "subgoal", "consider", "guess", "interpret", "txt", "nitpick", "sledgehammer", "try", "try0", "{", "}",
}
ISABELLE_APPLY_STYLE = frozenset({"apply", "apply_end", "using", "unfolding", "including", "supply", "defer",
                                  "prefer", "back"})


@dataclass(frozen=True)
class _IsaTok:
    kind: str
    text: str
    start: int
    end: int
    line: int
    column: int
    first_on_line: bool
    depth: int  # parenthesis depth before the token


def _isabelle_tokens(text: str) -> list[_IsaTok]:
    from ..provers.isabelle.theory import TheorySyntaxError, TokenKind, tokens

    try:
        raw = tokens(text)
    except TheorySyntaxError as exc:
        raise UnsupportedSource(f"cannot read the Isabelle theory: {exc}") from None
    index = LineIndex(text)
    out: list[_IsaTok] = []
    last_line = 0
    depth = 0
    for tok in raw:
        if tok.kind in (TokenKind.SPACE, TokenKind.COMMENT):
            continue
        line, column = index.position(tok.start)
        first = line != last_line
        last_line = line
        out.append(_IsaTok(tok.kind.value, tok.text, tok.start, tok.end, line, column, first, depth))
        if tok.kind is TokenKind.SYMBOL and tok.text in "([":
            depth += 1
        elif tok.kind is TokenKind.SYMBOL and tok.text in ")]" and depth:
            depth -= 1
    return out


def _is_word(tok: _IsaTok, words: frozenset[str] | set[str]) -> bool:
    return tok.kind in ("word", "symbol") and tok.text in words and tok.depth == 0


def _locate_isabelle(text: str) -> LocatedFile:
    toks = _isabelle_tokens(text)
    theory = next((k for k, t in enumerate(toks) if t.kind == "word" and t.text == "theory"), None)
    begin = None
    if theory is not None:
        begin = next((k for k in range(theory + 1, len(toks)) if toks[k].kind == "word" and toks[k].text == "begin"),
                     None)
    if theory is None or begin is None:
        raise UnsupportedSource("not an Isabelle theory: no `theory NAME imports ... begin` header")
    header = text[toks[theory].start: toks[begin].end]
    index = LineIndex(text)

    decls: list[tuple[Declaration, int, int, int]] = []  # declaration, statement end, proof start, proof end (indices)
    command_starts = [j for j in range(begin + 1, len(toks)) if _is_word(toks[j], ISABELLE_THEORY_COMMANDS)]
    for pos, j in enumerate(command_starts):
        tok = toks[j]
        if tok.text not in ISABELLE_THEOREM_KEYWORDS:
            continue
        stop_cmd = command_starts[pos + 1] if pos + 1 < len(command_starts) else len(toks)
        k = j + 1
        if k < stop_cmd and toks[k].text == "(":  # `lemma (in locale) name: ...`
            while k < stop_cmd and toks[k].text != ")":
                k += 1
            k += 1
        name = None
        if k + 1 < stop_cmd and toks[k].kind == "word" and toks[k + 1].text in (":", "["):
            name = toks[k].text
        opener = next((m for m in range(k, stop_cmd) if _is_word(toks[m], ISABELLE_PROOF_OPENERS)), None)
        if opener is None:
            continue  # a statement with no proof at all: nothing to fill
        end_tok = toks[stop_cmd - 1]
        decl = Declaration(tok.text, name, name, tok.start, tok.start, end_tok.end, tok.line,
                           index.position(end_tok.end)[0])
        decls.append((decl, opener, opener, stop_cmd))

    theory_name = toks[theory + 1].text if theory + 1 < len(toks) else "theory"
    targets: list[Target] = []
    for j in range(begin + 1, len(toks)):
        tok = toks[j]
        if tok.kind != "word" or tok.text not in ("sorry", "oops"):
            continue
        owner = next((d for d in decls if d[2] <= j < d[3]), None)
        if owner is None:
            targets.append(Target(Language.ISABELLE, tok.start, tok.end, tok.line, tok.column, HoleKind.UNSUPPORTED,
                                  None, f"this {tok.text} is not in the proof of a theorem or lemma", keyword=tok.text))
            continue
        targets.append(_isabelle_target(text, header, toks[begin].end, toks, j, owner, theory_name))
    return LocatedFile(Language.ISABELLE, text, tuple(d[0] for d in decls), tuple(targets), header)


def _isabelle_target(text: str, header: str, header_end: int, toks: list[_IsaTok], j: int,
                     owner: tuple[Declaration, int, int, int], theory_name: str) -> Target:
    decl, stmt_stop, proof_start, proof_end = owner
    tok = toks[j]

    def unsupported(reason: str) -> Target:
        return Target(Language.ISABELLE, tok.start, tok.end, tok.line, tok.column, HoleKind.UNSUPPORTED, decl,
                      reason, keyword=tok.text)

    proof = toks[proof_start:proof_end]
    steps: list[list[_IsaTok]] = []
    for t in proof:
        if not steps or _is_word(t, ISABELLE_PROOF_COMMANDS):
            steps.append([t])
        else:
            steps[-1].append(t)
    last = steps[-1]
    if not (len(last) == 1 and last[0].start == tok.start):
        return unsupported(f"this {tok.text} is inside a structured proof (`{steps[0][0].text}` at line "
                           f"{steps[0][0].line}); " + _ISABELLE_ADVICE)
    earlier = steps[:-1]
    bad = next((s for s in earlier if s[0].text not in ISABELLE_APPLY_STYLE), None)
    if bad is not None:
        return unsupported(f"this {tok.text} follows `{bad[0].text}` at line {bad[0].line}; " + _ISABELLE_ADVICE)
    others = [t for s in earlier for t in s if t.kind == "word" and t.text in ("sorry", "oops")]
    if others:
        return unsupported(f"the proof has another sorry (line {others[0].line}), fill it first")
    stmt_end = toks[stmt_stop - 1].end
    statement = text[decl.start: stmt_end]
    name = decl.name or f"{theory_name}_line{decl.line}"
    theorem = Theorem(
        name=name,
        statement=statement,
        header=header,
        preamble=text[header_end: decl.start].strip(),
        language=Language.ISABELLE,
        source="file",
    )
    newline = newline_at(text, tok.start)
    if tok.first_on_line:
        insertion = Insertion(tok.start, tok.end, _line_indent(text, tok.start), newline, True, "")
    else:
        insertion = Insertion(tok.start, tok.end, _line_indent(text, decl.start) + "  ", newline, False, "",
                              block_start=_blank_start(text, tok.start))
    kind = HoleKind.WHOLE_PROOF if not earlier else HoleKind.LAST_STEP
    prefix = tuple(_step_text(text, s[0].start, s[-1].end, s[0].column) for s in earlier)
    return Target(Language.ISABELLE, tok.start, tok.end, tok.line, tok.column, kind, decl, theorem=theorem,
                  prefix=prefix, insertion=insertion, keyword=tok.text)


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
