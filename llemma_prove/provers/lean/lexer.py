"""A lexer for Lean 4 source that cuts text where Lean cuts it, and the text filter built on it.

Why: a filter that reads text differently from Lean can be steered. `'"'` is one character literal to
Lean but opens a string for a naive scanner, which then hides everything after it; `r#"-/"#` is a raw
string, not a comment closer; `debug.«skipKernelTC»` and `«debug».skipKernelTC` are the same option
name as `debug.skipKernelTC`. So every rule here is taken from Lean's own token function,
`Lean.Parser.Basic` (`tokenFnAux`, `identFnAux`, `strLitFnAux`, `rawStrLitFnAux`, `charLitFnAux`,
`quotedCharCoreFn`, `finishCommentBlock`, `whitespace`), and `Lean.Parser.StrInterpolation`
(`interpolatedStrFn`) at the pinned toolchain v4.24.0:

- `--` starts a comment to the end of the line; `/-` a block comment that nests (`/-` ... `-/`).
- a token starting with `"` is a string literal (escapes `\\\\ \\" \\' \\n \\t \\r \\xHH \\uHHHH`, and a `\\`
  followed by a newline, a "gap"); `r"..."` / `r#"..."#` (any number of `#`) a raw string, recognised
  only where a token starts (`for"` is the identifier `for` and then a string);
- a token starting with `'` not followed by another `'` is a character literal: exactly one
  character (or one escape), then `'`; anything else is a Lean parse error;
- identifiers are dotted parts, each plain (`isIdFirst isIdRest*`) or `«escaped»`; the name they
  denote drops the guillemets, so `«debug».skipKernelTC` names `debug.skipKernelTC`;
- `` `name `` and ``` ``name ``` are name literals, `` `( `` starts a syntax quotation;
- `s!"..."` and the other interpolated strings contain terms in `{...}` that may hold strings of their
  own: such a string is scanned by the interpolation rules, and text that a plain scan and an
  interpolated scan cut differently is refused as ambiguous.

Text Lean would refuse to lex (an unterminated comment, string or `«name»`, a malformed character
literal) is refused here too: it never reaches Lean. The filter is only the fast first layer of the
final check (see `final_check.py`); the kernel layers decide.
"""

from __future__ import annotations

import bisect
import enum
import re
from dataclasses import dataclass

from ...textscan import skip_nested


class Kind(str, enum.Enum):
    IDENT = "ident"
    SYMBOL = "symbol"
    STRING = "string"
    CHAR = "char"
    NUMBER = "number"
    NAME = "name"  # `name literal
    COMMENT = "comment"  # `-- ...` and `/- ... -/`
    DOC = "doc"  # `/-- ... -/` (declaration docstring) and `/-! ... -/` (module doc)


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    start: int  # offset in code points
    end: int
    line: int = 0  # 1-based (filled by `tokenize`)
    column: int = 0  # 0-based, in code points (Lean's convention, as in REPL `pos`)
    first_on_line: bool = False  # no other non-comment token before it on its line

    @property
    def significant(self) -> bool:
        return self.kind not in (Kind.COMMENT, Kind.DOC)

    @property
    def name(self) -> str:
        """For an identifier or name literal: the name it denotes (guillemets dropped)."""
        text = self.text.lstrip("`") if self.kind is Kind.NAME else self.text
        return ".".join(ident_parts(text))

    @property
    def escaped(self) -> bool:
        return "«" in self.text


class LeanSyntaxError(ValueError):
    """Text that Lean itself cannot lex (an unterminated comment or string, a bad character literal)."""


# Lean 4 `isLetterLike`: Greek (without λ Π Σ), Coptic, polytonic Greek, letter-like symbols, script
# letters; `isSubScriptAlnum`: subscript digits and letters.
def _letter_like(c: str) -> bool:
    o = ord(c)
    return (
        (0x3B1 <= o <= 0x3C9 and o != 0x3BB)
        or (0x391 <= o <= 0x3A9 and o not in (0x3A0, 0x3A3))
        or (0x3CA <= o <= 0x3FB)
        or (0x1F00 <= o <= 0x1FFE)
        or (0x2100 <= o <= 0x214F)
        or (0x1D49C <= o <= 0x1D59F)
    )


def _subscript(c: str) -> bool:
    o = ord(c)
    return 0x2080 <= o <= 0x2089 or 0x2090 <= o <= 0x209C or 0x1D62 <= o <= 0x1D6A or o == 0x2C7C


