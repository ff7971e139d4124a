"""The summary of a run: proved / total and rate per split and per problem family.

Only what the results file holds is counted. The LLEMMA paper's number is shown beside ours only when
the run's configuration is the paper's (search settings, model, prompt, Lean 4 test split), with the
caveats that still separate the two (Lean version, statement set, and whether the run is complete).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .config import RunConfig
from .store import TheoremRecord
from .types import FAMILIES, SearchStatus, problem_family

PAPER_SPLIT_SIZE = 244
# What separates even a run in the paper's setting from the paper's own experiment (and cannot be removed).
PAPER_LEAN = "Lean 4 nightly-2023-08-19 through LeanDojo 1.1.2"
PAPER_STATEMENTS = "the statements of rah4927/lean-dojo-mew@d00c776"


def paper_caveat(config: RunConfig) -> str:
    """The lineage note printed beside the paper's number: whose Lean and whose statements."""
    toolchain = config.prover.toolchain or "the Lake project's Lean"
    return (f"The paper ran {PAPER_LEAN} on {PAPER_STATEMENTS}; this run used {toolchain} through "
            f"{'LeanDojo' if config.prover.name == 'dojo' else 'the Lean REPL'} on {config.statements.describe()}, "
            "whose statements differ for some problems: the setting is the paper's, the experiment is not "
            "statement for statement the same.")


@dataclass(frozen=True)
class PaperReference:
    """A published number for one model in the paper's Lean 4 miniF2F-test setting (DESIGN section 6)."""

    label: str
    proved: int
    total: int
    source: str = "Azerbayev et al., LLEMMA (2023), Table: Lean 4 miniF2F-test, best-first search 1x32x100"

    @property
    def rate(self) -> float:
        return self.proved / self.total

    def text(self) -> str:
        return f"{100 * self.rate:.2f}% ({self.proved}/{self.total})"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "proved": self.proved, "total": self.total, "rate": round(self.rate, 6),
                "source": self.source}


PAPER_RESULTS: dict[str, PaperReference] = {
    "EleutherAI/llemma_7b": PaperReference("Llemma-7b", 64, PAPER_SPLIT_SIZE),
    "EleutherAI/llemma_34b": PaperReference("Llemma-34b", 63, PAPER_SPLIT_SIZE),
}


def paper_differences(config: RunConfig) -> list[str]:
    """Each result-changing setting, by name, that is not the harness's (empty: the paper's setting)."""
    from .proposers.prompts import HARNESS_PROMPT_SHA256

    reasons = []
    if config.model.model_id not in PAPER_RESULTS:
        reasons.append(f"model {config.model.model_id} (the paper reports {', '.join(PAPER_RESULTS)})")
    if config.split != "test":
        reasons.append(f"split {config.split} (the paper reports test)")
    if config.prover.name not in ("lean", "dojo"):
        reasons.append(f"prover {config.prover.name} (the paper's number is for Lean 4)")
    if config.model.prompt_sha256 != HARNESS_PROMPT_SHA256:
        digest = (config.model.prompt_sha256 or "unknown")[:12]
        reasons.append(f"prompt sha256 {digest} (the harness's is {HARNESS_PROMPT_SHA256[:12]})")
    reasons.extend(config.search.paper_differences())
    return reasons


def paper_reference(config: RunConfig) -> tuple[PaperReference | None, str]:
    """The paper's number for this configuration, or None and every setting that differs, by name."""
    reasons = paper_differences(config)
    if reasons:
        return None, "settings differ from the paper's: " + "; ".join(reasons)
    return PAPER_RESULTS[config.model.model_id], paper_caveat(config)


@dataclass(frozen=True)
class Tally:
    """Counts for one group of theorems. `rate` is over finished theorems; None when none finished."""

    proved: int = 0
    finished: int = 0
    total: int = 0

    @property
    def rate(self) -> float | None:
        return self.proved / self.finished if self.finished else None

    @property
    def complete(self) -> bool:
        return self.finished >= self.total

    def rate_text(self) -> str:
        return "-" if self.rate is None else f"{100 * self.rate:.2f}%"

    def to_json(self) -> dict[str, Any]:
        return {
            "proved": self.proved,
            "finished": self.finished,
            "total": self.total,
            "rate": None if self.rate is None else round(self.rate, 6),
        }


@dataclass(frozen=True)
class Summary:
    run: dict[str, Any]
    overall: Tally
    by_split: dict[str, Tally]
    by_family: dict[str, Tally]
    statuses: dict[str, int]
    paper: PaperReference | None
    paper_note: str
    notes: tuple[str, ...] = ()
    generated_at: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def complete(self) -> bool:
        return self.overall.complete

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "complete": self.complete,
            "overall": self.overall.to_json(),
            "by_split": {k: v.to_json() for k, v in self.by_split.items()},
            "by_family": {k: v.to_json() for k, v in self.by_family.items()},
            "statuses": dict(self.statuses),
            "paper": self.paper.to_json() if self.paper else None,
            "paper_note": self.paper_note,
            "notes": list(self.notes),
            "generated_at": self.generated_at,
        }


def _tally(names: Iterable[str], records: Mapping[str, TheoremRecord]) -> Tally:
    names = list(names)
    done = [records[n] for n in names if n in records]
    return Tally(proved=sum(r.proved for r in done), finished=len(done), total=len(names))


