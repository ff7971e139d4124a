"""miniF2F Lean 4 statements: the pinned upstream sets, local JSONL files, and theorem selection.

Two upstream statement sets are known (DESIGN section 5): the Lean v4.24.0 set of yangky11/miniF2F-lean4
(one file per problem) and the Lean v4.9.0 set of DeepSeek-Prover-V1.5 (one JSONL file). On first use a
set is fetched from its git repository at the pinned commit (a shallow fetch of that one commit into a
cache directory), parsed into the project's JSONL shape and cached, so later runs need no network. The
shape is the one of `shared/data/minif2f/lean4/test.jsonl`: `name`, `split`, `header`,
`formal_statement` (with `header + formal_statement` the complete Lean file), optional informal text
and `source`. Every problem with a file is a `DataError` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import asyncio
import difflib
import enum
import hashlib
import io
import json
import logging
import os
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .jsonl import UniqueNames, json_rows
from ..errors import DataError, UserError
from ..processes import ChildProcess, ProcessSpec
from ..types import Language, Theorem

log = logging.getLogger(__name__)

SPLITS = ("valid", "test")
DEFAULT_STATEMENT_SET = "lean4-v4.24.0"
LOCAL_SET = "local"
CACHE_ENV = "LLEMMA_PROVE_CACHE"
GIT_TIMEOUT_S = 600.0
REQUIRED_FIELDS = ("name", "header", "formal_statement")
OPTIONAL_TEXT_FIELDS = ("split", "informal_statement", "informal_proof", "informal_prefix", "source")


class Layout(str, enum.Enum):
    """How an upstream repository stores its statements."""

    PER_FILE = "per-file"  # MiniF2F/{Valid,Test}/<name>.lean, header then `theorem ...`
    JSONL = "jsonl"  # one JSON object per line with name, split, header, formal_statement


@dataclass(frozen=True)
class StatementSetSpec:
    """Where a statement set lives upstream, pinned to one commit."""

    name: str
    repo: str  # owner/name on GitHub, for the record
    url: str  # what `git fetch` is pointed at (tests point it at a local file:// repository)
    commit: str
    layout: Layout
    paths: tuple[str, ...]  # folders or files to extract at that commit
    lean_version: str
    description: str

    def source_path(self, relative: str) -> str:
        return f"{self.repo}@{self.commit[:12]}:{relative}"


STATEMENT_SETS: dict[str, StatementSetSpec] = {
    "lean4-v4.24.0": StatementSetSpec(
        name="lean4-v4.24.0",
        repo="yangky11/miniF2F-lean4",
        url="https://github.com/yangky11/miniF2F-lean4.git",
        commit="5746b7d6c47855ce1294bed87329618ff7f1bc31",
        layout=Layout.PER_FILE,
        paths=("MiniF2F/Valid", "MiniF2F/Test"),
        lean_version="v4.24.0",
        description="yangky11/miniF2F-lean4, Lean v4.24.0, one file per problem (default)",
    ),
    "lean4-v4.9.0": StatementSetSpec(
        name="lean4-v4.9.0",
        repo="deepseek-ai/DeepSeek-Prover-V1.5",
        url="https://github.com/deepseek-ai/DeepSeek-Prover-V1.5.git",
        commit="2c4ba9119eef74d0d611f494261b2c5bae98c69a",
        layout=Layout.JSONL,
        paths=("datasets/minif2f.jsonl",),
        lean_version="v4.9.0",
        description="DeepSeek-Prover-V1.5 datasets/minif2f.jsonl, Lean v4.9.0 (the set most recent papers use)",
    ),
}


@dataclass(frozen=True)
class StatementSource:
    """Which statements a run used: an upstream set at a commit, or a local file and its sha256."""

    statement_set: str
    repo: str | None = None
    commit: str | None = None
    url: str | None = None
    path: str | None = None
    sha256: str | None = None
    lean_version: str | None = None

    @property
    def is_local(self) -> bool:
        return self.statement_set == LOCAL_SET

    def describe(self) -> str:
        if self.is_local:
            return f"local file {self.path} (sha256 {str(self.sha256)[:12]})"
        return f"{self.statement_set} ({self.repo}@{str(self.commit)[:12]})"

    def identity(self) -> dict[str, Any]:
        """What must match for two runs to use the same statements (paths and URLs may move)."""
        return {"statement_set": self.statement_set, "commit": self.commit, "sha256": self.sha256}

    def to_json(self) -> dict[str, Any]:
        return {
            "statement_set": self.statement_set,
            "repo": self.repo,
            "commit": self.commit,
            "url": self.url,
            "path": self.path,
            "sha256": self.sha256,
            "lean_version": self.lean_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "StatementSource":
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(frozen=True)
class StatementCollection:
    """All statements of a set (both splits) and where they came from."""

    theorems: tuple[Theorem, ...]
    source: StatementSource
    origin: str  # the file the theorems were read from, for error messages

    def splits(self) -> list[str]:
        return sorted({t.split for t in self.theorems})

    def split(self, split: str) -> list[Theorem]:
        return [t for t in self.theorems if t.split == split]


# -- the JSONL shape ---------------------------------------------------------------------------------


def _docstring_text(prefix: str) -> str:
    text = prefix.strip()
    if text.startswith("/--"):
        text = text[3:]
    if text.endswith("-/"):
        text = text[:-2]
    return text.strip()


def parse_rows(lines: Iterable[str], origin: str, statement_set: str = LOCAL_SET) -> list[Theorem]:
    """Parse JSONL statement rows (our shape or DeepSeek's). Raises DataError naming origin:line."""
    theorems: list[Theorem] = []
    names = UniqueNames()
    for json_row in json_rows(lines, origin):
        row, where = json_row.data, json_row.where
        for key in REQUIRED_FIELDS:
            if key not in row:
                raise DataError(f"{where}: missing field '{key}' (each row needs {', '.join(REQUIRED_FIELDS)})")
        for key in REQUIRED_FIELDS + OPTIONAL_TEXT_FIELDS:
            if key in row and row[key] is not None and not isinstance(row[key], str):
                raise DataError(f"{where}: field '{key}' must be a string, got {type(row[key]).__name__}")
        name = row["name"].strip()
        if not name:
            raise DataError(f"{where}: field 'name' is empty")
        if not row["formal_statement"].strip():
            raise DataError(f"{where}: field 'formal_statement' of {name} is empty")
        names.add(name, json_row)
        split = row.get("split") or ""
        if split and split not in SPLITS:
            raise DataError(f"{where}: unknown split '{split}' for {name} (expected one of {', '.join(SPLITS)})")
        informal = row.get("informal_statement")
        if informal is None and row.get("informal_prefix"):
            informal = _docstring_text(row["informal_prefix"])
        theorems.append(
            Theorem(
                name=name,
                statement=row["formal_statement"],
                header=row["header"],
                split=split,
                statement_set=statement_set,
                language=Language.LEAN4,
                informal_statement=informal,
                informal_proof=row.get("informal_proof"),
                source=row.get("source") or where,
            )
        )
    return theorems


def theorem_row(theorem: Theorem) -> dict[str, Any]:
    """A theorem in the JSONL shape (inverse of `parse_rows`)."""
    row: dict[str, Any] = {
        "name": theorem.name,
        "split": theorem.split,
        "header": theorem.header,
        "formal_statement": theorem.statement,
    }
    return with_informal_fields(row, theorem)


def with_informal_fields(row: dict[str, Any], theorem: Theorem) -> dict[str, Any]:
    """`row` plus the theorem's informal statement, informal proof and source, where it has them."""
    for key in ("informal_statement", "informal_proof", "source"):
        value = getattr(theorem, key)
        if value is not None:
            row[key] = value
    return row


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        raise DataError(f"data file {path} not found")
    if not path.is_file():
        raise DataError(f"data file {path} is not a file")
    data = path.read_bytes()
    lines = data.split(b"\n")
    out = []
    for lineno, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}:{lineno}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return out


