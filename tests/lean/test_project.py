"""The pinned Lake project, `setup lean`, `doctor` checks, and stopping early when Lean is missing.

Where a toolchain is needed, a stand-in `lake` (tests/lean/fake_lake.py, a test double) plays it.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from pathlib import Path

import psutil
import pytest

from llemma_prove.errors import ProverUnavailable
from llemma_prove.provers.lean import LeanOptions, LeanReplProver, lean_health, setup_lean
from llemma_prove.provers.lean import project as project_mod
from llemma_prove.provers.lean import setup as setup_mod
from llemma_prove.provers.lean.repl import LeanRepl

FAKE_LAKE = Path(__file__).resolve().parent / "fake_lake.py"
REPO_PROJECT = project_mod.repository_project_dir()


@pytest.fixture
def no_lean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH and ELAN_HOME with no Lean anywhere."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "no-elan"))
    return empty


@pytest.fixture
def stand_in_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`lake` on PATH is the stand-in; returns its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lake = bin_dir / "lake"
    lake.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_LAKE}" "$@"\n', encoding="utf-8")
    lake.chmod(0o755)
    log = tmp_path / "lake-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "no-elan"))
    monkeypatch.setenv("FAKE_LAKE_LOG", str(log))
    return log


def test_lean_project_pins_match_the_default_statement_set() -> None:
    assert (REPO_PROJECT / "lean-toolchain").read_text().strip() == project_mod.LEAN_TOOLCHAIN == "leanprover/lean4:v4.24.0"
    lakefile = (REPO_PROJECT / "lakefile.lean").read_text()
    assert re.search(r'require mathlib from git\s+"https://github.com/leanprover-community/mathlib4" @ "v4.24.0"', lakefile)
    assert re.search(r'require REPL from git\s+"https://github.com/leanprover-community/repl" @ "v4.24.0"', lakefile)
    assert re.search(r'require lean4checker from git\s+"https://github.com/leanprover/lean4checker" @ "v4.24.0"', lakefile)
    manifest = json.loads((REPO_PROJECT / "lake-manifest.json").read_text())
    mathlib = next(p for p in manifest["packages"] if p["name"] == "mathlib")
    assert mathlib["rev"] == project_mod.MATHLIB_REV == "f897ebcf72cd16f89ab4577d0c826cd14afaafc7"
    assert mathlib["inputRev"] == "v4.24.0" and not mathlib["inherited"]
    repl = next(p for p in manifest["packages"] if p["name"] == "REPL")
    assert repl["rev"] == project_mod.REPL_REV == "8fff8552292860d349b459d6a811e6915671dc0d"
    assert (repl["url"], repl["inputRev"], repl["configFile"], repl["inherited"]) == (
        "https://github.com/leanprover-community/repl", "v4.24.0", "lakefile.toml", False)
    assert project_mod.repl_pin(REPO_PROJECT) == project_mod.REPL_REV
    checker = next(p for p in manifest["packages"] if p["name"] == "lean4checker")
    assert checker["rev"] == project_mod.LEAN4CHECKER_REV == "da26eb05e9959402afcb9bd6dfe5dc4f700f70d6"
    assert checker["inputRev"] == "v4.24.0" and checker["url"] == "https://github.com/leanprover/lean4checker"


def test_pins_agree_with_the_upstream_statement_set_manifest() -> None:
    from tests.conftest import require_shared

    upstream = json.loads(require_shared("minif2f/lean4/upstream/yangky11-miniF2F-lean4/lake-manifest.json").read_text())
    ours = json.loads((REPO_PROJECT / "lake-manifest.json").read_text())
    revs = {p["name"]: p["rev"] for p in ours["packages"]}
    for package in upstream["packages"]:
        assert revs[package["name"]] == package["rev"], package["name"]


def test_doctor_names_what_is_missing(no_lean: Path, tmp_path: Path) -> None:
    checks = {c.name: c for c in lean_health(tmp_path / "nowhere")}
    assert not checks["Lean toolchain (elan, lake)"].ok and "elan" in checks["Lean toolchain (elan, lake)"].advice
    assert not checks["Lean project"].ok and "--lean-project" in checks["Lean project"].advice
    repo_checks = {c.name: c for c in lean_health(REPO_PROJECT)}
    if not (REPO_PROJECT / ".lake").exists():
        assert not repo_checks["Mathlib"].ok and "setup lean" in repo_checks["Mathlib"].advice
        assert not repo_checks["Lean REPL"].ok
        assert not repo_checks["lean4checker"].ok and "setup lean" in repo_checks["lean4checker"].advice


async def test_start_stops_before_any_work_when_lean_is_absent(no_lean: Path, no_leftover_children) -> None:
    prover = LeanReplProver(LeanOptions(project_dir=REPO_PROJECT))
    with pytest.raises(ProverUnavailable) as info:
        await prover.start()
    message = str(info.value)
    assert "lake" in message and "llemma-prove setup lean" in message and "llemma-prove doctor" in message
    assert "\n" not in message


def test_setup_without_elan_and_offline_says_so(no_lean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.lean.test_elan import unreachable_url

    monkeypatch.setenv("LLEMMA_PROVE_ELAN_INIT_URL", unreachable_url())
    out = io.StringIO()
    with pytest.raises(ProverUnavailable, match="offline: cannot download the elan installer") as info:
        setup_lean(tmp_path / "proj", out)
    assert "\n" not in str(info.value)
    assert (tmp_path / "proj" / "lakefile.lean").exists()  # the pinned template was laid out first
    assert re.search(r"\[1/8\] Lake project: .* \(\d+\.\d s\)", out.getvalue())


def test_setup_offline_says_so(stand_in_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def offline(*args, **kwargs) -> bool:
        return False

    monkeypatch.setattr(setup_mod, "online", offline)
    with pytest.raises(ProverUnavailable, match="offline: .*github.com"):
        setup_lean(tmp_path / "proj", io.StringIO())


def test_setup_with_the_wrong_toolchain_says_so(stand_in_lake: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LAKE_LEAN", "4.9.0")
    with pytest.raises(ProverUnavailable, match="wrong toolchain: .*Lean 4.9.0.*v4.24.0"):
        setup_lean(tmp_path / "proj", io.StringIO())


def test_setup_builds_the_project_step_by_step(stand_in_lake: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, no_leftover_children) -> None:
    async def reachable(*args, **kwargs) -> bool:
        return True

    monkeypatch.setattr(setup_mod, "online", reachable)
    project = tmp_path / "proj"
    out = io.StringIO()
    setup_lean(project, out)
    text = out.getvalue()
    for title in ("Lake project", "elan and lake", "toolchain leanprover/lean4:v4.24.0", "REPL pin",
                  "Mathlib cache", "REPL build", "lean4checker build", "REPL with Mathlib"):
        assert re.search(re.escape(title) + r".*: .* \(\d+\.\d s\)", text), title
    assert "Lean is ready" in text
    calls = [json.loads(line) for line in stand_in_lake.read_text().splitlines()]
    assert ["exe", "cache", "get"] in calls and ["build", "REPL/repl"] in calls
    assert ["build", "lean4checker/lean4checker"] in calls
    assert not any(call[:1] == ["update"] for call in calls)  # the REPL pin comes from the manifest
    assert "REPL pin: locked at tag v4.24.0 (8fff85522928)" in text
    assert all(c.ok for c in lean_health(project)), lean_health(project)
    # a second run has nothing left to download or build
    again = io.StringIO()
    setup_lean(project, again)
    assert "already present" in again.getvalue() and "already built" in again.getvalue()


def test_setup_never_runs_lake_update_and_names_a_missing_repl_pin(stand_in_lake: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`lake update` would run Mathlib's post-update hook (the whole cache download) inside that step's limit."""
    async def reachable(*args, **kwargs) -> bool:
        return True

    monkeypatch.setattr(setup_mod, "online", reachable)
    project = tmp_path / "proj"
    setup_mod.ensure_project(project)
    manifest = json.loads((project / "lake-manifest.json").read_text())
    manifest["packages"] = [p for p in manifest["packages"] if p["name"] != "REPL"]
    (project / "lake-manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ProverUnavailable, match=r"does not lock the REPL .*8fff8552292860d349b459d6a811e6915671dc0d"):
        setup_lean(project, io.StringIO())
    calls = [json.loads(line) for line in stand_in_lake.read_text().splitlines()]
    assert not any(call[:1] == ["update"] for call in calls)
    checks = {c.name: c for c in lean_health(project)}
    assert not checks["Lean REPL"].ok and "does not lock package `REPL`" in checks["Lean REPL"].detail


def test_doctor_reports_the_repl_pin(stand_in_lake: Path, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    setup_mod.ensure_project(project)
    detail = {c.name: c for c in lean_health(project)}["Lean REPL"].detail
    assert "locked at 8fff85522928 (tag v4.24.0)" in detail


async def test_launch_runs_the_repl_binary_itself_with_the_lake_environment(
    stand_in_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_leftover_children
) -> None:
    async def reachable(*args, **kwargs) -> bool:
        return True

    monkeypatch.setattr(setup_mod, "online", reachable)
    project = tmp_path / "proj"
    await setup_mod.setup_lean_async(project, None)
    launch = await project_mod.resolve_launch(LeanOptions(project_dir=project))
    assert launch.argv == (str(project_mod.repl_binary(project)),)
    assert launch.env is not None and launch.env["LEAN_PATH"].endswith(os.path.join("build", "lib", "lean"))
    repl = LeanRepl(launch, header="import Mathlib")
    await repl.start()
    try:
        process = psutil.Process(repl.pid)
        assert process.ppid() == os.getpid()  # no `lake` between us and the REPL
        assert os.getpgid(repl.pid) == repl.pid  # in its own process group
    finally:
        await repl.close()


def test_doctor_reports_the_memory_watch(tmp_path: Path) -> None:
    row = {c.name: c for c in lean_health(tmp_path / "nowhere")}["Lean memory limits"]
    resident = LeanOptions().resolved_memory_limit_mb()
    assert row.ok and f"restarted above {resident} MB resident" in row.detail
    assert f"address-space backstop {2 * resident + 16 * 1024} MB" in row.detail