_NOT_IDENT = frozenset("λΠΣ")


def is_ident_first(c: str) -> bool:
    if c in _NOT_IDENT:
        return False
    # Lean accepts only ASCII letters plus the letter-like ranges; accepting every Unicode letter as
    # well is a superset that changes nothing for text Lean accepts (Lean refuses the rest).
    return c == "_" or c.isalpha() or _letter_like(c)


def is_ident_rest(c: str) -> bool:
    return is_ident_first(c) or "0" <= c <= "9" or c in "'!?" or _subscript(c)


_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
)
_HEX = "0123456789abcdefABCDEF"
# `quotedCharCoreFn` with `isQuotableCharDefault`: \\ \" \' \r \n \t, then \xHH and \uHHHH.
_QUOTABLE = frozenset("\\\"'rnt")
# Multi-character symbols the filter needs whole. Tokens of the token table that contain `'` must be
# here: Lean's `tokenFnAux` reads a `'` at the start of a token as a character literal, so `⁻¹'`
# (Set.preimage), `''` (Set.image), `∑'` and `∏'` (tsum, tprod) are only tokens because they start
# with another character and the token table's longest match takes the `'` along.
_MULTI_SYMBOLS = ("⁻¹'", "∑'", "∏'", "''", ":=", "<;>", "=>", "..", "@[", "`(", "``(")


def ident_parts(text: str) -> list[str]:
    """The components of a dotted identifier, guillemets dropped: `«debug».skipKernelTC` -> [debug, skipKernelTC]."""
    parts: list[str] = []
    i, n = 0, len(text)
    current: list[str] = []
    while i < n:
        c = text[i]
        if c == "«":
            close = text.find("»", i + 1)
            close = n if close < 0 else close
            current.append(text[i + 1 : close])
            i = close + 1
        elif c == ".":
            parts.append("".join(current))
            current = []
            i += 1
        else:
            current.append(c)
            i += 1
    parts.append("".join(current))
    return parts


def canonical_name(text: str) -> str:
    """The name an identifier denotes, without a leading `_root_` (it only fixes where names resolve)."""
    parts = ident_parts(text.lstrip("`@"))
    while parts and parts[0] == "_root_":
        parts = parts[1:]
    return ".".join(parts)


def scan_block_comment(text: str, i: int) -> int:
    j = skip_nested(text, i, "/-", "-/")
    if j < 0:
        raise LeanSyntaxError(f"unterminated comment starting at offset {i}")
    return j


def _scan_escape(text: str, j: int) -> int:
    """Just past the escape that starts at `text[j] == '\\\\'` (`quotedCharCoreFn`)."""
    n = len(text)
    if j + 1 >= n:
        raise LeanSyntaxError(f"unterminated escape at offset {j}")
    c = text[j + 1]
    if c in _QUOTABLE:
        return j + 2
    if c == "x" and len(text[j + 2 : j + 4]) == 2 and all(ch in _HEX for ch in text[j + 2 : j + 4]):
        return j + 4
    if c == "u" and len(text[j + 2 : j + 6]) == 4 and all(ch in _HEX for ch in text[j + 2 : j + 6]):
        return j + 6
    raise LeanSyntaxError(f"invalid escape sequence at offset {j}")


def scan_string(text: str, i: int) -> int:
    """Just past the string literal starting at `text[i] == '"'` (`strLitFnAux`, with string gaps)."""
    j, n = i + 1, len(text)
    while j < n:
        c = text[j]
        if c == '"':
            return j + 1
        if c == "\\":
            if j + 1 < n and text[j + 1] == "\n":  # a string gap: backslash, newline, then blanks
                j += 2
                while j < n and text[j] in " \t\r\n":
                    j += 1
                continue
            j = _scan_escape(text, j)
            continue
        j += 1
    raise LeanSyntaxError(f"unterminated string starting at offset {i}")


def _scan_interpolated(text: str, i: int) -> int:
    """Just past the interpolated string starting at `text[i] == '"'` (`interpolatedStrFn`): text up to
    `{`, then a term (lexed with every rule here, so its strings and comments count) up to the matching
    `}`, and so on until the closing `"`."""
    j, n = i + 1, len(text)
    while j < n:
        c = text[j]
        if c == '"':
            return j + 1
        if c == "\\":
            j = _scan_escape(text, j)
            continue
        if c == "{":
            j = _skip_term(text, j + 1)
            continue
        j += 1
    raise LeanSyntaxError(f"unterminated interpolated string starting at offset {i}")