def load_data_file(path: str | os.PathLike[str]) -> StatementCollection:
    """`--data FILE`: a local JSONL of statements; the run records the file and its sha256."""
    resolved = Path(path).expanduser().resolve()
    theorems = parse_rows(_read_lines(resolved), str(path), LOCAL_SET)
    if not theorems:
        raise DataError(f"{path}: no theorems in the file")
    source = StatementSource(statement_set=LOCAL_SET, path=str(resolved), sha256=sha256_file(resolved))
    return StatementCollection(tuple(theorems), source, str(path))


# -- parsing upstream layouts -------------------------------------------------------------------------


def split_lean_file(text: str, origin: str) -> tuple[str, str]:
    """(header, statement): the statement starts at the first line beginning with `theorem `."""
    if text.startswith("theorem "):
        return "", text
    index = text.find("\ntheorem ")
    if index < 0:
        raise DataError(f"{origin}: no line starting with 'theorem ' in the file")
    return text[: index + 1], text[index + 1 :]


def parse_per_file_tree(files: Mapping[str, str], spec: StatementSetSpec) -> list[dict[str, Any]]:
    """Rows from `MiniF2F/{Valid,Test}/<name>.lean` files (path -> text), sorted by split then name."""
    rows = []
    for path, text in files.items():
        parts = path.split("/")
        if len(parts) != 3 or not parts[2].endswith(".lean"):
            continue
        split = parts[1].lower()
        if split not in SPLITS:
            continue
        header, statement = split_lean_file(text, spec.source_path(path))
        rows.append(
            {
                "name": parts[2][: -len(".lean")],
                "split": split,
                "header": header,
                "formal_statement": statement,
                "source": spec.source_path(path),
            }
        )
    rows.sort(key=lambda r: (SPLITS.index(r["split"]), r["name"]))
    return rows