def summarise(config: RunConfig, records: Iterable[TheoremRecord]) -> Summary:
    """Summary over every theorem this run directory was asked for or holds a result for."""
    by_name = {r.name: r for r in records}
    names = list(dict.fromkeys(list(config.selection) + list(by_name)))
    split_of = {n: (by_name[n].split if n in by_name else config.split) for n in names}
    splits = sorted(set(split_of.values()))
    statuses = {s.value: 0 for s in SearchStatus}
    for record in by_name.values():
        statuses[record.status] = statuses.get(record.status, 0) + 1
    paper, paper_note = paper_reference(config)
    overall = _tally(names, by_name)
    notes = []
    if not overall.complete:
        notes.append(
            f"incomplete: {overall.finished} of {overall.total} theorems finished; rates are over finished theorems"
        )
    if paper and overall.total != PAPER_SPLIT_SIZE:
        notes.append(f"this run covers {overall.total} of the {PAPER_SPLIT_SIZE} test problems the paper used")
    run = {
        "task": config.task,
        "split": config.split,
        "statements": config.statements.describe(),
        "model": config.model.model_id,
        "model_backend": config.model.backend,
        "prover": config.prover.name,
        "search": _search_text(config),
        "prompt": f"{config.model.prompt_source or config.model.prompt_path or 'unknown'} "
                  f"(sha256 {(config.model.prompt_sha256 or '?')[:12]})",
        "fingerprint": config.fingerprint(),
    }
    return Summary(
        run=run,
        overall=overall,
        by_split={s: _tally([n for n in names if split_of[n] == s], by_name) for s in splits},
        by_family={f: _tally([n for n in names if problem_family(n) == f], by_name) for f in FAMILIES},
        statuses=statuses,
        paper=paper,
        paper_note=paper_note,
        notes=tuple(notes),
    )


def _search_text(config: RunConfig) -> str:
    search = config.search
    sampling = search.sampling
    text = (
        f"{search.max_expansions} expansions x {sampling.n} candidates ({sampling.method.value}), "
        f"{search.time_limit_s:g} s per theorem"
    )
    improvements = search.improvements()
    if improvements:
        text += "; " + ", ".join(improvements)
    return text


def _rows(summary: Summary) -> list[tuple[str, Tally, str]]:
    """(group, tally, paper column) for the table: overall, splits, then families with theorems."""
    paper_text = summary.paper.text() if summary.paper else ""
    rows = [("all", summary.overall, paper_text)]
    for split, tally in summary.by_split.items():
        rows.append((f"split: {split}", tally, paper_text if split == "test" else ""))
    for family, tally in summary.by_family.items():
        if tally.total:
            rows.append((family, tally, ""))
    return rows


def to_markdown(summary: Summary) -> str:
    run = summary.run
    lines = [
        "# llemma-prove run summary",
        "",
        f"- statements: {run['statements']}, split {run['split']}",
        f"- model: {run['model']} ({run['model_backend']}); prover: {run['prover']}",
        f"- search: {run['search']}",
        "",
    ]
    with_paper = summary.paper is not None
    head = "| group | proved / total | finished | rate |" + (" paper |" if with_paper else "")
    lines += [head, "|---|---|---|---|" + ("---|" if with_paper else "")]
    for group, tally, paper in _rows(summary):
        row = f"| {group} | {tally.proved}/{tally.total} | {tally.finished}/{tally.total} | {tally.rate_text()} |"
        if with_paper:
            row += f" {paper} |"
        lines.append(row)
    outcomes = ", ".join(f"{k} {v}" for k, v in summary.statuses.items() if v) or "none yet"
    lines += ["", f"Outcomes: {outcomes}.", ""]
    if summary.paper:
        lines.append(f"Paper ({summary.paper.label}): {summary.paper.text()}. {summary.paper_note}")
    else:
        lines.append(f"No paper number is shown: {summary.paper_note}.")
    lines.append(f"Prompt: {run.get('prompt', 'unknown')}.")
    lines += [f"Note: {note}." for note in summary.notes]
    return "\n".join(lines) + "\n"


def rich_table(summary: Summary) -> Any:
    """The summary as a `rich` table (imported lazily; the report module itself stays light)."""
    from rich.table import Table

    title = f"miniF2F {summary.run['split']}: {summary.run['model']} / {summary.run['prover']}"
    caption = summary.paper_note if summary.paper else f"no paper number: {summary.paper_note}"
    if summary.notes:
        caption += "\n" + "\n".join(summary.notes)
    table = Table(title=title, caption=caption, caption_justify="left")
    table.add_column("group")
    table.add_column("proved / total", justify="right")
    table.add_column("finished", justify="right")
    table.add_column("rate", justify="right")
    if summary.paper:
        table.add_column(f"paper ({summary.paper.label})", justify="right")
    for group, tally, paper in _rows(summary):
        cells = [group, f"{tally.proved}/{tally.total}", f"{tally.finished}/{tally.total}", tally.rate_text()]
        if summary.paper:
            cells.append(paper)
        table.add_row(*cells)
    return table


def write_summary(store: Any) -> Summary:
    """Summarise an open `RunStore` and write `summary.json` and `summary.md` into it."""
    summary = summarise(store.config, store.records())
    store.write_summary(summary.to_json(), to_markdown(summary))
    return summary


def write_plots(run_dir: Any, config: RunConfig, records: Iterable[TheoremRecord], summary: Summary | None = None,
                out_dir: Any = None) -> list[Any]:
    """Draw the run's plots (see plots.py) next to its summary.md, or into `out_dir`; returns the files.
    Needs matplotlib (the `plot` extra): `plots.PlotsUnavailable` says so otherwise."""
    from pathlib import Path

    from .plots import RunData, write_run_plots

    records = list(records)
    data = RunData.of(Path(run_dir).resolve().name, config, records, summary or summarise(config, records))
    return write_run_plots(Path(out_dir if out_dir is not None else run_dir), data)