def _skip_term(text: str, i: int) -> int:
    """Just past the `}` that closes an interpolation opened before `i`."""
    depth = 0
    for token in _raw_tokens(text, i, stop_at_close=True):
        if token.kind is Kind.SYMBOL and token.text == "{":
            depth += 1
        elif token.kind is Kind.SYMBOL and token.text == "}":
            if depth == 0:
                return token.end
            depth -= 1
    raise LeanSyntaxError(f"unterminated interpolation starting at offset {i - 1}")


def raw_string_start(text: str, i: int) -> bool:
    """`isRawStrLitStart`: after `r`, any number of `#` and then `"`."""
    j = i + 1
    while j < len(text) and text[j] == "#":
        j += 1
    return j < len(text) and text[j] == '"'


def scan_raw_string(text: str, i: int) -> int:
    """`r"..."` or `r#"..."#` starting at `i` (the `r`): no escapes; ends at `"` and as many `#`."""
    j = i + 1
    hashes = 0
    while text[j] == "#":
        hashes += 1
        j += 1
    close = '"' + "#" * hashes
    end = text.find(close, j + 1)
    if end < 0:
        raise LeanSyntaxError(f"unterminated raw string starting at offset {i}")
    return end + len(close)


def _scan_char(text: str, i: int) -> int:
    """`charLitFnAux`: one character or one escape after `'`, then `'`."""
    n = len(text)
    j = i + 1
    if j >= n:
        raise LeanSyntaxError(f"unterminated character literal at offset {i}")
    j = _scan_escape(text, j) if text[j] == "\\" else j + 1
    if j >= n or text[j] != "'":
        raise LeanSyntaxError(f"missing end of character literal at offset {i}")
    return j + 1


def scan_ident(text: str, i: int) -> int | None:
    """A dotted identifier with plain and `«escaped»` parts starting at `i`; None if none starts there."""
    n = len(text)
    j = i
    while True:
        if j < n and text[j] == "«":
            close = text.find("»", j + 1)
            if close < 0:
                raise LeanSyntaxError(f"unterminated «name» starting at offset {j}")
            j = close + 1
        elif j < n and is_ident_first(text[j]):
            j += 1
            while j < n and is_ident_rest(text[j]):
                j += 1
        else:
            return None if j == i else j
        if j + 1 < n and text[j] == "." and (text[j + 1] == "«" or is_ident_first(text[j + 1])):
            j += 1
            continue
        return j


def _raw_tokens(text: str, i: int = 0, *, stop_at_close: bool = False):
    """Tokens from offset `i` (positions not filled in); with `stop_at_close`, the caller stops early."""
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace() or c == "\ufeff":
            i += 1
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            yield Token(Kind.COMMENT, text[i:j], i, j)
        elif text.startswith("/-", i):
            j = scan_block_comment(text, i)
            kind = Kind.DOC if text.startswith(("/--", "/-!"), i) and not text.startswith("/--/", i) else Kind.COMMENT
            yield Token(kind, text[i:j], i, j)
        elif c == '"':
            j = scan_string(text, i)
            # In an interpolated string (`s!"..."`, `m!"..."`, `throwError "..."`) a `{` opens a term that
            # may hold strings of its own. Where an interpolated reading is possible and ends elsewhere
            # than the plain one, the text is ambiguous to a filter: refused.
            if "{" in text[i:j]:
                try:
                    k = _scan_interpolated(text, i)
                except LeanSyntaxError:
                    k = j  # as interpolated text Lean would refuse it; as plain text it ends at j
                if k != j:
                    raise LeanSyntaxError(f"the string at offset {i} ends elsewhere when read as interpolated")
            yield Token(Kind.STRING, text[i:j], i, j)
        elif c == "r" and raw_string_start(text, i):
            j = scan_raw_string(text, i)
            yield Token(Kind.STRING, text[i:j], i, j)
        elif c == "'" and not text.startswith("''", i):
            j = _scan_char(text, i)
            yield Token(Kind.CHAR, text[i:j], i, j)
        elif c == "#" and i + 1 < n and is_ident_first(text[i + 1]):
            j = scan_ident(text, i + 1) or i + 1
            yield Token(Kind.SYMBOL, text[i:j], i, j)  # `#check`, `#eval`, `#guard_msgs`, ...
        elif "0" <= c <= "9":
            m = _NUMBER.match(text, i)
            j = m.end() if m else i + 1
            yield Token(Kind.NUMBER, text[i:j], i, j)
        elif c == "`" and i + 1 < n and (text[i + 1] in "«`" or is_ident_first(text[i + 1])):
            k = i + 2 if text[i + 1] == "`" else i + 1
            j = scan_ident(text, k)
            if j is None:  # ``( is a quotation of a term
                j = k + 1 if text.startswith("(", k) else k
                yield Token(Kind.SYMBOL, text[i:j], i, j)
            else:
                yield Token(Kind.NAME, text[i:j], i, j)
        elif (j := scan_ident(text, i)) is not None:
            yield Token(Kind.IDENT, text[i:j], i, j)
        else:
            for sym in _MULTI_SYMBOLS:
                if text.startswith(sym, i):
                    j = i + len(sym)
                    break
            else:
                j = i + 1
            yield Token(Kind.SYMBOL, text[i:j], i, j)
        i = j


