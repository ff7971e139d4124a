"""A lexical scanner for Lean 4 source: enough to find commands, declarations and `sorry` tokens.

Lean is not available where this runs, so this is not a parser. It knows what changes the meaning of
characters (line and nested block comments, docstrings, strings, char literals, `«quoted»` names)
and Lean's rules for identifiers (Greek and letter-like symbols, subscripts, `'`, `!`, `?`), and it
records for every token its line and its column in code points, as Lean itself counts them. The
declaration structure on top of it lives in `targets.py`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# Identifier characters and the scanners for comments, strings, raw strings and names follow Lean's
# rules; one copy, shared with the soundness filter in `provers/lean/lexer.py`.
from ..provers.lean.lexer import (  # noqa: F401  (Kind is re-exported: the token kinds are the lexer's)
    Kind,
    LeanSyntaxError,
    is_ident_first,
    is_ident_rest,
    raw_string_start,
    scan_block_comment,
    scan_ident,
    scan_raw_string,
    scan_string,
)

__all__ = ["Kind", "LeanSyntaxError", "LineIndex", "Token", "bracket_depths", "is_ident_first", "is_ident_rest",
           "tokenize"]


@dataclass(frozen=True)
class Token:
    """The editor's token: like the lexer's, but always placed (line, column) and with docstrings
    significant, since declarations are found through them. This scanner never makes `Kind.NAME`."""

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

    def checked_offset(self, line: int, column: int) -> int | None:
        """The offset of a position Lean reported, or None if it lies outside the text (or its line)."""
        if not 1 <= line <= len(self.starts) or column < 0:
            return None
        at = self.starts[line - 1] + column
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return at if at <= end else None

    def line_text(self, line: int) -> str:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return self.text[start:end]


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
            j = scan_block_comment(text, i)
            kind = Kind.DOC if text.startswith(("/--", "/-!"), i) and not text.startswith("/--/", i) else Kind.COMMENT
            raw.append((kind, i, j))
            i = j
        elif c == '"':
            j = scan_string(text, i)
            raw.append((Kind.STRING, i, j))
            i = j
        elif c == "r" and raw_string_start(text, i):
            j = scan_raw_string(text, i)
            raw.append((Kind.STRING, i, j))
            i = j
        elif c == "'" and not prev_end_ident and not text.startswith("''", i) and (m := _CHAR.match(text, i)):
            raw.append((Kind.CHAR, i, m.end()))
            i = m.end()
        elif c == "#" and i + 1 < n and is_ident_first(text[i + 1]):
            j = scan_ident(text, i + 1) or i + 1
            raw.append((Kind.SYMBOL, i, j))  # `#check`, `#eval`, `#guard_msgs`, ...
            i = j
        elif "0" <= c <= "9":
            m = _NUMBER.match(text, i)
            j = m.end() if m else i + 1
            raw.append((Kind.NUMBER, i, j))
            i = j
        elif (j := scan_ident(text, i)) is not None:
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
