"""Lean 4 targets: the `sorry`s of a `.lean` text, the declaration each belongs to, and whether the
search can start there (see `targets` for the kinds). Split from `targets.py`, which keeps the values
shared with Isabelle and the selection and writing helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..types import Language, Theorem
from .errors import UnsupportedSource
from .lean_syntax import Kind, LeanSyntaxError, LineIndex, Token, tokenize
from .lean_view import LeanView, SorryRole
from .targets import (
    Declaration,
    HoleKind,
    Insertion,
    LocatedFile,
    Target,
    blank_start,
    has_unsafe_name,
    line_indent,
    newline_at,
    step_text,
)

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


def _top_level(toks: list[Token], start: int) -> Iterator[tuple[int, Token]]:
    """The tokens from `start` on that are outside every bracket (brackets themselves left out)."""
    depth = 0
    for k in range(start, len(toks)):
        tok = toks[k]
        if tok.kind is Kind.SYMBOL and tok.text in _OPENERS:
            depth += 1
        elif tok.kind is Kind.SYMBOL and tok.text in _CLOSERS:
            depth = max(0, depth - 1)
        elif depth == 0:
            yield k, tok


def _find_assign(toks: list[Token], start: int) -> int | None:
    """Index of the declaration's own `:=` (depth 0, not one belonging to a `let`/`have` in the type)."""
    pending = 0
    for k, tok in _top_level(toks, start):
        if tok.kind is Kind.IDENT and tok.text in ("let", "have", "haveI", "letI"):
            pending += 1
        elif tok.text == ":=":
            if pending:
                pending -= 1
            else:
                return k
        elif tok.text == "where" or (tok.text == "|" and tok.first_on_line):
            return None  # defined by pattern-matching alternatives / a structure-instance `where`
    return None


def _find_suffix(toks: list[Token], start: int) -> int:
    """Index of the first `where`/`termination_by`/`decreasing_by` at depth 0 (len(toks) if none)."""
    for k, tok in _top_level(toks, start):
        if tok.kind is Kind.IDENT and tok.text in LEAN_DECL_SUFFIXES:
            return k
    return len(toks)


@dataclass
class _LeanDecl:
    decl: Declaration
    cmd: _Command
    assign: int | None  # index in cmd.tokens
    suffix: int  # index in cmd.tokens
    in_mutual: bool


def locate_lean(text: str, view: LeanView | None = None) -> LocatedFile:
    """The scanner's reading of `text`; with Lean's `view`, whether a `sorry` is a tactic is Lean's
    answer for every declaration the view covers (see `lean_view`)."""
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
        targets.append(_lean_target(text, header, tok, owner, view))
    return LocatedFile(Language.LEAN4, text, tuple(d.decl for d in decls), tuple(targets), header)


def _unsupported(language: Language, tok: Token, decl: Declaration | None, reason: str) -> Target:
    return Target(language, tok.start, tok.end, tok.line, tok.column, HoleKind.UNSUPPORTED, decl, reason,
                  keyword=tok.text)


_LEAN_TERM = ("Lean elaborates this sorry as a term, not as a tactic (the REPL reports no `sorry` tactic "
              "at it)")
_LEAN_ABSENT = "Lean reports no goal at this sorry (it is not elaborated as a `sorry` of the proof)"


# After these a `sorry` can only be a term, whatever Lean's view: the grammar expects a term there.
_TERM_ONLY_BEFORE = ("exact", "refine", "refine'", "use", "from", "show", ":=", ",", "[", "⟨", "+", "*", "=")


def lean_may_decide(target: Target, text: str) -> bool:
    """Could Lean's view of the file make this target's verdict different from the scanner's? Only
    for a `sorry` in a `:= by` proof whose tactic position the scanner judged, and not right after a
    token after which Lean's grammar expects a term (`exact sorry`, `[a, sorry]`): for the others the
    scanner's refusal is final and is given before Lean is started."""
    if target.kind in (HoleKind.NESTED, HoleKind.LAST_STEP):
        return True
    if target.kind is not HoleKind.UNSUPPORTED:
        return False
    if _TACTIC_POSITION_ADVICE not in target.reason and _SIBLING_ADVICE not in target.reason:
        return False
    before = text[text.rfind("\n", 0, target.start) + 1: target.start].rstrip()
    return not any(before.endswith(t) and (not t[0].isalpha() or not before[:-len(t)][-1:].isalnum())
                   for t in _TERM_ONLY_BEFORE)


