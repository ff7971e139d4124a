"""miniF2F Isabelle statements: the pinned upstream theories, local JSONL files.

Upstream is `facebookresearch/miniF2F` at a pinned commit: one `isabelle/{valid,test}/<name>.thy`
per problem (informal text in `informal/{valid,test}/<name>.json`). On first use the two folders are
fetched at that commit (shared git machinery of `data.minif2f`), cut into header / preamble /
statement and cached as JSONL, so later runs need no network. 147 of the 488 theories ship a human
proof: it is dropped here, so a `Theorem` never carries it and the search starts from the bare
statement.

A local file (`--data FILE`) is JSONL with, per row, `name` and either `theory` (a complete `.thy`
text, as in `shared/data/minif2f/isabelle/test.jsonl`) or `header` + `statement` (optional
`preamble`). Any problem is a `DataError` naming the file and line.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .jsonl import UniqueNames, json_rows
from ..errors import DataError
from ..provers.isabelle.theory import TheorySyntaxError, split_theory
from ..types import Language, Theorem
from .minif2f import (
    LOCAL_SET,
    SPLITS,
    Layout,
    StatementCollection,
    StatementSetSpec,
    StatementSource,
    _read_lines,
    _write_atomic,
    default_cache_dir,
    fetch_git_paths,
    sha256_file,
    with_informal_fields,
)

log = logging.getLogger(__name__)

MINIF2F_ISABELLE = StatementSetSpec(
    name="isabelle",
    repo="facebookresearch/miniF2F",
    url="https://github.com/facebookresearch/miniF2F.git",
    commit="e4f113090ad82d64f8ce064d2f55b613a9b6bded",
    layout=Layout.PER_FILE,
    paths=("isabelle/valid", "isabelle/test", "informal/valid", "informal/test"),
    lean_version="",
    description="facebookresearch/miniF2F Isabelle theories (HOL / Complex_Main)",
)
TEXT_FIELDS = ("name", "split", "theory", "header", "preamble", "statement", "informal_statement", "informal_proof", "source")


def theorem_from_theory(
    text: str,
    origin: str,
    name: str | None = None,
    split: str = "",
    statement_set: str = LOCAL_SET,
    source: str | None = None,
    informal_statement: str | None = None,
    informal_proof: str | None = None,
) -> Theorem:
    """A Theorem from a complete `.thy` text; the proof after the statement is dropped."""
    try:
        parts = split_theory(text, name)
    except TheorySyntaxError as exc:
        raise DataError(f"{origin}: {exc}") from None
    return Theorem(
        name=name or parts.theory_name,
        statement=parts.statement,
        header=parts.header,
        split=split,
        statement_set=statement_set,
        language=Language.ISABELLE,
        preamble=parts.preamble,
        informal_statement=informal_statement,
        informal_proof=informal_proof,
        source=source or origin,
    )


def _theory_from_pieces(header: str, preamble: str, statement: str) -> str:
    return "\n\n".join(p for p in (header.strip(), preamble.strip(), statement.strip()) if p) + "\nsorry\n\nend\n"


def theorem_row(theorem: Theorem) -> dict[str, Any]:
    """A theorem in the cached JSONL shape (no proof)."""
    row: dict[str, Any] = {
        "name": theorem.name,
        "split": theorem.split,
        "header": theorem.header,
        "preamble": theorem.preamble,
        "statement": theorem.statement,
    }
    return with_informal_fields(row, theorem)


def parse_isabelle_rows(lines: Iterable[str], origin: str, statement_set: str = LOCAL_SET) -> list[Theorem]:
    """Theorems from JSONL rows (`theory` or `header` + `statement`); DataError names origin:line."""
    theorems: list[Theorem] = []
    names = UniqueNames()
    for json_row in json_rows(lines, origin):
        row, where = json_row.data, json_row.where
        for key in TEXT_FIELDS:
            if row.get(key) is not None and not isinstance(row[key], str):
                raise DataError(f"{where}: field '{key}' must be a string, got {type(row[key]).__name__}")
        name = (row.get("name") or "").strip()
        if not name:
            raise DataError(f"{where}: missing field 'name'")
        names.add(name, json_row)
        split = row.get("split") or ""
        if split and split not in SPLITS:
            raise DataError(f"{where}: unknown split '{split}' for {name} (expected one of {', '.join(SPLITS)})")
        if row.get("theory"):
            text = row["theory"]
        elif row.get("header") and row.get("statement"):
            text = _theory_from_pieces(row["header"], row.get("preamble") or "", row["statement"])
        else:
            raise DataError(f"{where}: row {name} needs 'theory' or both 'header' and 'statement'")
        theorems.append(
            theorem_from_theory(
                text,
                f"{where} ({name})",
                name=name,
                split=split,
                statement_set=statement_set,
                source=row.get("source") or where,
                informal_statement=row.get("informal_statement"),
                informal_proof=row.get("informal_proof"),
            )
        )
    return theorems


def load_isabelle_data_file(path: str | os.PathLike[str]) -> StatementCollection:
    """`--data FILE`: a local JSONL of Isabelle statements; the run records the file and its sha256."""
    resolved = Path(path).expanduser().resolve()
    theorems = parse_isabelle_rows(_read_lines(resolved), str(path), LOCAL_SET)
    if not theorems:
        raise DataError(f"{path}: no theorems in the file")
    source = StatementSource(statement_set=LOCAL_SET, path=str(resolved), sha256=sha256_file(resolved))
    return StatementCollection(tuple(theorems), source, str(path))


def parse_isabelle_tree(files: Mapping[str, str], spec: StatementSetSpec = MINIF2F_ISABELLE) -> list[Theorem]:
    """Theorems from upstream paths -> text (`isabelle/<split>/<name>.thy`, `informal/<split>/<name>.json`)."""
    theorems: list[Theorem] = []
    for path, text in files.items():
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "isabelle" or parts[1] not in SPLITS or not parts[2].endswith(".thy"):
            continue
        split, name = parts[1], parts[2][: -len(".thy")]
        informal: dict[str, Any] = {}
        informal_path = f"informal/{split}/{name}.json"
        if informal_path in files:
            try:
                informal = json.loads(files[informal_path])
            except json.JSONDecodeError as exc:
                raise DataError(f"{spec.source_path(informal_path)}: invalid JSON ({exc.msg})") from None
        theorems.append(
            theorem_from_theory(
                text,
                spec.source_path(path),
                name=name,
                split=split,
                statement_set=spec.name,
                source=spec.source_path(path),
                informal_statement=informal.get("informal_statement"),
                informal_proof=informal.get("informal_proof"),
            )
        )
    theorems.sort(key=lambda t: (SPLITS.index(t.split), t.name))
    return theorems


def read_checkout(root: Path, spec: StatementSetSpec = MINIF2F_ISABELLE) -> dict[str, str]:
    """Path -> text for the upstream folders of a local checkout of the repository."""
    files: dict[str, str] = {}
    for relative in spec.paths:
        folder = root / relative
        if not folder.is_dir():
            raise DataError(f"{folder} not found (is {root} a checkout of {spec.repo}?)")
        for path in sorted(folder.iterdir()):
            if path.is_file():
                files[f"{relative}/{path.name}"] = path.read_text(encoding="utf-8")
    return files


def cached_path(spec: StatementSetSpec, cache_root: Path) -> Path:
    return cache_root / "minif2f" / spec.name / spec.commit / "statements.jsonl"


def _source(spec: StatementSetSpec) -> StatementSource:
    return StatementSource(statement_set=spec.name, repo=spec.repo, commit=spec.commit, url=spec.url)


async def load_isabelle_statements(
    cache_root: Path | None = None, spec: StatementSetSpec = MINIF2F_ISABELLE
) -> StatementCollection:
    """The pinned upstream Isabelle statements (both splits), downloaded and cached on first use."""
    cache_root = cache_root or default_cache_dir()
    target = cached_path(spec, cache_root)
    if not target.exists():
        log.info("downloading miniF2F Isabelle statements from %s at %s", spec.url, spec.commit)
        files = await fetch_git_paths(spec.url, spec.commit, spec.paths, cache_root / "git" / spec.repo.replace("/", "--"))
        theorems = parse_isabelle_tree(files, spec)
        if not theorems:
            raise DataError(f"{spec.repo}@{spec.commit[:12]}: no theories under isabelle/valid or isabelle/test")
        _write_atomic(target, "".join(json.dumps(theorem_row(t), ensure_ascii=False) + "\n" for t in theorems))
        log.info("cached %d Isabelle statements in %s", len(theorems), target)
    theorems = parse_isabelle_rows(_read_lines(target), str(target), spec.name)
    return StatementCollection(tuple(theorems), _source(spec), str(target))


def load_isabelle_checkout(root: str | os.PathLike[str], spec: StatementSetSpec = MINIF2F_ISABELLE) -> StatementCollection:
    """Statements from a local checkout of upstream (no network)."""
    theorems = parse_isabelle_tree(read_checkout(Path(root), spec), spec)
    if not theorems:
        raise DataError(f"{root}: no theories under isabelle/valid or isabelle/test")
    return StatementCollection(tuple(theorems), _source(spec), str(root))
