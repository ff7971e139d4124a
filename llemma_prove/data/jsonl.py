"""Reading JSONL input files row by row, with errors that name the file and line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from ..errors import DataError


@dataclass(frozen=True)
class JsonRow:
    lineno: int
    where: str  # "FILE:LINE", the prefix of every error about this row
    data: dict[str, Any]


def json_rows(lines: Iterable[str], origin: str) -> Iterator[JsonRow]:
    """The JSON objects of a JSONL text, skipping blank lines; DataError for anything else."""
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{origin}:{lineno}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(data).__name__}")
        yield JsonRow(lineno, where, data)


class UniqueNames:
    """Refuses a name seen on an earlier line of the same file."""

    def __init__(self, what: str = "theorem name") -> None:
        self.what = what
        self._first: dict[str, int] = {}

    def add(self, name: str, row: JsonRow) -> None:
        if name in self._first:
            raise DataError(f"{row.where}: duplicate {self.what} '{name}' (first on line {self._first[name]})")
        self._first[name] = row.lineno