def tokenize(text: str) -> list[Token]:
    """All tokens of `text` (comments included, whitespace dropped), in order, with line and column.

    Raises LeanSyntaxError where Lean itself could not lex the text.
    """
    starts = [0] + [k + 1 for k, c in enumerate(text) if c == "\n"]

    tokens: list[Token] = []
    last_line = 0
    for tok in _raw_tokens(text):
        k = bisect.bisect_right(starts, tok.start) - 1
        line, column = k + 1, tok.start - starts[k]
        first = False
        if tok.significant and line != last_line:
            first = True
            last_line = line
        tokens.append(Token(tok.kind, tok.text, tok.start, tok.end, line, column, first))
    return tokens


# ------------------------------------------------------------------------------------ the filter

# Command keywords: reserved words that never start a tactic. Met inside a proof, one ends the `by`
# block and starts a new command. `set_option ... in tac` and `open X in tac` are tactics (handled below).
COMMAND_KEYWORDS = frozenset({
    "theorem", "lemma", "def", "abbrev", "axiom", "axioms", "example", "instance", "structure", "class",
    "inductive", "coinductive", "opaque", "notation", "notation3", "infix", "infixl", "infixr", "prefix",
    "postfix", "macro", "macro_rules", "syntax", "elab", "elab_rules", "attribute", "namespace", "section",
    "end", "variable", "universe", "local", "scoped", "private", "protected", "noncomputable", "mutual",
    "deriving", "initialize", "builtin_initialize", "import", "export", "declare_syntax_cat",
    "add_decl_doc", "irreducible_def", "alias", "partial", "unsafe", "nonrec", "omit", "include",
    "register_option", "register_simp_attr", "declare_config_elab", "module", "public", "meta",
})
# Tactics and terms that run a metaprogram written in the proof.
METAPROGRAM_WORDS = frozenset({
    "run_tac", "run_cmd", "run_elab", "run_meta", "by_elab", "elab", "elab_rules", "macro", "macro_rules",
    "syntax", "declare_syntax_cat", "unsafe", "implemented_by", "extern", "native_decide",
})
# Any identifier with one of these components names the kernel, the environment, the compiler or an
# oracle: refused in every spelling (`debug.skipKernelTC`, `«debug».skipKernelTC`, `debug.«skipKernelTC»`).
FORBIDDEN_COMPONENTS = frozenset({
    "debug", "skipKernelTC", "trustCompiler", "ofReduceBool", "ofReduceNat", "reduceBool", "reduceNat",
    "addDecl", "addDeclCore", "addAndCompile", "modifyEnv", "setEnv", "replay", "replay'", "unsafeCast",
    "unsafeBaseIO", "unsafeIO", "unsafeEIO", "implemented_by", "extern", "Elab", "Kernel", "Environment",
    "Compiler", "sorryAx", "admitGoal", "mkSorry", "elabTerm", "evalTactic", "liftMetaM", "runMetaM",
    "MetaM", "TacticM", "TermElabM", "CommandElabM", "CoreM", "IO", "EIO", "BaseIO", "native_decide",
    "decide_native", "Native", "ofNative", "native",
})
SORRY_WORDS = frozenset({"sorry", "admit", "sorryAx"})
SEARCH_TACTICS = frozenset({"apply?", "exact?", "rw?", "hint", "says?", "aesop?", "simp?", "simp_all?",
                            "rw_search", "polyrith"})
