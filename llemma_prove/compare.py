"""Several run directories side by side: the table a paper prints (one column per run; rows overall,
splits and problem families) and the legend saying what each run was.

Rates are over finished theorems, as in the single-run summary; a run's paper number appears only when
`report.summarise` found that run comparable. When the runs did not ask for the same theorems, a note
says so: their rates are then not over the same problems.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .config import RunConfig
from .errors import UserError
from .plots import STAND_IN_NOTE, STAND_IN_PROVER
from .report import Summary, Tally, summarise
from .store import TheoremRecord, load_run


@dataclass(frozen=True)
class LoadedRun:
    key: str  # "A", "B", ...: the column header
    run_dir: Path
    config: RunConfig
    records: tuple[TheoremRecord, ...]
    summary: Summary

    @property
    def legend(self) -> str:
        """Short label for a figure legend."""
        name = self.run_dir.resolve().name
        return f"{self.key}: {name if len(name) <= 40 else name[:37] + '...'}"

    @property
    def stand_in(self) -> bool:
        return self.config.prover.name == STAND_IN_PROVER

    def describe(self) -> str:
        run = self.summary.run
        return f"{self.run_dir}: {run['model']}, {run['prover']}, split {run['split']}, {run['search']}"


def load_runs(run_dirs: Sequence[Path]) -> list[LoadedRun]:
    """Read each run directory (read-only); the same directory twice is a mistake."""
    if len(run_dirs) > len(string.ascii_uppercase):
        raise UserError(f"at most {len(string.ascii_uppercase)} runs can be compared, got {len(run_dirs)}")
    seen: dict[Path, Path] = {}
    for run_dir in run_dirs:
        resolved = Path(run_dir).resolve()
        if resolved in seen:
            raise UserError(f"{run_dir} is given twice (also as {seen[resolved]})")
        seen[resolved] = Path(run_dir)
    runs = []
    for key, run_dir in zip(string.ascii_uppercase, run_dirs):
        config, records = load_run(Path(run_dir))
        runs.append(LoadedRun(key, Path(run_dir), config, tuple(records), summarise(config, records)))
    return runs


def _cell(tally: Tally | None) -> str:
    if tally is None or not tally.total:
        return "-"
    return f"{tally.rate_text()} ({tally.proved}/{tally.finished})"


def comparison_rows(runs: Sequence[LoadedRun]) -> list[tuple[str, list[str]]]:
    """(row label, one cell per run): finished, all, each split, each family any run has, paper."""
    rows: list[tuple[str, list[str]]] = [
        ("finished", [f"{r.summary.overall.finished}/{r.summary.overall.total}" for r in runs]),
        ("all", [_cell(r.summary.overall) for r in runs]),
    ]
    splits = list(dict.fromkeys(s for r in runs for s in r.summary.by_split))
    if len(splits) > 1 or any(len(r.summary.by_split) > 1 for r in runs):
        rows += [(f"split: {s}", [_cell(r.summary.by_split.get(s)) for r in runs]) for s in splits]
    families = [f for f in runs[0].summary.by_family if any(r.summary.by_family[f].total for r in runs)]
    rows += [(f, [_cell(r.summary.by_family.get(f)) for r in runs]) for f in families]
    if any(r.summary.paper for r in runs):
        rows.append(("paper (same setting)", [f"{r.summary.paper.label}: {r.summary.paper.text()}" if r.summary.paper else "-" for r in runs]))
    return rows


def comparison_notes(runs: Sequence[LoadedRun]) -> list[str]:
    notes = ["cells: rate over finished theorems (proved/finished)"]
    selections = {frozenset(_names(r)) for r in runs}
    if len(selections) > 1:
        notes.append("the runs did not ask for the same theorems, so their rates are not over the same problems")
    for run in runs:
        if not run.summary.paper:
            notes.append(f"{run.key}: no paper number ({run.summary.paper_note})")
        if run.stand_in:
            notes.append(f"{run.key}: {STAND_IN_NOTE}")
    return notes


def _names(run: LoadedRun) -> tuple[str, ...]:
    return tuple(dict.fromkeys(list(run.config.selection) + [r.name for r in run.records]))


def comparison_markdown(runs: Sequence[LoadedRun]) -> str:
    lines = ["# llemma-prove runs compared", ""]
    lines += [f"- **{r.key}**: {r.describe()}" for r in runs]
    lines += ["", "| group | " + " | ".join(r.key for r in runs) + " |", "|---|" + "---|" * len(runs)]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in comparison_rows(runs)]
    lines.append("")
    lines += [f"Note: {note}." for note in comparison_notes(runs)]
    return "\n".join(lines) + "\n"


def comparison_legend(runs: Sequence[LoadedRun]) -> list[str]:
    """What each column is, then the notes: printed under the table."""
    return [f"{r.key} = {r.describe()}" for r in runs] + comparison_notes(runs)


def comparison_rich_table(runs: Sequence[LoadedRun]) -> Any:
    from rich.table import Table

    table = Table(title="runs compared")
    table.add_column("group")
    for run in runs:
        table.add_column(run.key, justify="right")
    for label, cells in comparison_rows(runs):
        table.add_row(label, *cells)
    return table