def parse_upstream_jsonl(text: str, spec: StatementSetSpec, relative: str) -> list[dict[str, Any]]:
    """Rows from a JSONL in DeepSeek's shape (validated line by line), sorted by split then name."""
    origin = spec.source_path(relative)
    theorems = parse_rows(text.split("\n"), origin, spec.name)
    rows = []
    for theorem in theorems:
        if not theorem.split:
            raise DataError(f"{origin}: theorem {theorem.name} has no split")
        rows.append(theorem_row(replace(theorem, source=origin)))
    rows.sort(key=lambda r: (SPLITS.index(r["split"]), r["name"]))
    return rows


# -- download and cache -------------------------------------------------------------------------------


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llemma-prove"


class _GitFailed(Exception):
    """git ran and failed; the message is its last line of stderr."""


async def _git(args: Sequence[str], timeout_s: float) -> bytes:
    """Run git as a managed child (own process group, killed on timeout); stdout on success."""
    child = ChildProcess(ProcessSpec(argv=["git", *args], extra_env={"GIT_TERMINAL_PROMPT": "0"}))
    try:
        await child.start()
    except FileNotFoundError:
        raise DataError("git is not installed; install git, or pass a local statements file with --data FILE") from None
    assert child.proc is not None
    try:
        stdout, stderr = await asyncio.wait_for(child.proc.communicate(), timeout_s)
    except asyncio.TimeoutError:
        raise DataError(f"git {args[0]} took longer than {timeout_s:.0f} s") from None
    finally:
        await child.stop()
    if child.proc.returncode != 0:
        message = stderr.decode("utf-8", "replace").strip().splitlines()
        raise _GitFailed(message[-1] if message else f"exit status {child.proc.returncode}")
    return stdout


async def fetch_git_paths(
    url: str, commit: str, paths: Sequence[str], git_dir: Path, timeout_s: float = GIT_TIMEOUT_S,
    hint: str = "pass a local statements file with --data FILE",
) -> dict[str, str]:
    """Text of every file under `paths` at `commit`: a shallow fetch of that commit, then `git archive`."""
    git_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not (git_dir / "HEAD").exists():
            await _git(["init", "--quiet", "--bare", str(git_dir)], timeout_s)
        await _git(["-C", str(git_dir), "fetch", "--quiet", "--depth", "1", url, commit], timeout_s)
        archive = await _git(["-C", str(git_dir), "archive", "--format=tar", commit, "--", *paths], timeout_s)
    except _GitFailed as exc:
        raise DataError(
            f"could not download {url} at commit {commit[:12]}: {exc} "
            f"(check the network, or {hint})"
        ) from None
    files: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            handle = tar.extractfile(member)
            assert handle is not None
            try:
                files[member.name] = handle.read().decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{url}@{commit[:12]}:{member.name} is not UTF-8 text") from None
    return files


def cached_set_path(spec: StatementSetSpec, cache_root: Path) -> Path:
    return cache_root / "minif2f" / spec.name / spec.commit / "statements.jsonl"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


