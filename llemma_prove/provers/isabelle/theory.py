"""Isabelle theory text: a small outer-syntax scanner, theory splitting, rendering, forbidden words.

Isabelle itself is not available where this runs, so this is a lexical scanner, not a parser: it
knows comments `(* *)` (nested), strings `"..."`, alt strings `` `...` ``, cartouches
(`\\<open>...\\<close>` and `‹...›`, nested) and verbatim `{* *}`; everything else is words and
symbols. That is enough to cut a theory into header / preamble / statement / proof and to find
words such as `sorry` that must never reach a reported proof.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from ...textscan import skip_nested
from ...types import Proof, Theorem

OPEN_CARTOUCHES = ("\\<open>", "‹")
CLOSE_CARTOUCHES = ("\\<close>", "›")


class TokenKind(str, enum.Enum):
    WORD = "word"
    COMMENT = "comment"
    STRING = "string"
    CARTOUCHE = "cartouche"
    VERBATIM = "verbatim"
    SPACE = "space"
    SYMBOL = "symbol"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    end: int


class TheorySyntaxError(ValueError):
    """The text is not a theory this scanner can cut (unterminated comment, no `begin`, ...)."""


_WORD = re.compile(r"[A-Za-z0-9_'.?]+|\\<[A-Za-z_]+>")


def _match_cartouche(text: str, i: int) -> int:
    depth = 0
    n = len(text)
    while i < n:
        for opener in OPEN_CARTOUCHES:
            if text.startswith(opener, i):
                depth += 1
                i += len(opener)
                break
        else:
            for closer in CLOSE_CARTOUCHES:
                if text.startswith(closer, i):
                    depth -= 1
                    i += len(closer)
                    if depth == 0:
                        return i
                    break
            else:
                i += 1
    raise TheorySyntaxError("unterminated cartouche")


def tokens(text: str) -> list[Token]:
    """Outer-syntax tokens of `text`, covering it completely and in order."""
    out: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if text.startswith("(*", i):
            j = skip_nested(text, i, "(*", "*)")
            if j < 0:
                raise TheorySyntaxError(f"unterminated comment starting at offset {i}")
            out.append(Token(TokenKind.COMMENT, text[i:j], i, j))
            i = j
        elif c in "\"`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise TheorySyntaxError(f"unterminated string starting at offset {i}")
            out.append(Token(TokenKind.STRING, text[i : j + 1], i, j + 1))
            i = j + 1
        elif any(text.startswith(o, i) for o in OPEN_CARTOUCHES):
            j = _match_cartouche(text, i)
            out.append(Token(TokenKind.CARTOUCHE, text[i:j], i, j))
            i = j
        elif text.startswith("{*", i):
            j = text.find("*}", i + 2)
            if j < 0:
                raise TheorySyntaxError(f"unterminated verbatim text starting at offset {i}")
            out.append(Token(TokenKind.VERBATIM, text[i : j + 2], i, j + 2))
            i = j + 2
        elif c.isspace():
            j = i
            while j < n and text[j].isspace():
                j += 1
            out.append(Token(TokenKind.SPACE, text[i:j], i, j))
            i = j
        else:
            m = _WORD.match(text, i)
            if m:
                out.append(Token(TokenKind.WORD, m.group(0), i, m.end()))
                i = m.end()
            else:
                out.append(Token(TokenKind.SYMBOL, c, i, i + 1))
                i += 1
    return out


def _significant(toks: list[Token]) -> list[Token]:
    return [t for t in toks if t.kind not in (TokenKind.SPACE, TokenKind.COMMENT)]


# Words that open or close a proof right after a statement: the statement ends before the first.
PROOF_OPENERS = frozenset(
    {"proof", "by", "apply", "apply_end", "sorry", "oops", "using", "unfolding", "including", "supply", ".", ".."}
)
THEOREM_KEYWORDS = frozenset({"theorem", "lemma", "corollary", "proposition", "schematic_goal"})


@dataclass(frozen=True)
class TheoryParts:
    """A theory cut at its seams. `header` is `theory NAME imports ... begin`."""

    theory_name: str
    imports: tuple[str, ...]
    header: str
    preamble: str
    statement: str
    proof: str


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] == '"' else word


def split_theory(text: str, theorem_name: str | None = None) -> TheoryParts:
    """Cut a `.thy` text into header, preamble (commands before the target), statement, proof.

    The target theorem is the one named `theorem_name` (default: the theory's own name, the miniF2F
    convention). Raises `TheorySyntaxError` when a piece cannot be found.
    """
    toks = _significant(tokens(text))
    idx = next((k for k, t in enumerate(toks) if t.kind is TokenKind.WORD and t.text == "theory"), None)
    if idx is None or idx + 1 >= len(toks):
        raise TheorySyntaxError("no `theory NAME` header")
    theory_name = _unquote(toks[idx + 1].text)
    begin = next(
        (k for k in range(idx + 2, len(toks)) if toks[k].kind is TokenKind.WORD and toks[k].text == "begin"), None
    )
    if begin is None:
        raise TheorySyntaxError("theory header has no `begin`")
    imports: list[str] = []
    in_imports = False
    for tok in toks[idx + 2 : begin]:
        if tok.kind is TokenKind.WORD and tok.text in ("keywords", "abbrevs"):
            in_imports = False
        elif tok.kind is TokenKind.WORD and tok.text == "imports":
            in_imports = True
        elif in_imports and tok.kind in (TokenKind.WORD, TokenKind.STRING):
            imports.append(_unquote(tok.text))
    header = text[toks[idx].start : toks[begin].end]
    target = theorem_name or theory_name

    stmt = None
    for k in range(begin + 1, len(toks) - 1):
        tok = toks[k]
        if tok.kind is TokenKind.WORD and tok.text in THEOREM_KEYWORDS:
            name_tok = toks[k + 1]
            if name_tok.kind is TokenKind.WORD and name_tok.text == target:
                stmt = k
                break
    if stmt is None:
        raise TheorySyntaxError(f"no `theorem {target}` in theory {theory_name}")
    stop = next(
        (k for k in range(stmt + 2, len(toks)) if toks[k].kind in (TokenKind.WORD, TokenKind.SYMBOL)
         and (toks[k].text in PROOF_OPENERS or toks[k].text in THEOREM_KEYWORDS or toks[k].text == "end")),
        None,
    )
    if stop is None:
        raise TheorySyntaxError(f"statement of {target} runs to the end of the file")
    stmt_end = toks[stop - 1].end
    end_idx = max(
        (k for k in range(stop, len(toks)) if toks[k].kind is TokenKind.WORD and toks[k].text == "end"),
        default=None,
    )
    proof_end = toks[end_idx].start if end_idx is not None else len(text)
    return TheoryParts(
        theory_name=theory_name,
        imports=tuple(imports),
        header=header,
        preamble=text[toks[begin].end : toks[stmt].start].strip(),
        statement=text[toks[stmt].start : stmt_end],
        proof=text[toks[stop].start : proof_end].strip(),
    )


def header_theory_name(header: str) -> str | None:
    """NAME in `theory NAME imports ... begin` (the file a whole-theory check must be written to)."""
    try:
        toks = _significant(tokens(header))
    except TheorySyntaxError:
        return None
    for k, tok in enumerate(toks[:-1]):
        if tok.kind is TokenKind.WORD and tok.text == "theory":
            return _unquote(toks[k + 1].text)
    return None


# Isar commands that can occur inside a proof (each is one transition, with its own PISA time limit).
PROOF_COMMANDS = frozenset({
    "apply", "apply_end", "by", "done", "proof", "qed", "next", "have", "show", "hence", "thus", "obtain",
    "from", "with", "using", "unfolding", "including", "supply", "note", "let", "fix", "assume", "presume",
    "define", "consider", "case", "then", "also", "finally", "moreover", "ultimately", "interpret",
    "sorry", "oops", "defer", "prefer", "subgoal", "guess", "write", "print_state", ".", "..",
})


def command_count(step: str) -> int:
    """An upper bound on the Isar commands in `step` (for deadlines; Isabelle's parser decides)."""
    try:
        toks = _significant(tokens(step))
    except TheorySyntaxError:
        return 1
    return max(1, sum(1 for t in toks if t.kind in (TokenKind.WORD, TokenKind.SYMBOL) and t.text in PROOF_COMMANDS))


def statement_name(theorem: Theorem) -> str:
    """The fact name the statement declares (`theorem NAME: ...`), else the theorem's own name."""
    try:
        toks = _significant(tokens(theorem.statement))
    except TheorySyntaxError:
        return theorem.name
    for tok, nxt in zip(toks, toks[1:]):
        if tok.kind is TokenKind.WORD and tok.text in THEOREM_KEYWORDS and nxt.kind is TokenKind.WORD:
            return _unquote(nxt.text)
    return theorem.name


def proof_text(proof: Proof) -> str:
    """The proof steps as Isabelle source, one step per line."""
    return "\n".join(step.strip() for step in proof.tactics if step.strip())


def statement_text(theorem: Theorem) -> str:
    """Preamble plus statement: what runs on top of the header before the first proof step."""
    parts = [theorem.preamble.strip(), theorem.statement.strip()]
    return "\n\n".join(p for p in parts if p)


def render_theory(theorem: Theorem, proof: Proof | None = None, proof_source: str | None = None) -> str:
    """A complete `.thy` text: header, preamble, statement, proof (or `sorry` for none), `end`."""
    body = proof_source if proof_source is not None else (proof_text(proof) if proof is not None else "sorry")
    return f"{theorem.header.strip()}\n\n{statement_text(theorem)}\n{body}\n\nend\n"


# ---------------------------------------------------------------------------------------------
# Forbidden words

CHEATS = {
    "sorry": "`sorry` (PISA runs with quick_and_dirty, so it would be accepted)",
    "oops": "`oops` (abandons the theorem; PISA reports proof level 0)",
    "quick_and_dirty": "the quick_and_dirty option",
    "cheat_tac": "Skip_Proof.cheat_tac",
    "Skip_Proof": "Skip_Proof",
    "admit": "`admit`",
    "axiomatization": "a new axiom",
    "axioms": "a new axiom",
    "oracle": "an oracle",
    "ML": "Isabelle/ML code",
    "ML_prf": "Isabelle/ML code",
    "ML_val": "Isabelle/ML code",
    "ML_command": "Isabelle/ML code",
    "ML_file": "Isabelle/ML code",
    "SML_file": "Isabelle/ML code",
    "setup": "Isabelle/ML code",
    "local_setup": "Isabelle/ML code",
    "method_setup": "Isabelle/ML code",
    "attribute_setup": "Isabelle/ML code",
    "tactic": "an ML tactic",
    "raw_tactic": "an ML tactic",
    "declare": "a global declaration",
    # theory-level commands that take Isabelle/ML source (src/Pure/Pure.thy keywords; HOL's simprocs)
    "simproc_setup": "Isabelle/ML code",
    "declaration": "Isabelle/ML code",
    "syntax_declaration": "Isabelle/ML code",
    "parse_translation": "Isabelle/ML code",
    "print_translation": "Isabelle/ML code",
    "parse_ast_translation": "Isabelle/ML code",
    "print_ast_translation": "Isabelle/ML code",
    "typed_print_translation": "Isabelle/ML code",
    "code_reflect": "Isabelle/ML code",
    "compile_generated_files": "Isabelle/ML code",  # src/Pure/Tools/generated_files.ML: `where` ML
    "generate_file": "generated source files",
    "export_generated_files": "generated source files",
    # target-language text that `value`/`eval` compile and run inside Isabelle (src/Tools/Code/code_target.ML)
    "code_printing": "target-language code run by evaluation",
    "\\<proof>": "the `\\<proof>` placeholder",
}
HAMMER_WORDS = frozenset({"normalhammer", "sledgehammer"})
PISA_MARKERS = (
    "<apply to top level state>",
    "<allow more time>",
    "<clone>",
    "<delete>",
    "<is finished>",
    "<get state>",
    "<initialise>",
    "<parse text>",
    "<hammer>",
    "<SEP>",
)


def _words(text: str) -> list[str]:
    found: list[str] = []
    for tok in tokens(text):
        if tok.kind is TokenKind.COMMENT:
            continue
        if tok.kind is TokenKind.WORD:
            found.append(tok.text)
            found.extend(part for part in tok.text.split(".") if part)
        elif tok.kind in (TokenKind.STRING, TokenKind.CARTOUCHE, TokenKind.VERBATIM):
            inner = tok.text[1:-1] if tok.kind is TokenKind.STRING else tok.text
            for m in _WORD.finditer(inner):
                found.append(m.group(0))
                found.extend(part for part in m.group(0).split(".") if part)
    return found


# Control symbols that only shape identifiers (sub/superscripts, bold): every other `\<^name>` is
# the short form of an antiquotation (`\<^ML_type>\<open>...\<close>`, src/Pure/General/antiquote.ML).
SCRIPT_CONTROLS = frozenset({"sub", "sup", "isub", "isup", "bsub", "esub", "bsup", "esup", "bold"})
_CONTROL = re.compile(r"\\<\^([A-Za-z_]+)>")
# Any word that names Isabelle/ML: the commands (ML, ML_prf, ML_val, ML_file, SML_file, ...) and the
# document antiquotations that compile and *run* ML (`@{ML}`, `@{ML_op}`, `@{ML_type}`,
# `@{ML_structure}`, `@{ML_functor}`, `@{ML_exception}`: Isabelle2022
# src/Pure/Thy/document_antiquotations.ML `ml_text`, which wraps the text in
# `val _ = NONE : (` ... `) option;` and evaluates it, so `int) option; <any ML>; val _ = NONE : (int`
# runs any ML at all).
_ML_WORD = re.compile(r"^S?ML(_|$)")


def _outer_non_ascii(toks: list[Token]) -> str | None:
    """A non-ASCII character outside strings, cartouches and comments (PIDE decodes Unicode text into
    Isabelle symbols when it reads a file, Isabelle2022 src/Pure/General/symbol.scala `decode`, PISA
    does not: the two would read different commands)."""
    for tok in toks:
        if tok.kind in (TokenKind.WORD, TokenKind.SYMBOL):
            for ch in tok.text:
                if ord(ch) > 127:
                    return ch
    return None


def forbidden_reason(text: str, allow_hammer: bool = False) -> str | None:
    """Why `text` (a proof or a step) must not count as a proof, or None when it may.

    Words are looked up everywhere except comments, including inside strings and cartouches
    (`by (tactic \\<open>Skip_Proof.cheat_tac ...\\<close>)` hides a cheat in a cartouche). No route
    to Isabelle/ML may pass: once the model's ML runs, it runs inside the checker and can rewrite
    what the checker prints (`Private_Output.writeln_fn`), so no later layer could be trusted.
    Document antiquotations (`@{...}`, `\\<^name>`) are refused everywhere: PIDE evaluates them in
    `txt`/`text` and in formal comments (`\\<comment>`, Isabelle2022 src/Pure/PIDE/command.ML
    `check_span_comments`), and some of them run ML.
    """
    for marker in PISA_MARKERS:
        if marker in text:
            return f"contains the PISA control marker {marker!r}"
    try:
        toks = tokens(text)
        words = _words(text)
    except TheorySyntaxError as exc:
        return f"cannot be scanned: {exc}"
    for word in words:
        if word in CHEATS:
            return f"uses {CHEATS[word]}"
        if _ML_WORD.match(word):
            return f"uses Isabelle/ML (`{word}`)"
        if not allow_hammer and word in HAMMER_WORDS:
            return f"still contains an unresolved hammer call `{word}`"
    visible = "".join(t.text for t in toks if t.kind is not TokenKind.COMMENT)
    if "@{" in visible:
        return "contains a document antiquotation `@{...}` (antiquotations can run Isabelle/ML)"
    for match in _CONTROL.finditer(visible):
        if match.group(1) not in SCRIPT_CONTROLS:
            return f"contains the antiquotation `\\<^{match.group(1)}>` (antiquotations can run Isabelle/ML)"
    odd = _outer_non_ascii(toks)
    if odd is not None:
        return f"contains the non-ASCII character {odd!r} outside strings and cartouches"
    return None


def normalise_space(text: str) -> str:
    return " ".join(text.split())
