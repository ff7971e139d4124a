"""Pictures of runs: success rate per problem family, proved theorems against time and expansions,
proof length and time-to-proof distributions, and one figure comparing several runs.

The numbers come from the results file only (the same records `report` counts); the paper's number is
drawn only where `report.summarise` found the run comparable, and only as the single overall figure
the paper published (it gives no per-family numbers). A run made with the scripted test doubles says so
in every title. matplotlib is an optional extra (`llemma-prove[plot]`); it is imported only here, only
when a plot is drawn, and through its object API with the Agg canvas (no pyplot, no display needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .errors import UserError
from .report import Summary, Tally

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .config import RunConfig
    from .store import TheoremRecord

FAMILIES_PNG = "plot-families.png"
PROGRESS_PNG = "plot-progress.png"
DISTRIBUTIONS_PNG = "plot-distributions.png"
COMPARISON_PNG = "comparison.png"
STAND_IN_PROVER = "test-doubles"  # the prover name a run made with the test suite's stand-in plug-in records
STAND_IN_NOTE = "stand-in run (scripted test doubles), not a measurement"
OURS, PAPER = "#3b6fb6", "#c9a227"
COLOURS = ("#3b6fb6", "#d9652b", "#3e9651", "#8c4fb0", "#b8860b", "#5f6b7a", "#cc3d6e", "#2a9d8f")


class PlotsUnavailable(UserError):
    """matplotlib is not installed."""


@dataclass(frozen=True)
class RunData:
    """One run as the plots see it: a label, its summary and its records."""

    label: str
    summary: Summary
    records: tuple["TheoremRecord", ...]
    stand_in: bool = False

    @classmethod
    def of(cls, label: str, config: "RunConfig", records: Iterable["TheoremRecord"],
           summary: Summary | None = None) -> "RunData":
        from .report import summarise

        records = tuple(records)
        return cls(label, summary or summarise(config, records), records, config.prover.name == STAND_IN_PROVER)


# -- the numbers behind the plots (plain Python, tested without matplotlib) ----------------------------


def family_rows(summary: Summary) -> list[tuple[str, Tally]]:
    """("all", overall) then every family that has theorems in the run."""
    return [("all", summary.overall)] + [(f, t) for f, t in summary.by_family.items() if t.total]


def proved_curve(records: Iterable["TheoremRecord"], key: Callable[["TheoremRecord"], float]) -> tuple[list[float], list[int]]:
    """Step curve of proved theorems: at x, how many were proved within x (time or expansions each);
    it runs on flat to the largest x any finished theorem used."""
    records = list(records)
    xs = sorted(float(key(r)) for r in records if r.proved)
    ys = list(range(len(xs) + 1))
    xs = [0.0] + xs
    end = max((float(key(r)) for r in records), default=0.0)
    if end > xs[-1]:
        xs, ys = xs + [end], ys + [ys[-1]]
    return xs, ys


def proof_lengths(records: Iterable["TheoremRecord"]) -> list[int]:
    """Number of steps of each accepted proof."""
    return [len(r.proof) for r in records if r.proved and r.proof is not None]


def times_to_proof(records: Iterable["TheoremRecord"]) -> list[float]:
    """Seconds of search each proved theorem took (the final check is not included)."""
    return [r.elapsed_s for r in records if r.proved]


def _by_time(record: "TheoremRecord") -> float:
    return record.elapsed_s


def _by_expansions(record: "TheoremRecord") -> float:
    return record.expansions


# -- drawing --------------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> "Figure":
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotsUnavailable("plots need matplotlib: pip install 'llemma-prove[plot]'") from None
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _title(fig: "Figure", text: str, stand_in: bool) -> None:
    if stand_in:
        text += f"\n[{STAND_IN_NOTE}]"
    fig.suptitle(text, fontsize=11, color="#8b0000" if stand_in else "black")


def families_figure(run: RunData) -> "Figure":
    """Bars: rate over finished theorems per family; the paper's overall number beside 'all' when comparable."""
    fig = _figure(8.5, 4.2)
    ax = fig.add_subplot()
    rows = family_rows(run.summary)
    paper = run.summary.paper
    width = 0.38 if paper else 0.6
    positions = list(range(len(rows)))
    heights = [100 * (t.rate or 0.0) for _, t in rows]
    bars = ax.bar([p - (width / 2 if paper else 0) for p in positions], heights, width, color=OURS, label="this run",
                  gid="ours")
    for bar, (_, tally) in zip(bars, rows):
        text = f"{tally.proved}/{tally.finished}" if tally.finished else "none finished"
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    if paper:
        ax.bar([width / 2], [100 * paper.rate], width, color=PAPER, hatch="//", gid="paper",
               label=f"paper, {paper.label} (overall only)")
        ax.annotate(f"{paper.proved}/{paper.total}", (width / 2, 100 * paper.rate), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(positions, [name for name, _ in rows], rotation=20, ha="right")
    ax.set_ylabel("proved (% of finished)")
    ax.set_ylim(0, max([10.0] + heights + ([100 * paper.rate] if paper else [])) * 1.18)
    ax.legend(loc="upper right", fontsize=8)
    caption = "paper's number shown: same setting" if paper else f"no paper number: {run.summary.paper_note}"
    ax.set_title(_wrap(caption, 110), fontsize=8, color="#444444")
    _title(fig, f"Success rate by problem family: {run.label}", run.stand_in)
    return fig


def progress_figure(run: RunData) -> "Figure":
    """Proved theorems against the time and the expansions each needed (the curves search methods are
    compared by): a point (x, y) says y theorems were proved within x seconds / expansions each."""
    fig = _figure(10, 4)
    total = run.summary.overall.total
    for index, (key, label) in enumerate(((_by_time, "search time per theorem (s)"), (_by_expansions, "expansions per theorem"))):
        ax = fig.add_subplot(1, 2, index + 1)
        xs, ys = proved_curve(run.records, key)
        ax.step(xs, ys, where="post", color=OURS, label=f"proved ({ys[-1]})", gid="proved")
        ax.axhline(total, color="#999999", linestyle="--", linewidth=1, label=f"theorems in run ({total})")
        ax.set_xlabel(label)
        ax.set_ylabel("theorems proved")
        _counts(ax, "int" if key is _by_expansions else "time")
        ax.set_ylim(0, max(total, 1) * 1.08)
        ax.set_xlim(0, xs[-1] * 1.04 if xs[-1] > 0 else 1)
        ax.legend(loc="lower right", fontsize=8)
    _title(fig, f"Proved theorems against time and expansions: {run.label}", run.stand_in)
    return fig


def distributions_figure(run: RunData) -> "Figure":
    """Histograms of proof length (steps) and time to proof (seconds) over accepted proofs."""
    fig = _figure(10, 4)
    lengths = proof_lengths(run.records)
    times = times_to_proof(run.records)
    ax = fig.add_subplot(1, 2, 1)
    if lengths:
        top = max(lengths)
        ax.hist(lengths, bins=[b - 0.5 for b in range(1, top + 2)], color=OURS, edgecolor="white", gid="lengths")
        ax.set_xticks(range(1, top + 1))
    else:
        _empty(ax)
    ax.set_xlabel("proof length (steps)")
    ax.set_ylabel("proofs")
    _counts(ax, None)
    ax = fig.add_subplot(1, 2, 2)
    if times:
        ax.hist(times, bins=min(20, max(5, len(times))), color=OURS, edgecolor="white", gid="times")
    else:
        _empty(ax)
    ax.set_xlabel("time to proof (s of search)")
    ax.set_ylabel("proofs")
    _counts(ax, "time")
    _title(fig, f"Accepted proofs ({len(lengths)}): length and time: {run.label}", run.stand_in)
    return fig


def comparison_figure(runs: Sequence[RunData]) -> "Figure":
    """Several runs in one figure: rate per family side by side, and proved (% of each run's theorems)
    against time and against expansions."""
    fig = _figure(15, 4.6)
    groups = list(dict.fromkeys(name for run in runs for name, _ in family_rows(run.summary)))
    ax = fig.add_subplot(1, 3, 1)
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        tallies = dict(family_rows(run.summary))
        heights = [100 * ((tallies[g].rate or 0.0) if g in tallies else 0.0) for g in groups]
        offset = (i - (len(runs) - 1) / 2) * width
        ax.bar([p + offset for p in range(len(groups))], heights, width, color=COLOURS[i % len(COLOURS)],
               label=run.label, gid=f"run-{i}")
    ax.set_xticks(range(len(groups)), groups, rotation=25, ha="right")
    ax.set_ylabel("proved (% of finished)")
    ax.set_title("success rate by family", fontsize=10)
    ax.legend(fontsize=8)
    for column, (key, label) in enumerate(((_by_time, "search time per theorem (s)"), (_by_expansions, "expansions per theorem"))):
        ax = fig.add_subplot(1, 3, column + 2)
        for i, run in enumerate(runs):
            xs, ys = proved_curve(run.records, key)
            total = max(run.summary.overall.total, 1)
            ax.step(xs, [100 * y / total for y in ys], where="post", color=COLOURS[i % len(COLOURS)],
                    label=run.label, gid=f"run-{i}")
        ax.set_xlabel(label)
        ax.set_ylabel("proved (% of the run's theorems)")
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
        ax.set_title("proved against " + ("expansions" if key is _by_expansions else "search time"), fontsize=10)
    _title(fig, "Runs compared", any(run.stand_in for run in runs))
    return fig


def _counts(ax: Any, x: str | None) -> None:
    """Whole-number ticks on count axes; few ticks on an x axis of whole numbers ("int") or times ("time")."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if x is not None:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=x == "int"))


def _empty(ax: Any) -> None:
    ax.text(0.5, 0.5, "no accepted proof", ha="center", va="center", transform=ax.transAxes, color="#777777")


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


# -- files ----------------------------------------------------------------------------------------------


def save(fig: "Figure", path: Path) -> Path:
    """Write a PNG via a temporary name, so a reader never sees half an image."""
    from .store import write_atomic
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_atomic(Path(path), buffer.getvalue())
    return Path(path)


def run_figures(run: RunData) -> dict[str, "Figure"]:
    """The figures of one run, by file name."""
    return {
        FAMILIES_PNG: families_figure(run),
        PROGRESS_PNG: progress_figure(run),
        DISTRIBUTIONS_PNG: distributions_figure(run),
    }


def write_run_plots(out_dir: Path, run: RunData) -> list[Path]:
    """Write the figures of one run into `out_dir` (a run directory: next to summary.md)."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return [save(fig, out_dir / name) for name, fig in run_figures(run).items()]
    except OSError as exc:
        raise UserError(f"cannot write plots to {out_dir}: {exc.strerror or exc}") from None


def write_comparison_plot(path: Path, runs: Sequence[RunData]) -> Path:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return save(comparison_figure(runs), Path(path))
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