async def ensure_statement_set(spec: StatementSetSpec, cache_root: Path | None = None) -> Path:
    """Path of the cached JSONL for `spec`, downloading and parsing it on first use."""
    cache_root = cache_root or default_cache_dir()
    target = cached_set_path(spec, cache_root)
    if target.exists():
        return target
    log.info("downloading statement set %s from %s at %s", spec.name, spec.url, spec.commit)
    git_dir = cache_root / "git" / spec.repo.replace("/", "--")
    files = await fetch_git_paths(spec.url, spec.commit, spec.paths, git_dir)
    if spec.layout is Layout.PER_FILE:
        rows = parse_per_file_tree(files, spec)
    else:
        rows = []
        for relative in spec.paths:
            if relative not in files:
                raise DataError(f"{spec.repo}@{spec.commit[:12]} has no file {relative}")
            rows.extend(parse_upstream_jsonl(files[relative], spec, relative))
    if not rows:
        raise DataError(f"{spec.repo}@{spec.commit[:12]}: no statements found under {', '.join(spec.paths)}")
    _write_atomic(target, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    log.info("cached %d statements of %s in %s", len(rows), spec.name, target)
    return target


async def load_statement_set(
    name: str = DEFAULT_STATEMENT_SET,
    cache_root: Path | None = None,
    spec: StatementSetSpec | None = None,
) -> StatementCollection:
    """A pinned upstream set (downloaded on first use). `spec` overrides the registry (tests, mirrors)."""
    if spec is None:
        if name not in STATEMENT_SETS:
            known = ", ".join(sorted(STATEMENT_SETS))
            raise UserError(f"unknown statement set '{name}' (known: {known}; or pass --data FILE)")
        spec = STATEMENT_SETS[name]
    path = await ensure_statement_set(spec, cache_root)
    theorems = parse_rows(_read_lines(path), str(path), spec.name)
    source = StatementSource(
        statement_set=spec.name, repo=spec.repo, commit=spec.commit, url=spec.url, lean_version=spec.lean_version
    )
    return StatementCollection(tuple(theorems), source, str(path))


# -- selection ---------------------------------------------------------------------------------------


def select_theorems(
    collection: StatementCollection, split: str, names: Sequence[str] = (), limit: int | None = None
) -> list[Theorem]:
    """Theorems of `split` (rows without a split count as that split), then `--theorem`, then `--limit`."""
    if split not in SPLITS:
        raise UserError(f"unknown split '{split}' (choose one of {', '.join(SPLITS)})")
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    pool = [t if t.split else replace(t, split=split) for t in collection.theorems if t.split in ("", split)]
    if not pool:
        present = ", ".join(collection.splits()) or "none"
        raise DataError(f"{collection.origin}: no theorems of split '{split}' (splits present: {present})")
    if names:
        by_name = {t.name: t for t in pool}
        chosen = []
        for wanted in dict.fromkeys(names):
            if wanted not in by_name:
                raise UserError(_unknown_theorem_message(wanted, split, by_name, collection))
            chosen.append(by_name[wanted])
        pool = chosen
    if limit is not None:
        pool = pool[:limit]
    return pool


_PROOF_SLOTS = ("sorry", "by", ":=")


def check_lean_statement_forms(theorems: Sequence[Theorem]) -> None:
    """Each Lean statement must leave its proof open (end in `sorry`, `by` or `:=`): the prover replaces
    that tail with the proof, so a statement with a proof of its own would be checked as something
    else. Cheap, so it runs before any prover or model is loaded."""
    for theorem in theorems:
        text = theorem.statement.rstrip()
        if any(text.endswith(slot) and (slot == ":=" or len(text) == len(slot)
                                        or not (text[-len(slot) - 1].isalnum() or text[-len(slot) - 1] in "_'.!?"))
               for slot in _PROOF_SLOTS):
            continue
        tail = " ".join(text[-40:].split())
        raise DataError(f"{theorem.source or theorem.name}: the statement of {theorem.name} must end in "
                        f"`:= by sorry`, `:= sorry`, `:= by` or `:=` (the prover fills in the proof); it ends in '...{tail}'")


def _unknown_theorem_message(
    wanted: str, split: str, by_name: Mapping[str, Theorem], collection: StatementCollection
) -> str:
    other = [t for t in collection.theorems if t.name == wanted]
    if other:
        return f"theorem '{wanted}' is in split '{other[0].split}', not '{split}' (use --split {other[0].split})"
    close = difflib.get_close_matches(wanted, list(by_name), n=5, cutoff=0.6)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    return f"unknown theorem '{wanted}' in the {split} split of {collection.source.describe()}{hint}"
