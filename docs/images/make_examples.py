"""Regenerate the example images in docs/images from stand-in runs (scripted test doubles, no Lean, no
model): every image says so in its title or banner, and none of its numbers is a measurement.

    python docs/images/make_examples.py        # from the repository root; needs matplotlib and chromium
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from llemma_prove import plots, viewer  # noqa: E402
from llemma_prove.compare import load_runs  # noqa: E402
from llemma_prove.search import SearchConfig  # noqa: E402
from tests.runner.stand_in_runs import build_run  # noqa: E402

OUT = Path(__file__).resolve().parent
FAMILIES = ["mathd_algebra", "mathd_numbertheory", "amc12a_2019_p", "aime_1990_p", "imo_1964_p", "induction_"]


def _theorems() -> tuple[dict[str, int], list[str]]:
    depths, dead = {}, []
    for i in range(36):
        name = f"{FAMILIES[i % len(FAMILIES)]}{i + 1}"
        depths[name] = 1 + (i * 7) % 5
        if i % len(FAMILIES) >= 3 or i % 4 == 0:
            dead.append(name)
    return depths, dead


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        depths, dead = _theorems()
        wide = build_run(base / "stand-in-100-expansions", depths, dead=dead, delay_s=0.004, concurrency=6)
        narrow = build_run(base / "stand-in-3-expansions", depths, dead=dead, delay_s=0.004, concurrency=6,
                           search=SearchConfig(max_expansions=3))
        runs = load_runs([wide, narrow])
        data = [plots.RunData(r.legend, r.summary, r.records, r.stand_in) for r in runs]
        plots.write_comparison_plot(OUT / "example-comparison.png", data)
        one = plots.RunData("stand-in run", runs[0].summary, runs[0].records, runs[0].stand_in)
        plots.save(plots.families_figure(one), OUT / "example-families.png")

        page = viewer.write_html(viewer.load_view(wide, "amc12a_2019_p3"), base / "tree.html")
        node = viewer.load_view(wide, "amc12a_2019_p3").path_nodes[2]
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            sys.exit("chromium not found: the viewer screenshot needs it")
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={base / 'profile'}", "--window-size=1300,720",
                        f"--screenshot={OUT / 'example-show.png'}", page.resolve().as_uri() + f"#node={node}"],
                       check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       start_new_session=True)
    for name in ("example-comparison.png", "example-families.png", "example-show.png"):
        print(OUT / name, (OUT / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
