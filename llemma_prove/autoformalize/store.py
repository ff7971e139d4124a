"""The run directory of an autoformalization run: config, crash-safe results, summary.

Same layout and guarantees as the miniF2F run store (`llemma_prove/store.py`): `config.json`,
`results.jsonl` (append-only, one line per finished problem, one `write` plus `fsync` each, a torn
last line cut off on reopening), `summary.json` / `summary.md`, and a lock file so that two processes
never write one directory. The records differ (candidates, holes, verdicts), so the file handling is
reused and the record type is this module's.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..store import (
    CONFIG_FILE,
    RESULTS_FILE,
    StoreError,
    lock_run_dir,
    safe_filename,
    supersede,
    write_atomic,
    write_summary_files,
)
from ..types import problem_family
from .config import AutoformalizeConfig

log = logging.getLogger(__name__)

PROOFS_DIR = "proofs"
RETRIED_ERRORS_FILE = "retried-errors.jsonl"
ERROR = "error"


@dataclass(frozen=True)
class ProblemRecord:
    """One line of `results.jsonl`."""

    name: str
    split: str
    target: str
    mode: str
    # statement: equivalent | could-not-decide | not-equivalent | well-formed | ill-formed;
    # dsp: proved | proved-statement-unverified | proved-with-oracle | not-proved; both: error
    verdict: str
    family: str = "other"
    error: str = ""  # only for verdict "error": what failed (the problem is retried with --retry-errors)
    reason: str = ""  # why a finished problem ended as it did
    model: str = ""
    has_reference: bool = False
    elapsed_s: float = 0.0
    statement: dict[str, Any] | None = None
    dsp: dict[str, Any] | None = None
    finished_at: str = ""

    @classmethod
    def make(cls, name: str, split: str, config: AutoformalizeConfig, verdict: str, **rest: Any) -> "ProblemRecord":
        return cls(
            name=name, split=split, target=config.target.value, mode=config.mode.value, verdict=verdict,
            family=problem_family(name), model=config.model,
            finished_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **rest,
        )

    @property
    def is_error(self) -> bool:
        return self.verdict == ERROR

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
        previous = records.get(record.name)
        if previous is None or previous.is_error:  # a finished result is final; an error may be retried
            records[record.name] = record
    return list(records.values())


@dataclass
class RunMeta:
    """What `config.json` holds: the settings that decide results (model, prompt and input hashes
    included, all compared on resume), plus descriptive extras."""

    config: AutoformalizeConfig
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "autoformalize", "autoformalize": self.config.to_json(), **self.extra}


def config_differences(old: AutoformalizeConfig, new: AutoformalizeConfig) -> list[str]:
    """Each setting that differs, named, with both values."""
    prev, cur = old.to_json(), new.to_json()
    return [f"{k}: {prev.get(k)!r} -> {cur.get(k)!r}" for k in cur if prev.get(k) != cur.get(k)]


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
    def open(cls, run_dir: Path, meta: RunMeta, resume: bool = True, force: bool = False,
             retry_errors: bool = False) -> "AutoformalizeStore":
        """Open (or create) a run directory. A run with other settings (model, prompt, input, any
        setting that changes results) is refused with the differences named, unless `force`, which
        moves the old contents to `superseded-<time>/` and starts over. `retry_errors` moves the error
        records to `retried-errors.jsonl` so those problems run again."""
        run_dir = Path(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create run directory {run_dir}: {exc.strerror}") from None
        fd = lock_run_dir(run_dir)
        try:
            if cls._reconcile(run_dir, meta, resume, force) == "supersede":
                supersede(run_dir)
            write_atomic(run_dir / CONFIG_FILE, (json.dumps(meta.to_json(), indent=2) + "\n").encode())
            if retry_errors:
                _drop_errors(run_dir)
            return cls(run_dir, meta, fd)
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def _reconcile(run_dir: Path, meta: RunMeta, resume: bool, force: bool) -> str:
        """"new" | "resume" | "supersede"; raises `StoreError` where it must refuse."""
        path = run_dir / CONFIG_FILE
        results = run_dir / RESULTS_FILE
        has_results = results.exists() and results.stat().st_size > 0
        if not path.exists():
            if has_results and not force:
                raise StoreError(f"{run_dir} has results but no {CONFIG_FILE}; use --force to start over there "
                                 "or choose another --run-dir")
            return "supersede" if has_results else "new"
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            old_config = AutoformalizeConfig.from_json(old["autoformalize"])
        except (ValueError, KeyError, TypeError):
            if force:
                return "supersede"
            raise StoreError(f"{run_dir} holds something other than an autoformalization run; "
                             "use --force to start over there or choose another --run-dir") from None
        if not has_results:
            return "new"
        if force:
            return "supersede"
        if not resume:
            raise StoreError(f"{run_dir} already holds results; resume it, use --force to start over, "
                             "or choose another --run-dir")
        diffs = config_differences(old_config, meta.config)
        if diffs:
            shown = "; ".join(diffs[:4]) + ("; ..." if len(diffs) > 4 else "")
            raise StoreError(f"{run_dir} holds a run with different settings ({shown}); "
                             "use --force to start it over (old files are kept) or choose another --run-dir")
        return "resume"

    def finished(self) -> set[str]:
        return set(self._records)

    def records(self) -> list[ProblemRecord]:
        return list(self._records.values())

    def append(self, record: ProblemRecord) -> None:
        previous = self._records.get(record.name)
        if previous is not None and not previous.is_error:
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


def _drop_errors(run_dir: Path) -> int:
    """Rewrite the results file without its error records (kept in `retried-errors.jsonl`)."""
    path = run_dir / RESULTS_FILE
    records = read_records(path, repair=True)
    errors = [r for r in records if r.is_error]
    if not errors:
        return 0
    with (run_dir / RETRIED_ERRORS_FILE).open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in errors)
        handle.flush()
        os.fsync(handle.fileno())
    keep = [r for r in records if not r.is_error]
    write_atomic(path, "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in keep).encode("utf-8"))
    log.info("retrying %d problems that ended in an error", len(errors))
    return len(errors)


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
