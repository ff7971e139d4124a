"""`llemma-prove show RUN THEOREM` and its search-tree page, over run directories made by the real runner
with scripted doubles. The page is loaded in a real headless Chromium (Debian's `chromium`, installed
by .ci/run when missing): what its script drew is read back from the DOM and from a screenshot."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
from collections import Counter
from html import unescape
from pathlib import Path

import pytest

from llemma_prove import viewer
from llemma_prove.runner import Runner, RunnerOptions
from llemma_prove.search import SearchConfig
from llemma_prove.store import RunStore
from tests.cli.test_cli import run_cli
from tests.runner.cli_inproc import assert_one_line_error, cli
from tests.doubles.scripted import ScriptedProposer, ScriptedProver, fails, goes_to, proves
from tests.runner.common import config, theorem
from tests.runner.stand_in_runs import build_run

DEPTHS = {"mathd_algebra_2": 3, "imo_1959_p1": 4, "amc12a_2020_p1": 2, "induction_1": 2}
HOSTILE_TACTIC = '</script><img src=x onerror="document.title=\'pwned\'">'
HOSTILE_MESSAGE = "<b>bold</b> & </pre><script>document.title='pwned'</script>"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("show") / "run", DEPTHS, dead=["amc12a_2020_p1"], reject=["induction_1"])


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    """A theorem whose candidate tactics and prover messages try to break out of the page."""
    name, root, middle = "mathd_numbertheory_1", "⊢ a < b", "h : a <b>\n⊢ </script>"
    prover = ScriptedProver({root: {HOSTILE_TACTIC: fails(HOSTILE_MESSAGE), "intro h": goes_to(middle)},
                             middle: {"exact h": proves()}}, {name: root})
    proposer = ScriptedProposer({root: [(HOSTILE_TACTIC, -0.05), ("intro h", -0.1)], middle: [("exact h", -0.2)]})
    path = tmp_path_factory.mktemp("hostile") / "run"

    async def run() -> None:
        with RunStore.open(path, config([name], prover="test-doubles")) as store:
            await Runner(prover, proposer, SearchConfig.paper(), store, RunnerOptions(show_progress=False)).run(
                [theorem(name)])

    asyncio.run(run())
    return path


# -- the data behind the page ----------------------------------------------------------------------------


def test_proof_path_and_node_statuses_follow_the_graph(run_dir):
    view = viewer.load_view(run_dir, "imo_1959_p1")
    assert [s.tactic for s in view.path] == ["step_1", "step_2", "step_3", "step_4"] == list(view.record.proof)
    assert [s.score for s in view.path] == pytest.approx([-0.1, -0.2, -0.3, -0.4])
    graph = view.graph
    assert graph.nodes[view.path_nodes[-1]]["kind"] == "proved" and view.path_nodes[0] == graph.graph["root"]
    data = viewer.tree_data(view)
    assert len(data["nodes"]) == graph.number_of_nodes()
    statuses = Counter(n["status"] for n in data["nodes"])
    kinds = Counter(a["kind"] for _, a in graph.nodes(data=True))
    assert statuses["failed"] == kinds["error"] and statuses["timeout"] == kinds["timeout"] and statuses["closed"] == 1
    expanded = sum(1 for _, a in graph.nodes(data=True) if a.get("expanded_at") is not None)
    assert statuses["expanded"] == expanded == view.record.expansions
    assert statuses["queued"] >= 1  # the side branch of the last state was never expanded
    assert data["accepted"] and data["proof"].startswith("theorem imo_1959_p1") and "import" not in data["proof"]


def test_tree_parent_picks_the_creating_edge_when_states_are_merged():
    import networkx as nx

    g = nx.DiGraph(root=0)
    g.add_node(0, kind="state", depth=0, cost=0.0)
    g.add_node(1, kind="state", depth=1, cost=0.5)
    g.add_node(2, kind="state", depth=1, cost=0.1)
    g.add_node(3, kind="state", depth=2, cost=0.4)
    g.add_edge(0, 1, score=-0.5)
    g.add_edge(0, 2, score=-0.1)
    g.add_edge(2, 3, score=-0.3)  # created from node 2: 0.1 + 0.3
    g.add_edge(1, 3, score=-0.9)  # merged in later from node 1
    assert viewer.tree_parent(g, 3) == 2 and viewer.tree_parent(g, 0) is None


def test_rejected_proof_is_never_offered_as_a_proof(run_dir, capsys):
    view = viewer.load_view(run_dir, "induction_1")
    data = viewer.tree_data(view)
    assert view.path and data["proof"] is None and data["accepted"] is False and data["verdict"] == "rejected"
    code, out, err = cli(capsys, "show", str(run_dir), "induction_1")
    assert code == 0, err
    assert "not a proof" in out and ":= by" not in out
    assert_one_line_error(cli(capsys, "show", str(run_dir), "induction_1", "--proof-only"), "no accepted proof")


def test_embedded_data_cannot_close_its_script_element(hostile_run):
    html = viewer.render_html(viewer.tree_data(viewer.load_view(hostile_run, "mathd_numbertheory_1")))
    assert html.count("</script>") == 2 and "<img" not in html and "<b>" not in html  # our two script elements


# -- the command -----------------------------------------------------------------------------------------


def test_show_prints_the_proof_the_path_and_writes_the_page(run_dir, tmp_path, capsys):
    proc = run_cli("show", str(run_dir), "imo_1959_p1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "theorem imo_1959_p1 (x : ℕ) : x = x := by\n  step_1\n  step_2\n  step_3\n  step_4\n" in out
    assert re.search(r"^\s+4\s+-0\.400\s+\d+\.\d{3}s\s+step_4$", out, re.M), out
    page = run_dir / "graphs" / "imo_1959_p1.html"
    assert f"Search tree (18 nodes): {page}" in out and page.exists()
    code, out, _ = cli(capsys, "show", str(run_dir), "imo_1959_p1", "--proof-only")
    assert code == 0 and out == "theorem imo_1959_p1 (x : ℕ) : x = x := by\n  step_1\n  step_2\n  step_3\n  step_4\n"
    code, out, _ = cli(capsys, "show", str(run_dir), "amc12a_2020_p1", "-o", str(tmp_path / "t.html"))
    assert code == 0 and "not proved (status: exhausted)" in out and (tmp_path / "t.html").exists()


def test_show_errors_are_one_line(run_dir, tmp_path, capsys):
    assert cli(capsys, "show", "--help")[0] == 0
    assert_one_line_error(cli(capsys, "show", str(tmp_path / "nothing"), "x"), "is not a run directory")
    assert_one_line_error(cli(capsys, "show", str(run_dir), "imo_1959_p2"), "no result for 'imo_1959_p2'",
                          "did you mean imo_1959_p1")
    assert_one_line_error(cli(capsys, "show", str(run_dir), "zzzz"), "no result for 'zzzz'", "4 theorems have results")
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert_one_line_error(cli(capsys, "show", str(run_dir), "imo_1959_p1", "-o", str(blocked / "x.html")),
                          "cannot write", "--output")


def test_open_hands_the_page_to_the_browser(run_dir, tmp_path):
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\necho "$1" > {seen}\n')
    browser.chmod(0o755)
    proc = run_cli("show", str(run_dir), "mathd_algebra_2", "--open", env={"BROWSER": str(browser)})
    assert proc.returncode == 0, proc.stderr
    assert seen.read_text().strip() == (run_dir / "graphs" / "mathd_algebra_2.html").resolve().as_uri()


# -- the page in a real browser --------------------------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless Chromium found (Debian: apt-get install chromium; .ci/run installs it)")


def _browse(page: Path, fragment: str, tmp_path: Path, *mode: str) -> str:
    """Run headless Chromium on the page in its own process group, killed whatever happens."""
    argv = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,800", *mode,
            page.resolve().as_uri() + fragment]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True, cwd=tmp_path)
    try:
        out, _ = proc.communicate(timeout=90)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}"
    return out


def _nodes(dom: str) -> str:
    return dom[dom.index('<g id="nodes">'): dom.index('<g id="labels">')]


def _drawn(dom: str) -> Counter:
    return Counter(re.findall(r'class="node status-(\w+)', _nodes(dom)))


def test_the_browser_draws_every_node_and_shows_a_clicked_node(run_dir, tmp_path):
    view = viewer.load_view(run_dir, "imo_1959_p1")
    page = viewer.write_html(view, tmp_path / "tree.html")
    failed = next(n for n, a in view.graph.nodes(data=True) if a["kind"] == "error")
    parent = next(iter(view.graph.predecessors(failed)))
    dom = _browse(page, f"#node={failed}", tmp_path, "--dump-dom")
    assert 'data-ready="1"' in dom, "the page's script did not finish"
    drawn = _drawn(dom)
    kinds = Counter(viewer.node_status(a) for _, a in view.graph.nodes(data=True))
    assert drawn == kinds and sum(drawn.values()) == 18
    assert dom.count('class="edge on-path"') == 4 and len(re.findall(r'class="node status-\w+ on-path', _nodes(dom))) == 5
    detail = unescape(dom[dom.index('<section id="detail">'): dom.index('<section id="proof-box"')])
    assert f"Node {failed}: failed step" in detail
    assert view.graph.edges[parent, failed]["tactic"] in detail
    assert view.graph.nodes[failed]["message"] in detail  # the prover's message
    assert view.graph.nodes[parent]["text"] in detail  # the goal state it was tried on
    assert "step_1" in dom[dom.index('<ol id="path">'):]
    assert re.search(r'<div id="stand-in">stand-in run \(scripted test doubles\), not a measurement</div>', dom)
    hidden = _drawn(_browse(page, "#hide-failed", tmp_path, "--dump-dom"))
    assert sum(hidden.values()) == 18 - kinds["failed"] - kinds["timeout"] and not hidden["failed"]


def test_the_browser_shows_hostile_text_as_text(hostile_run, tmp_path):
    page = viewer.write_html(viewer.load_view(hostile_run, "mathd_numbertheory_1"), tmp_path / "hostile.html")
    view = viewer.load_view(hostile_run, "mathd_numbertheory_1")
    failed = next(n for n, a in view.graph.nodes(data=True) if a["kind"] == "error")
    dom = _browse(page, f"#node={failed}", tmp_path, "--dump-dom")
    assert 'data-ready="1"' in dom
    assert "<img" not in dom and "<b>" not in dom  # no element was made from the texts anywhere
    detail = dom[dom.index('<section id="detail">'): dom.index('<section id="proof-box"')]
    assert "<img" not in detail and "<b>" not in detail and "<script" not in detail
    assert HOSTILE_TACTIC in unescape(detail) and HOSTILE_MESSAGE in unescape(detail)
    assert "<title>llemma-prove: search tree of mathd_numbertheory_1</title>" in dom


def test_clicking_a_drawn_node_opens_its_goal_state(run_dir, tmp_path):
    view = viewer.load_view(run_dir, "mathd_algebra_2")
    page = viewer.write_html(view, tmp_path / "click.html")
    node = view.path_nodes[1]  # the state after step_1
    dom = _browse(page, f"#click={node}", tmp_path, "--dump-dom")
    detail = unescape(dom[dom.index('<section id="detail">'): dom.index('<section id="proof-box"')])
    assert f"Node {node}: expanded (on the path)" in detail and view.graph.nodes[node]["text"] in detail
    assert "step_1" in detail and re.search(rf'data-id="{node}" class="node status-expanded on-path selected"', dom)


def test_the_browser_marks_a_rejected_proof(run_dir, tmp_path):
    page = viewer.write_html(viewer.load_view(run_dir, "induction_1"), tmp_path / "rejected.html")
    dom = _browse(page, "", tmp_path, "--dump-dom")
    assert '<body class="rejected"' in dom and '<section id="proof-box" hidden="">' in dom
    banner = re.search(r'<div id="banner">([^<]*)</div>', dom)
    assert banner and "did not accept" in banner.group(1) and "It is not a proof" in banner.group(1)


def test_the_screenshot_shows_the_tree_in_its_colours(run_dir, tmp_path):
    PIL = pytest.importorskip("PIL.Image", reason="reading the screenshot needs Pillow")
    page = viewer.write_html(viewer.load_view(run_dir, "imo_1959_p1"), tmp_path / "tree.html")
    _browse(page, "", tmp_path, f"--screenshot={tmp_path / 'shot.png'}")
    image = PIL.open(tmp_path / "shot.png").convert("RGB")
    assert image.size == (1400, 800)
    colours = {rgb: count for count, rgb in image.getcolors(maxcolors=1400 * 800)}

    def near(rgb: tuple[int, int, int]) -> int:
        return sum(c for p, c in colours.items() if sum(abs(a - b) for a, b in zip(p, rgb)) < 40)

    assert near((0x2E, 0x9E, 0x4F)) > 300  # the proof path and the closing step (green)
    assert near((0xD4, 0x3D, 0x3D)) > 100  # failed steps (red)
    assert near((0x3B, 0x6F, 0xB6)) > 100  # expanded states (blue)
    assert near((0xF0, 0xA0, 0x30)) > 50  # timed-out steps (orange)


def test_a_theorem_that_never_started_has_no_tree(tmp_path, capsys):
    name = "mathd_algebra_9"
    prover, proposer = ScriptedProver({}, {}), ScriptedProposer({})  # the prover cannot open it

    async def run() -> None:
        with RunStore.open(tmp_path / "run", config([name], prover="test-doubles")) as store:
            await Runner(prover, proposer, SearchConfig.paper(), store, RunnerOptions(show_progress=False)).run(
                [theorem(name)])

    asyncio.run(run())
    code, out, err = cli(capsys, "show", str(tmp_path / "run"), name)
    assert code == 0, err
    assert "not proved (status: error)" in out and "could not open the theorem" in out
    assert "No search graph was stored" in out and not list((tmp_path / "run" / "graphs").glob("*.html"))