# Options a proof may set with `set_option NAME VALUE in`: limits only, none that touches checking.
ALLOWED_OPTIONS = frozenset({
    "maxHeartbeats", "maxRecDepth", "synthInstance.maxHeartbeats", "synthInstance.maxSize",
    "exponentiation.threshold", "tactic.hygienic", "linarith.maxSteps", "pp.numericTypes",
    "pp.funBinderTypes", "pp.proofs", "pp.all", "simprocs",
})


@dataclass(frozen=True)
class FilterResult:
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.reasons


def filter_text(text: str, theorem_name: str | None = None, *, allow_sorry: bool = False) -> FilterResult:
    """Why the proof text (a tactic, or everything after the statement's `:=`) is refused; empty if not.

    `allow_sorry` lets a plain `sorry` through (a sketch's holes); every other rule still applies."""
    try:
        tokens = [t for t in tokenize(text) if t.significant]
    except LeanSyntaxError as exc:
        return FilterResult((f"the text does not lex as Lean does ({exc})",))
    reasons: list[str] = []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    for k, tok in enumerate(tokens):
        if tok.kind is Kind.SYMBOL:
            if tok.text.startswith("#") and len(tok.text) > 1:
                add(f"the proof contains the command `{tok.text}`")
            elif tok.text in ("@[",):
                add("the proof contains an attribute `@[...]` (a command could change what is checked)")
            elif tok.text.startswith("`"):
                add("the proof contains a syntax quotation (metaprogramming is not allowed)")
            continue
        if tok.kind not in (Kind.IDENT, Kind.NAME):
            continue
        name = canonical_name(tok.text)
        parts = name.split(".")
        plain = tok.kind is Kind.IDENT and not tok.escaped
        if allow_sorry and plain and tok.text == "sorry":
            continue
        if plain and tok.text in SORRY_WORDS or name in SORRY_WORDS or parts[-1] == "sorryAx":
            add(f"the proof uses `{tok.text}`")
            continue
        if plain and tok.text in SEARCH_TACTICS:
            add(f"the proof leaves a `{tok.text}` search in place")
            continue
        if plain and tok.text == "set_option":
            add_reason = _set_option_reason(tokens, k)
            if add_reason:
                add(add_reason)
            continue
        if plain and tok.text == "open":
            if not _followed_by_in(tokens, k):
                add("the proof contains the command `open` (only `open ... in` is a tactic)")
            continue
        if plain and tok.text == "scoped" and k > 0 and tokens[k - 1].text == "open":
            continue  # `open scoped X in tac` (the `open` itself was checked for its `in`)
        if plain and tok.text in COMMAND_KEYWORDS:
            add(f"the proof contains the command `{tok.text}` (a command could change what is checked)")
            continue
        if plain and tok.text in METAPROGRAM_WORDS:
            add(f"the proof uses `{tok.text}` (metaprogramming and oracles are not allowed)")
            continue
        bad = [p for p in parts if p in FORBIDDEN_COMPONENTS or any(s in p for s in ("skipKernelTC", "ofReduce"))]
        if bad:
            add(f"the proof names `{name}` (kernel, environment and compiler internals are not allowed)")
            continue
        if theorem_name and name == canonical_name(theorem_name):
            add(f"the proof refers to the theorem `{theorem_name}` itself")
    return FilterResult(tuple(reasons))


def _followed_by_in(tokens: list[Token], k: int) -> bool:
    """`open A B in` / `set_option x v in`: an `in` on the same line after the keyword."""
    line = tokens[k].line
    for tok in tokens[k + 1 :]:
        if tok.line != line:
            return False
        if tok.kind is Kind.IDENT and tok.text == "in":
            return True
        if tok.kind is Kind.IDENT and not tok.escaped and tok.text in COMMAND_KEYWORDS - {"scoped"} | {"set_option", "open"}:
            return False
    return False


def _set_option_reason(tokens: list[Token], k: int) -> str | None:
    if k + 1 >= len(tokens) or tokens[k + 1].kind is not Kind.IDENT:
        return "the proof contains a malformed `set_option`"
    option = canonical_name(tokens[k + 1].text)
    if option not in ALLOWED_OPTIONS:
        return f"the proof sets the option `{option}` (only limits such as maxHeartbeats may be set)"
    if not _followed_by_in(tokens, k):
        return "the proof contains the command `set_option` (only `set_option ... in` is a tactic)"
    return None
