"""A run directory: configuration, crash-safe results, proofs, search graphs and the summary.

Layout:
- `config.json`: the `RunConfig` (everything needed to reproduce the run);
- `results.jsonl`: append-only, one line per finished theorem, each written with a single `write` and
  `fsync`ed before the next theorem is reported; a line torn by `kill -9` is cut off when the directory
  is opened again, so a resumed run neither loses nor duplicates a theorem;
- `proofs.lean`: every accepted Lean proof as one file (the header once, then each proof as the prover
  rendered it), regenerated from the results so it never disagrees with them;
- `proofs-isabelle/<name>.thy`: for Isabelle runs, each accepted proof as a complete theory;
- `graphs/<name>.json.gz`: the search graph of each theorem (node-link JSON);
- `summary.json`, `summary.md`: written by `report`.
- `plot-*.png` and `graphs/<name>.html`: drawn by `report` (plots.py) and `show` (viewer.py), never read back.
A lock file keeps two processes from writing one run directory at the same time.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import gzip
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .config import RunConfig
from .errors import UserError
from .search import SearchResult
from .types import Language, Theorem, problem_family

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.jsonl"
PROOFS_FILE = "proofs.lean"
ISABELLE_PROOFS_DIR = "proofs-isabelle"
GRAPHS_DIR = "graphs"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
LOCK_FILE = ".lock"
RETRIED_ERRORS_FILE = "retried-errors.jsonl"


class StoreError(UserError):
    """The run directory cannot be used as asked (in use, different configuration, corrupt)."""


@dataclass(frozen=True)
class TheoremRecord:
    """One line of `results.jsonl`: a theorem's final outcome (its graph lives in `graphs/`)."""

    name: str
    split: str
    status: str
    proved: bool
    family: str = "other"
    language: str = Language.LEAN4.value
    proof: tuple[str, ...] | None = None
    proof_text: str | None = None  # the accepted proof as the prover rendered it (header included)
    header: str = ""
    expansions: int = 0
    steps: int = 0
    elapsed_s: float = 0.0
    prover_s: float = 0.0
    model_wait_s: float = 0.0
    error: str = ""
    verification: dict[str, Any] | None = None
    graph: str | None = None
    finished_at: str = ""

    @classmethod
    def from_result(
        cls, theorem: Theorem, result: SearchResult, proof_text: str | None, graph: str | None
    ) -> "TheoremRecord":
        record = result.to_record()
        return cls(
            name=theorem.name,
            split=theorem.split,
            status=record["status"],
            proved=bool(record["proved"]),
            family=problem_family(theorem.name),
            language=theorem.language.value,
            proof=tuple(record["proof"]) if record["proof"] is not None else None,
            proof_text=proof_text if result.proved else None,
            header=theorem.header,
            expansions=record["expansions"],
            steps=record["steps"],
            elapsed_s=record["elapsed_s"],
            prover_s=record["prover_s"],
            model_wait_s=record["model_wait_s"],
            error=record["error"],
            verification=record["verification"],
            graph=graph,
            finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["proof"] = list(self.proof) if self.proof is not None else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TheoremRecord":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if known.get("proof") is not None:
            known["proof"] = tuple(known["proof"])
        return cls(**known)


def safe_filename(name: str) -> str:
    """A file name for a theorem name (miniF2F names pass through unchanged)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
    return cleaned if cleaned not in ("", ".", "..") else f"_{cleaned}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_summary_files(run_dir: Path, summary_json: Mapping[str, Any], summary_md: str) -> None:
    """`summary.json` and `summary.md`, each replaced atomically."""
    write_atomic(run_dir / SUMMARY_JSON, (json.dumps(summary_json, indent=2) + "\n").encode())
    write_atomic(run_dir / SUMMARY_MD, summary_md.encode("utf-8"))


def read_results(path: Path, repair: bool = False) -> list[TheoremRecord]:
    """Records of a results file. A last line without its newline (torn by a kill) is ignored, and cut
    from the file when `repair` is set; a broken line elsewhere is a `StoreError` naming it."""
    if not path.exists():
        return []
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1  # everything after the last newline is a torn write
    complete, tail = data[:cut], data[cut:]
    if tail:
        log.warning("%s: ignoring a torn last line (%d bytes) left by an interrupted run", path, len(tail))
        if repair:
            with path.open("r+b") as handle:
                handle.truncate(cut)
                handle.flush()
                os.fsync(handle.fileno())
    records: list[TheoremRecord] = []
    seen: set[str] = set()
    lines = complete.split(b"\n")[:-1] if complete else []
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = TheoremRecord.from_json(json.loads(raw))
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"{path}:{lineno}: unreadable result line ({exc}); remove that line to resume") from None
        if record.name in seen:
            log.warning("%s:%d: second result for %s ignored", path, lineno, record.name)
            continue
        seen.add(record.name)
        records.append(record)
    return records


class RunStore:
    """An open run directory. Use `RunStore.open(...)`; close it (or use `with`) to release the lock."""

    def __init__(self, run_dir: Path, config: RunConfig, lock_fd: int) -> None:
        self.run_dir = run_dir
        self.config = config
        self._lock_fd = lock_fd
        self._records: dict[str, TheoremRecord] = {r.name: r for r in read_results(self.results_path, repair=True)}
        self._results_fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        (run_dir / GRAPHS_DIR).mkdir(exist_ok=True)

    # -- paths ----------------------------------------------------------------------------------------

    @property
    def results_path(self) -> Path:
        return self.run_dir / RESULTS_FILE

    @property
    def proofs_path(self) -> Path:
        return self.run_dir / PROOFS_FILE

    # -- opening --------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, run_dir: Path, config: RunConfig, resume: bool = True, force: bool = False, retry_errors: bool = False
    ) -> "RunStore":
        """Open (or create) a run directory for `config`.

        An existing directory with the same configuration is resumed. A different configuration is
        refused unless `force`; `force` or `resume=False` move the old contents to `superseded-<time>/`
        and start over, so nothing is ever deleted. `retry_errors` moves ERROR results out of the
        results file (into `retried-errors.jsonl`) so those theorems run again.
        """
        run_dir = Path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create run directory {run_dir}: {exc.strerror}") from None
        lock_fd = lock_run_dir(run_dir)
        try:
            config = cls._reconcile(run_dir, config, resume, force)
            write_atomic(run_dir / CONFIG_FILE, (json.dumps(config.to_json(), indent=2) + "\n").encode())
            if retry_errors:
                _drop_errors(run_dir)
            return cls(run_dir, config, lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    @staticmethod
    def _reconcile(run_dir: Path, config: RunConfig, resume: bool, force: bool) -> RunConfig:
        action, merged = plan_run_dir(run_dir, config, resume, force)
        if action == "supersede":
            supersede(run_dir)
        return merged

    # -- reading --------------------------------------------------------------------------------------

    def records(self) -> list[TheoremRecord]:
        return list(self._records.values())

    def finished(self) -> set[str]:
        return set(self._records)

    # -- writing --------------------------------------------------------------------------------------

    def append(self, theorem: Theorem, result: SearchResult, proof_text: str | None = None) -> TheoremRecord:
        """Record a finished theorem: graph first, then one fsynced results line, then the proofs file."""
        if theorem.name in self._records:
            raise ValueError(f"{theorem.name} already has a result in {self.results_path}")
        graph_rel = None
        if result.graph.number_of_nodes():
            graph_rel = f"{GRAPHS_DIR}/{safe_filename(theorem.name)}.json.gz"
            payload = json.dumps(result.graph_json(), default=_json_default).encode()
            write_atomic(self.run_dir / graph_rel, gzip.compress(payload, mtime=0))
        record = TheoremRecord.from_result(theorem, result, proof_text, graph_rel)
        line = (json.dumps(record.to_json(), ensure_ascii=False, default=_json_default) + "\n").encode()
        written = os.write(self._results_fd, line)
        if written != len(line):  # pragma: no cover - regular files take whole writes
            raise OSError(errno.EIO, f"short write to {self.results_path}")
        os.fsync(self._results_fd)
        self._records[record.name] = record
        if record.proved:
            self.write_proofs()
        return record

    def write_proofs(self) -> None:
        """Regenerate the proofs file(s) from the records."""
        records = self.records()
        if self.config.prover.name != "isabelle":
            lean = [r for r in records if r.proved and r.proof_text and r.language == Language.LEAN4.value]
            write_atomic(self.proofs_path, combine_lean_proofs(lean).encode("utf-8"))
        isabelle = [r for r in records if r.proved and r.proof_text and r.language == Language.ISABELLE.value]
        if isabelle:
            folder = self.run_dir / ISABELLE_PROOFS_DIR
            folder.mkdir(exist_ok=True)
            for record in isabelle:
                write_atomic(folder / f"{safe_filename(record.name)}.thy", (record.proof_text or "").encode("utf-8"))

    def write_summary(self, summary_json: Mapping[str, Any], summary_md: str) -> None:
        write_summary_files(self.run_dir, summary_json, summary_md)

    def close(self) -> None:
        for fd in (self._results_fd, self._lock_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._results_fd = self._lock_fd = -1

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def plan_run_dir(run_dir: Path, config: RunConfig, resume: bool, force: bool) -> tuple[str, RunConfig]:
    """What opening `run_dir` for `config` would do: ("new" | "resume" | "supersede", config to write).
    Raises `StoreError` when it must refuse. Reads only."""
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    results = run_dir / RESULTS_FILE
    has_results = results.exists() and results.stat().st_size > 0
    if not config_path.exists():
        if has_results and not force:
            raise StoreError(f"{run_dir} has results but no {CONFIG_FILE}; use --force to start over there")
        return ("supersede" if has_results else "new"), config
    try:
        old = RunConfig.from_json(json.loads(config_path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        if not force:
            raise StoreError(f"{config_path} is unreadable ({exc}); use --force to start over") from None
        return "supersede", config
    differences = old.differences(config)
    if not resume or (differences and force):
        return "supersede", config
    if differences:
        shown = "; ".join(differences[:3]) + ("; ..." if len(differences) > 3 else "")
        raise StoreError(
            f"{run_dir} holds a run with a different configuration ({shown}); "
            "use --force to start it over (old files are kept) or choose another --run-dir"
        )
    return "resume", config.with_selection(tuple(dict.fromkeys(old.selection + config.selection)))


def check_run_dir(run_dir: Path, config: RunConfig, resume: bool = True, force: bool = False) -> str:
    """Refuse early (before any prover or model is loaded) if `RunStore.open` would refuse."""
    check_writable(run_dir)
    return plan_run_dir(run_dir, config, resume, force)[0]


def check_writable(run_dir: Path) -> None:
    """A clear `StoreError` unless `run_dir` can be created and written in. Probed by creating (and
    removing) a file in it, or in the nearest existing folder above it, so the answer holds for root and
    for read-only mounts, where permission bits say nothing. Writes nothing that stays."""
    run_dir = Path(run_dir)
    existing = run_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == run_dir else f": {existing} is a file, not a folder"
        raise StoreError(f"cannot use run directory {run_dir}{where or ' (it is a file, not a folder)'}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".llemma-prove-write-test-", dir=existing)
    except OSError as exc:
        what = "run directory" if existing == run_dir else f"folder {existing} (where run directory {run_dir} would go)"
        raise StoreError(f"cannot write in {what}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def combine_lean_proofs(records: Iterable[TheoremRecord]) -> str:
    """One compilable Lean file: the shared header once, then each rendered proof without it."""
    records = sorted(records, key=lambda r: r.name)
    if not records:
        return "-- No proof has been found (and accepted by the final check) in this run yet.\n"
    header = records[0].header
    parts = [
        header if header.endswith("\n") or not header else header + "\n",
        f"-- {len(records)} proof(s) found by llemma-prove, each accepted by the prover's final check.\n\n",
    ]
    for record in records:
        text = record.proof_text or ""
        if record.header and text.startswith(record.header):
            text = text[len(record.header) :]
        if record.header != header:
            parts.append(f"-- note: {record.name} was stated under a different header:\n")
            parts.extend(f"--   {line}\n" for line in record.header.splitlines())
        parts.append(text.strip("\n") + "\n\n")
    return "".join(parts)


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def lock_run_dir(run_dir: Path) -> int:
    """Hold the run directory's lock (one llemma-prove process per run directory); returns its fd."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot write in run directory {run_dir}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"{run_dir} is in use by another llemma-prove process") from None
    return fd


def supersede(run_dir: Path) -> Path:
    """Move a run directory's previous contents aside (never delete results)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = run_dir / f"superseded-{stamp}"
    suffix = 1
    while target.exists():
        target = run_dir / f"superseded-{stamp}-{suffix}"
        suffix += 1
    target.mkdir()
    for entry in run_dir.iterdir():
        if entry.name == LOCK_FILE or entry.name.startswith("superseded-"):
            continue
        shutil.move(str(entry), target / entry.name)
    log.warning("moved the previous contents of %s to %s", run_dir, target)
    return target


def _drop_errors(run_dir: Path) -> int:
    """Rewrite the results file without its ERROR records (atomic rename; the removed lines are kept)."""
    path = run_dir / RESULTS_FILE
    records = read_results(path, repair=True)
    errors = [r for r in records if r.status == "error"]
    if not errors:
        return 0
    keep = [r for r in records if r.status != "error"]
    with (run_dir / RETRIED_ERRORS_FILE).open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in errors)
        handle.flush()
        os.fsync(handle.fileno())
    data = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in keep)
    write_atomic(path, data.encode("utf-8"))
    log.info("retrying %d theorems that ended in an error", len(errors))
    return len(errors)


def load_run(run_dir: Path) -> tuple[RunConfig, list[TheoremRecord]]:
    """Read a run directory without locking or changing it (for `report`)."""
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    if not config_path.exists():
        raise StoreError(f"{run_dir} is not a run directory (no {CONFIG_FILE})")
    try:
        config = RunConfig.from_json(json.loads(config_path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{config_path} is unreadable ({exc})") from None
    return config, read_results(run_dir / RESULTS_FILE, repair=False)


def load_graph(run_dir: Path, record: TheoremRecord) -> Any:
    """The search graph of one theorem as a networkx DiGraph (None when none was stored)."""
    if not record.graph:
        return None
    from .search import graph_from_json

    with gzip.open(Path(run_dir) / record.graph, "rt", encoding="utf-8") as handle:
        return graph_from_json(json.load(handle))
