"""The run directory of an autoformalization run: config, crash-safe results, summary.

Same layout and guarantees as the miniF2F run store (`llemma_prove/store.py`): `config.json`,
`results.jsonl` (append-only, one line per finished problem, one `write` plus `fsync` each, a torn
last line cut off on reopening), `summary.json` / `summary.md`, and a lock file so that two processes
never write one directory. The records differ (candidates, holes, verdicts), so the file handling is
reused and the record type is this module's.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..store import (
    CONFIG_FILE,
    LOCK_FILE,
    RESULTS_FILE,
    StoreError,
    safe_filename,
    write_atomic,
    write_summary_files,
)
from ..types import problem_family
from .config import AutoformalizeConfig

log = logging.getLogger(__name__)

PROOFS_DIR = "proofs"


@dataclass(frozen=True)
class ProblemRecord:
    """One line of `results.jsonl`."""

    name: str
    split: str
    target: str
    mode: str
    verdict: str  # statement: equivalent | exact | well-formed | ill-formed; dsp: proved | not-proved; error
    family: str = "other"
    error: str = ""
    elapsed_s: float = 0.0
    statement: dict[str, Any] | None = None
    dsp: dict[str, Any] | None = None
    finished_at: str = ""

    @classmethod
    def make(cls, name: str, split: str, config: AutoformalizeConfig, verdict: str, **rest: Any) -> "ProblemRecord":
        return cls(
            name=name, split=split, target=config.target.value, mode=config.mode.value, verdict=verdict,
            family=problem_family(name),
            finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **rest,
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ProblemRecord":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def read_records(path: Path, repair: bool = False) -> list[ProblemRecord]:
    """Records of a results file; a torn last line is ignored (and cut off when `repair`)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    if data[cut:]:
        log.warning("%s: ignoring a torn last line left by an interrupted run", path)
        if repair:
            with path.open("r+b") as handle:
                handle.truncate(cut)
                handle.flush()
                os.fsync(handle.fileno())
    records: dict[str, ProblemRecord] = {}
    for lineno, raw in enumerate(data[:cut].split(b"\n")[:-1] if cut else [], start=1):
        if not raw.strip():
            continue
        try:
            record = ProblemRecord.from_json(json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise StoreError(f"{path}:{lineno}: unreadable result line ({exc}); remove that line to resume") from None
        records.setdefault(record.name, record)
    return list(records.values())


@dataclass
class RunMeta:
    """What `config.json` holds: the settings that decide results, plus descriptive extras."""

    config: AutoformalizeConfig
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "autoformalize", "autoformalize": self.config.to_json(), **self.extra}


class AutoformalizeStore:
    """An open run directory; `close()` (or `with`) releases the lock."""

    def __init__(self, run_dir: Path, meta: RunMeta, lock_fd: int) -> None:
        self.run_dir = run_dir
        self.meta = meta
        self._lock_fd = lock_fd
        self._records = {r.name: r for r in read_records(self.results_path, repair=True)}
        self._fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @property
    def results_path(self) -> Path:
        return self.run_dir / RESULTS_FILE

    @classmethod
    def open(cls, run_dir: Path, meta: RunMeta, resume: bool = True) -> "AutoformalizeStore":
        run_dir = Path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create run directory {run_dir}: {exc.strerror}") from None
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"{run_dir} is in use by another llemma-prove process") from None
        try:
            cls._reconcile(run_dir, meta, resume)
            write_atomic(run_dir / CONFIG_FILE, (json.dumps(meta.to_json(), indent=2) + "\n").encode())
            return cls(run_dir, meta, fd)
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def _reconcile(run_dir: Path, meta: RunMeta, resume: bool) -> None:
        path = run_dir / CONFIG_FILE
        results = run_dir / RESULTS_FILE
        has_results = results.exists() and results.stat().st_size > 0
        if not path.exists():
            if has_results:
                raise StoreError(f"{run_dir} has results but no {CONFIG_FILE}; choose another --run-dir")
            return
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            old_config = AutoformalizeConfig.from_json(old["autoformalize"])
        except (ValueError, KeyError, TypeError):
            raise StoreError(f"{run_dir} holds something other than an autoformalization run; choose another --run-dir") from None
        if not has_results:
            return
        if not resume:
            raise StoreError(f"{run_dir} already holds results; resume it or choose another --run-dir")
        if old_config != meta.config:
            new, prev = meta.config.to_json(), old_config.to_json()
            diffs = [f"{k}: {prev.get(k)!r} -> {new.get(k)!r}" for k in new if prev.get(k) != new.get(k)]
            raise StoreError(f"{run_dir} holds a run with different settings ({'; '.join(diffs[:3])}); "
                             "choose another --run-dir")

    def finished(self) -> set[str]:
        return set(self._records)

    def records(self) -> list[ProblemRecord]:
        return list(self._records.values())

    def append(self, record: ProblemRecord) -> None:
        if record.name in self._records:
            raise ValueError(f"{record.name} already has a result in {self.results_path}")
        line = (json.dumps(record.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
        os.write(self._fd, line)
        os.fsync(self._fd)
        self._records[record.name] = record
        proof = (record.dsp or {}).get("proof_text")
        if proof:
            folder = self.run_dir / PROOFS_DIR
            folder.mkdir(exist_ok=True)
            suffix = ".lean" if record.target == "lean4" else ".thy"
            write_atomic(folder / f"{safe_filename(record.name)}{suffix}", proof.encode("utf-8"))

    def write_summary(self, summary: Mapping[str, Any], markdown: str) -> None:
        write_summary_files(self.run_dir, summary, markdown)

    def close(self) -> None:
        for fd in (self._fd, self._lock_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "AutoformalizeStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_records(run_dir: Path) -> tuple[AutoformalizeConfig, list[ProblemRecord]]:
    """Read a run directory without locking or changing it (for reports)."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        config = AutoformalizeConfig.from_json(json.loads(path.read_text(encoding="utf-8"))["autoformalize"])
    except FileNotFoundError:
        raise StoreError(f"{run_dir} is not a run directory (no {CONFIG_FILE})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path} is not an autoformalization run config ({exc})") from None
    return config, read_records(Path(run_dir) / RESULTS_FILE)