def _lean_target(text: str, header: str, tok: Token, owner: _LeanDecl, view: LeanView | None = None) -> Target:
    decl, cmd = owner.decl, owner.cmd
    chunk = text[decl.start: decl.end]

    def lean_role(t: Token) -> SorryRole | None:
        return view.role(chunk, t.start - decl.start) if view is not None else None
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
    decl_indent = line_indent(text, decl.keyword_start)

    if lean_role(tok) is SorryRole.ABSENT:
        return _unsupported(Language.LEAN4, tok, decl, _LEAN_ABSENT)
    # Whole proof: `:= sorry` or `:= by sorry`.
    if [t.text for t in body] in (["sorry"], ["by", "sorry"]):
        if suffix_note:
            return _unsupported(Language.LEAN4, tok, decl, suffix_note)
        statement = text[decl.start: tok.end]
        theorem = _lean_theorem(text, header, decl, statement)
        if tok.first_on_line:
            insertion = Insertion(tok.start, tok.end, line_indent(text, tok.start), newline, True, "")
        elif body[0].text == "by":
            insertion = Insertion(tok.start, tok.end, decl_indent + "  ", newline, False, "",
                                  block_start=blank_start(text, tok.start))
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

    def tactic_position(t: Token) -> bool:
        """Lean's answer where it has one; else the scanner's reading of the layout."""
        role = lean_role(t)
        if role is not None:
            return role is SorryRole.TACTIC
        return _lean_tactic_position(body, position[t.start])

    is_last = len(last) == 1 and last[0].start == tok.start and tok.first_on_line
    if is_last and lean_role(tok) is SorryRole.TERM:
        return _unsupported(Language.LEAN4, tok, decl, _LEAN_TERM)
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
        if not (is_last or tactic_position(tok)):
            if lean_role(tok) is not None:
                return _unsupported(Language.LEAN4, tok, decl, _LEAN_TERM + "; " + _TACTIC_POSITION_ADVICE)
            return _unsupported(Language.LEAN4, tok, decl, f"{why}; " + _TACTIC_POSITION_ADVICE)
        term = next((t for t in others if not tactic_position(t)), None)
        if term is not None:
            return _unsupported(Language.LEAN4, tok, decl,
                                f"{why}; the proof has another sorry, at line {term.line}, that stands for a term: "
                                + _SIBLING_ADVICE)
        statement = text[decl.start: assign_tok.end] + " by sorry"
        theorem = _lean_theorem(text, header, decl, statement)
        # Further tactics go on new lines at the `sorry`'s own column: where Lean's tactic block (the
        # `by`, the bullet, or the enclosing block of a `sorry` line) expects its next tactic.
        single = position[tok.start] > 0 and body[position[tok.start] - 1].text in ("<;>", "|")
        insertion = Insertion(tok.start, tok.end, " " * tok.column, newline, True, "", single_tactic=single)
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
    prefix = tuple(step_text(text, item[0].start, item[-1].end, column) for item in items[:-1])
    statement = text[decl.start: assign_tok.end] + " by sorry"
    theorem = _lean_theorem(text, header, decl, statement)
    insertion = Insertion(tok.start, tok.end, line_indent(text, tok.start), newline, True, "")
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
    inner_by = _by_inside(body, opener, k) if opener is not None else None
    if opener is not None and inner_by is None and not _tactic_bracket(body, opener, depth):
        return False
    prev = body[k - 1]
    if opener is not None and opener == k - 1:
        return _tactic_bracket(body, opener, depth)  # the first tactic of a tactic block
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
    floor = inner_by if inner_by is not None else (opener if opener is not None else -1)
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
    if inner_by is not None:
        return False
    return opener is not None and body[opener].line < tok.line and _first_in_block(body, opener, k)


def _by_inside(body: list[Token], opener: int, k: int) -> int | None:
    """The `by` whose tactic block holds `body[k]`, between a bracket `body[opener]` and `body[k]` at
    that bracket's own depth (as in `⟨x, by\n    cases h with ...`): on `body[k]`'s line, or on an
    earlier line whose first token stands left of `body[k]` (a `by` block's later lines are indented
    past the line it starts on). A `,` at that depth ends the term the `by` began."""
    tok = body[k]
    found = None
    depth = 0
    for j in range(opener + 1, k):
        text = body[j].text
        if body[j].kind is Kind.SYMBOL and text in _OPENERS:
            depth += 1
        elif body[j].kind is Kind.SYMBOL and text in _CLOSERS:
            depth = max(0, depth - 1)
        elif depth == 0 and text == "," and found is not None:
            found = None
        elif depth == 0 and text == "by":
            if body[j].line == tok.line or tok.column > body[_line_head(body, j)].column:
                found = j
    return found


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
        owner = next((i for i in range(j, bar) if body[i].line == head.line
                      and body[i].text in _TACTIC_ALTERNATIVE_HEADS), None)
        if owner is None:
            return False
        # `induction n with`, `· cases h with`, `<;> cases k with`, `by cases k with`: the owning
        # tactic must itself stand where a tactic goes (a term-mode `match` does not).
        return _lean_tactic_position(body, owner, depth + 1) or (owner > 0 and body[owner - 1].text == "by")
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
    elif decl.name is not None and has_unsafe_name(decl.name):
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



__all__ = ["lean_may_decide", "locate_lean"]
