"""Informal problems: the input of autoformalization, from a user's JSONL file or from miniF2F.

A line of the input file is a JSON object with `name` and `informal_statement` (required),
`informal_proof`, `formal_statement` (a reference statement), `header` and `split` (optional). Every
problem with a line is a `DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..data.jsonl import UniqueNames, json_rows
from ..errors import DataError
from ..types import Language, Theorem, problem_family

log = logging.getLogger(__name__)

OPTIONAL_FIELDS = ("informal_proof", "formal_statement", "header", "preamble", "split", "source")


@dataclass(frozen=True)
class InformalProblem:
    name: str
    informal_statement: str
    informal_proof: str | None = None
    formal_statement: str | None = None  # the reference statement, when one exists
    header: str = ""  # Lean: imports and options; Isabelle: `theory ... imports ... begin`
    preamble: str = ""  # commands between the header and the statement (auxiliary lemmas)
    split: str = ""
    source: str = ""

    @property
    def family(self) -> str:
        return problem_family(self.name)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def normalise_informal(text: str) -> str:
    """Case- and space-insensitive form of an informal statement, for leak checks."""
    return " ".join(text.lower().split())


def parse_problem(data: Any, where: str) -> InformalProblem:
    if not isinstance(data, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(data).__name__}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"{where}: field 'name' is missing or not a non-empty string")
    if not re.fullmatch(r"[A-Za-z0-9_'.\-]+", name):
        raise DataError(f"{where}: name {name!r} may hold only letters, digits, _ ' . -")
    statement = data.get("informal_statement")
    if not isinstance(statement, str) or not statement.strip():
        raise DataError(f"{where}: field 'informal_statement' is missing or empty (problem {name})")
    values: dict[str, Any] = {}
    for key in OPTIONAL_FIELDS:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise DataError(f"{where}: field {key!r} must be a string (problem {name})")
        values[key] = value
    for key in ("informal_proof", "formal_statement"):
        if key in values and not values[key].strip():
            del values[key]
    return InformalProblem(name=name, informal_statement=statement, **values)


def load_problems(path: str | os.PathLike[str]) -> list[InformalProblem]:
    """Problems of a JSONL file, in file order; blank lines are skipped, duplicate names refused."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"input file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"input file {path} cannot be read: {exc}") from None
    problems: list[InformalProblem] = []
    names = UniqueNames("problem")
    for row in json_rows(lines, str(path)):
        problem = parse_problem(row.data, row.where)
        names.add(problem.name, row)
        problems.append(problem)
    if not problems:
        raise DataError(f"input file {path} holds no problems")
    return problems


def problem_from_theorem(theorem: Theorem) -> InformalProblem:
    """A benchmark theorem as an informal problem whose reference statement is the benchmark's."""
    return InformalProblem(
        name=theorem.name,
        informal_statement=theorem.informal_statement or "",
        informal_proof=theorem.informal_proof or None,
        formal_statement=theorem.statement,
        header=theorem.header,
        preamble=theorem.preamble,
        split=theorem.split,
        source=theorem.source or "",
    )


def minif2f_problems(collection: Any, split: str) -> list[InformalProblem]:
    """The problems of one split of a loaded statement collection (`data.minif2f` or
    `data.isabelle_minif2f`); problems without an informal statement are left out (logged)."""
    from ..data.minif2f import select_theorems

    problems = [problem_from_theorem(t) for t in select_theorems(collection, split)]
    missing = [p.name for p in problems if not p.informal_statement.strip()]
    if missing:
        log.warning("%d problems have no informal statement and are left out: %s", len(missing), ", ".join(missing[:5]))
    return [p for p in problems if p.informal_statement.strip()]


def load_minif2f_file(path: str | os.PathLike[str], language: Language, split: str) -> list[InformalProblem]:
    """A local miniF2F statements file (the data loaders' JSONL shapes) as informal problems of `split`."""
    if language is Language.LEAN4:
        from ..data.minif2f import load_data_file

        collection = load_data_file(path)
    else:
        from ..data.isabelle_minif2f import load_isabelle_data_file

        collection = load_isabelle_data_file(path)
    return minif2f_problems(collection, split)
