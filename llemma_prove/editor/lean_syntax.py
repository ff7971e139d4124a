"""A lexical scanner for Lean 4 source: enough to find commands, declarations and `sorry` tokens.

Lean is not available where this runs, so this is not a parser. It knows what changes the meaning of
characters (line and nested block comments, docstrings, strings, char literals, `«quoted»` names)
and Lean's rules for identifiers (Greek and letter-like symbols, subscripts, `'`, `!`, `?`), and it
records for every token its line and its column in code points, as Lean itself counts them. The
declaration structure on top of it lives in `targets.py`.
"""

from __future__ import annotations

import bisect
import enum
import re
from dataclasses import dataclass

from ..textscan import skip_nested


class Kind(str, enum.Enum):
    IDENT = "ident"
    SYMBOL = "symbol"
    STRING = "string"
    CHAR = "char"
    NUMBER = "number"
    COMMENT = "comment"  # `-- ...` and `/- ... -/`
    DOC = "doc"  # `/-- ... -/` (declaration docstring) and `/-! ... -/` (module doc)


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    start: int  # offset in code points
    end: int
    line: int  # 1-based
    column: int  # 0-based, in code points (Lean's convention, as in REPL `pos`)
    first_on_line: bool = False  # no other non-comment token before it on its line

    @property
    def significant(self) -> bool:
        return self.kind is not Kind.COMMENT


class LeanSyntaxError(ValueError):
    """Text that the scanner cannot cut (an unterminated comment or string)."""


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
    # well is a superset that changes nothing for text Lean accepts.
    return c == "_" or c.isalpha() or _letter_like(c)


def is_ident_rest(c: str) -> bool:
    return is_ident_first(c) or "0" <= c <= "9" or c in "'!?" or _subscript(c)


_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
)
_CHAR = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)|[^'\\\n])'")
_MULTI_SYMBOLS = (":=", "<;>", "=>", "..", "@[", "''")


class LineIndex:
    """Offsets <-> (line, column) for one text; lines end at `\\n` as in Lean."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and 0-based code-point column of `offset`."""
        k = bisect.bisect_right(self.starts, offset) - 1
        return k + 1, offset - self.starts[k]

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column

    def line_text(self, line: int) -> str:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return self.text[start:end]


def _scan_block_comment(text: str, i: int) -> int:
    j = skip_nested(text, i, "/-", "-/")
    if j < 0:
        raise LeanSyntaxError(f"unterminated comment starting at offset {i}")
    return j


def _scan_string(text: str, i: int) -> int:
    j, n = i + 1, len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        j += 1
    raise LeanSyntaxError(f"unterminated string starting at offset {i}")


def _scan_raw_string(text: str, i: int) -> int | None:
    """`r"..."` or `r#"..."#` starting at `i` (the `r`); None when it is not one."""
    j = i + 1
    hashes = 0
    while j < len(text) and text[j] == "#":
        hashes += 1
        j += 1
    if j >= len(text) or text[j] != '"':
        return None
    close = '"' + "#" * hashes
    end = text.find(close, j + 1)
    if end < 0:
        raise LeanSyntaxError(f"unterminated raw string starting at offset {i}")
    return end + len(close)


def _scan_ident(text: str, i: int) -> int | None:
    """A dotted identifier with plain and `«quoted»` parts starting at `i`; None if none starts there."""
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


def tokenize(text: str) -> list[Token]:
    """All tokens of `text` (comments included, whitespace dropped), in order."""
    index = LineIndex(text)
    raw: list[tuple[Kind, int, int]] = []
    i, n = 0, len(text)
    prev_end_ident = False
    while i < n:
        c = text[i]
        if c.isspace() or c == "\ufeff":
            i += 1
            prev_end_ident = False
            continue
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            raw.append((Kind.COMMENT, i, j))
            i = j
        elif text.startswith("/-", i):
            j = _scan_block_comment(text, i)
            kind = Kind.DOC if text.startswith(("/--", "/-!"), i) and not text.startswith("/--/", i) else Kind.COMMENT
            raw.append((kind, i, j))
            i = j
        elif c == '"':
            j = _scan_string(text, i)
            raw.append((Kind.STRING, i, j))
            i = j
        elif c == "r" and i + 1 < n and text[i + 1] in '"#' and (j := _scan_raw_string(text, i)) is not None:
            raw.append((Kind.STRING, i, j))
            i = j
        elif c == "'" and not prev_end_ident and not text.startswith("''", i) and (m := _CHAR.match(text, i)):
            raw.append((Kind.CHAR, i, m.end()))
            i = m.end()
        elif c == "#" and i + 1 < n and is_ident_first(text[i + 1]):
            j = _scan_ident(text, i + 1) or i + 1
            raw.append((Kind.SYMBOL, i, j))  # `#check`, `#eval`, `#guard_msgs`, ...
            i = j
        elif "0" <= c <= "9":
            m = _NUMBER.match(text, i)
            j = m.end() if m else i + 1
            raw.append((Kind.NUMBER, i, j))
            i = j
        elif (j := _scan_ident(text, i)) is not None:
            raw.append((Kind.IDENT, i, j))
            i = j
            prev_end_ident = True
            continue
        else:
            for sym in _MULTI_SYMBOLS:
                if text.startswith(sym, i):
                    j = i + len(sym)
                    break
            else:
                j = i + 1
            raw.append((Kind.SYMBOL, i, j))
            i = j
        prev_end_ident = text[i - 1] in ")]}⟩" if i > 0 else False
    tokens: list[Token] = []
    last_line = 0
    for kind, start, end in raw:
        line, column = index.position(start)
        first = False
        if kind is not Kind.COMMENT and line != last_line:
            first = True
            last_line = line
        tokens.append(Token(kind, text[start:end], start, end, line, column, first))
    return tokens


OPEN_BRACKETS = {"(": ")", "[": "]", "{": "}", "⟨": "⟩", "⦃": "⦄", "⟦": "⟧", "@[": "]", "‹": "›"}
CLOSE_BRACKETS = frozenset(OPEN_BRACKETS.values())


def bracket_depths(tokens: list[Token]) -> list[int]:
    """Bracket depth before each token (never below zero, so a stray closer cannot derail the rest)."""
    depths: list[int] = []
    depth = 0
    for tok in tokens:
        depths.append(depth)
        if tok.kind is Kind.SYMBOL:
            if tok.text in OPEN_BRACKETS:
                depth += 1
            elif tok.text in CLOSE_BRACKETS and depth > 0:
                depth -= 1
    return depths
