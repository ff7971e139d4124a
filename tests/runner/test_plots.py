"""Plots and run comparison over run directories made by the real runner with scripted doubles: the
numbers drawn are read back from the figures, the files are checked as PNGs, and `report` is run as a
user runs it."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="plots need the plot extra (matplotlib)")

from llemma_prove import plots  # noqa: E402
from llemma_prove.compare import comparison_markdown, comparison_rows, load_runs  # noqa: E402
from llemma_prove.search import SearchConfig  # noqa: E402
from llemma_prove.store import load_run  # noqa: E402
from tests.cli.test_cli import run_cli  # noqa: E402
from tests.runner.cli_inproc import assert_one_line_error, cli  # noqa: E402
from tests.runner.stand_in_runs import build_run  # noqa: E402

DEPTHS = {"mathd_algebra_1": 1, "mathd_algebra_2": 3, "mathd_numbertheory_7": 2, "amc12a_2020_p1": 2,
          "imo_1959_p1": 4, "induction_1": 2}
DEAD, REJECT = ["amc12a_2020_p1"], ["induction_1"]
PROVED = {"mathd_algebra_1": 1, "mathd_algebra_2": 3, "mathd_numbertheory_7": 2, "imo_1959_p1": 4}  # name: steps


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("plots")
    return {
        # the paper's setting (Lean prover name, paper search, test split, Llemma-7b): the paper bar applies
        "paper": build_run(base / "paper", DEPTHS, dead=DEAD, reject=REJECT, prover="lean"),
        "stand_in": build_run(base / "stand_in", DEPTHS, dead=DEAD, reject=REJECT),
        "small": build_run(base / "small", {n: DEPTHS[n] for n in list(DEPTHS)[:3]},
                           search=SearchConfig(max_expansions=2)),
    }


def _data(run_dir: Path, label: str = "run") -> plots.RunData:
    config, records = load_run(run_dir)
    return plots.RunData.of(label, config, records)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_family_bars_are_the_summary_rates_and_the_paper_bar_only_when_comparable(runs):
    data = _data(runs["paper"])
    fig = plots.families_figure(data)
    ax = fig.axes[0]
    ours = [p for p in ax.patches if p.get_gid() == "ours"]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["all", "mathd algebra", "mathd number theory", "amc", "imo", "induction"]
    expected = {"all": 4 / 6, "mathd algebra": 1.0, "mathd number theory": 1.0, "amc": 0.0, "imo": 1.0,
                "induction": 0.0}  # induction_1's proof was rejected by the final check: not counted
    assert [round(p.get_height(), 6) for p in ours] == [round(100 * expected[g], 6) for g in labels]
    paper = [p for p in ax.patches if p.get_gid() == "paper"]
    assert len(paper) == 1 and round(paper[0].get_height(), 2) == 26.23  # 64/244, beside "all" only
    assert "stand-in" not in fig._suptitle.get_text()

    stand_in = plots.families_figure(_data(runs["stand_in"]))
    assert not [p for p in stand_in.axes[0].patches if p.get_gid() == "paper"]
    assert plots.STAND_IN_NOTE in stand_in._suptitle.get_text()
    assert "no paper number" in stand_in.axes[0].get_title()


def test_progress_curves_count_proved_theorems_by_expansions_and_time(runs):
    config, records = load_run(runs["stand_in"])
    fig = plots.progress_figure(plots.RunData.of("run", config, records))
    time_ax, exp_ax = fig.axes
    proved = [r for r in records if r.proved]
    (line,) = [l for l in exp_ax.get_lines() if l.get_gid() == "proved"]
    xs, ys = list(line.get_xdata()), list(line.get_ydata())
    assert xs[: len(proved) + 1] == [0.0] + sorted(float(r.expansions) for r in proved)
    assert ys[: len(proved) + 1] == list(range(len(proved) + 1)) and ys[-1] == 4
    assert xs[-1] == max(r.expansions for r in records)  # runs on to the dead end's budget
    (tline,) = [l for l in time_ax.get_lines() if l.get_gid() == "proved"]
    assert list(tline.get_xdata())[1 : len(proved) + 1] == sorted(r.elapsed_s for r in proved)


def test_distributions_histogram_the_accepted_proofs(runs):
    fig = plots.distributions_figure(_data(runs["stand_in"]))
    lengths_ax, times_ax = fig.axes
    heights = {round(p.get_x() + p.get_width() / 2): p.get_height() for p in lengths_ax.patches}
    assert heights == {1: 1, 2: 1, 3: 1, 4: 1}  # the rejected 2-step proof is not counted
    assert sum(p.get_height() for p in times_ax.patches) == len(PROVED)


def test_plots_of_a_run_without_proofs_say_so(runs, tmp_path):
    run = build_run(tmp_path / "none", {"aime_1983_p1": 2}, dead=["aime_1983_p1"])
    fig = plots.distributions_figure(_data(run))
    assert all("no accepted proof" in [t.get_text() for t in ax.texts] for ax in fig.axes)
    for path in plots.write_run_plots(run, _data(run)):
        assert _png_size(path)[0] > 0


def test_comparison_figure_and_table(runs):
    loaded = load_runs([runs["stand_in"], runs["small"]])
    rows = dict(comparison_rows(loaded))
    assert rows["finished"] == ["6/6", "3/3"]
    assert rows["all"] == ["66.67% (4/6)", "66.67% (2/3)"]  # small: the 3-step proof needs 3 expansions > 2
    assert rows["mathd algebra"] == ["100.00% (2/2)", "50.00% (1/2)"]
    assert rows["imo"] == ["100.00% (1/1)", "-"]
    text = comparison_markdown(loaded)
    assert "| group | A | B |" in text and "not over the same problems" in text and plots.STAND_IN_NOTE in text
    fig = plots.comparison_figure([plots.RunData(r.legend, r.summary, r.records, r.stand_in) for r in loaded])
    bars, by_time, by_exp = fig.axes
    a_bars = [p.get_height() for p in bars.patches if p.get_gid() == "run-0"]
    b_bars = [p.get_height() for p in bars.patches if p.get_gid() == "run-1"]
    assert [t.get_text() for t in bars.get_xticklabels()][:2] == ["all", "mathd algebra"]
    assert round(a_bars[0], 4) == round(100 * 4 / 6, 4) and round(b_bars[1], 4) == 50.0
    curves = {l.get_gid(): list(l.get_ydata()) for l in by_exp.get_lines()}
    assert curves["run-1"][-1] == pytest.approx(100 * 2 / 3)  # as % of each run's own theorems


def test_comparison_shows_the_paper_number_only_for_the_comparable_run(runs):
    rows = dict(comparison_rows(load_runs([runs["paper"], runs["stand_in"]])))
    assert rows["paper (same setting)"] == ["Llemma-7b: 26.23% (64/244)", "-"]
    assert rows["all"] == ["66.67% (4/6)", "66.67% (4/6)"]  # same theorems, same doubles


def test_comparing_a_run_with_itself_is_refused(runs):
    from llemma_prove.errors import UserError

    with pytest.raises(UserError, match="given twice"):
        load_runs([runs["small"], runs["small"] / "." ])


def test_report_writes_the_plots_next_to_the_summary(runs, tmp_path, capsys):
    proc = run_cli("report", str(runs["paper"]))
    assert proc.returncode == 0, proc.stderr
    for name in (plots.FAMILIES_PNG, plots.PROGRESS_PNG, plots.DISTRIBUTIONS_PNG):
        width, height = _png_size(runs["paper"] / name)
        assert width >= 800 and height >= 400
        assert name in proc.stderr
    assert (runs["paper"] / "summary.md").exists()
    quiet = build_run(tmp_path / "quiet", {"mathd_algebra_1": 1})
    assert cli(capsys, "report", str(quiet), "--no-plots")[0] == 0 and not list(quiet.glob("*.png"))


def test_report_compares_runs_side_by_side(runs, tmp_path, capsys):
    code, out, err = cli(capsys, "report", str(runs["stand_in"]), str(runs["small"]), "--markdown",
                         "--plots-dir", str(tmp_path))
    assert code == 0, err
    assert "| all | 66.67% (4/6) | 66.67% (2/3) |" in out
    assert _png_size(tmp_path / plots.COMPARISON_PNG) == (1500, 460)
    assert_one_line_error(cli(capsys, "report", str(runs["stand_in"]), str(tmp_path / "missing")),
                          "is not a run directory")


def test_without_matplotlib_plots_are_a_clear_error(monkeypatch, runs):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if not installed
    with pytest.raises(plots.PlotsUnavailable, match=r"pip install 'llemma-prove\[plot\]'"):
        plots.families_figure(_data(runs["small"]))


def test_plots_not_asked_for_are_skipped_with_a_note_but_asked_for_they_must_work(runs, tmp_path, monkeypatch,
                                                                                  capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    code, _, err = cli(capsys, "report", str(runs["small"]), "--markdown", "--plots-dir", str(blocked / "plots"))
    assert code == 0 and "no plots: cannot write plots to" in err
    assert_one_line_error(cli(capsys, "report", str(runs["small"]), "--plots", "--plots-dir", str(blocked / "plots")),
                          "cannot write plots to")
    import importlib.util

    from llemma_prove.commands import report as report_command

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert report_command._want_plots(None) is False and report_command._want_plots(True) is True
