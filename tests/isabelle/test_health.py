"""`setup isabelle` / `doctor` checks, and a prover that stops at once when Isabelle is missing."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from llemma_prove.errors import ProverUnavailable, UserError
from llemma_prove.provers.isabelle.health import (
    CORE_SESSIONS,
    context_root_text,
    context_theory_text,
    isabelle_health,
    pisa_logic,
    setup_isabelle,
)
from llemma_prove.provers.isabelle.options import IsabelleOptions
from llemma_prove.provers.isabelle.prover import PisaProver
from llemma_prove.provers.isabelle.theory import split_theory


def fake_installation(tmp_path: Path, sessions: tuple[str, ...] = CORE_SESSIONS) -> IsabelleOptions:
    """Files laid out like an Isabelle2022 install, a PISA jar and built heaps (nothing runs)."""
    home = tmp_path / "Isabelle2022"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "isabelle").write_text("#!/bin/sh\n")
    (home / "etc").mkdir()
    (home / "etc" / "ISABELLE_IDENTIFIER").write_text("Isabelle2022\n")
    (home / "src" / "HOL").mkdir(parents=True)
    heaps = tmp_path / "user" / "heaps" / "polyml-5.9_x86_64_32-linux"
    (heaps / "log").mkdir(parents=True)
    for session in sessions:
        (heaps / session).write_bytes(b"heap")
    jar = tmp_path / "PISA-assembly-0.1.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("pisa/server/PisaOneStageServer9000.class", b"")
        zf.writestr("pisa/server/PisaOneStageServer8000.class", b"")
    return IsabelleOptions(isabelle_home=home, pisa_jar=jar, java="sh")


def by_name(checks):
    return {c.name: c for c in checks}


def test_nothing_configured_names_every_missing_piece() -> None:
    checks = by_name(isabelle_health(IsabelleOptions(), env={}))
    for name in ("Isabelle home", "PISA jar"):
        assert not checks[name].ok and checks[name].advice, name
    assert "PISA context theory" not in checks  # follows from Isabelle home; not reported twice
    assert "ISABELLE_HOME" in checks["Isabelle home"].detail
    assert "LLEMMA_PROVE_PISA_JAR" in checks["PISA jar"].detail
    assert "Isabelle2022" in checks["Isabelle home"].advice
    assert "sbt assembly" in checks["PISA jar"].advice


def test_a_complete_installation_passes_and_missing_sessions_are_named(tmp_path: Path) -> None:
    options = fake_installation(tmp_path, sessions=("HOL", "HOL-Library"))
    env = {"ISABELLE_HOME_USER": str(tmp_path / "user")}
    out = io.StringIO()
    assert setup_isabelle(options, Console(file=out, width=200), write_theory=True, env=env) is False  # sessions missing
    thy = options.resolved_theory_file
    assert thy is not None and thy.read_text() == context_theory_text()
    assert (thy.parent / "ROOT").read_text() == context_root_text()  # the session image's ROOT, registered:
    assert (tmp_path / "user" / "ROOTS").read_text().splitlines() == [str(thy.parent)]
    checks = by_name(isabelle_health(options, env=env))
    for name in ("java", "Isabelle home", "Isabelle version", "PISA jar", "PISA working directory", "PISA context theory",
                 "PISA logic", "context session ROOT"):
        assert checks[name].ok, (name, checks[name])
    assert checks["PISA logic"].detail.startswith("HOL-LLemma_Prove")
    assert not checks["session HOL-LLemma_Prove"].ok and checks["session HOL-LLemma_Prove"].required
    assert "setup isabelle" in checks["session HOL-LLemma_Prove"].advice
    assert "9000, 8000" in checks["PISA jar"].detail
    assert checks["session HOL"].ok and checks["session HOL-Library"].ok
    assert not checks["session HOL-Number_Theory"].ok and checks["session HOL-Number_Theory"].required
    assert checks["session HOL-Number_Theory"].advice == "isabelle build -b HOL-Number_Theory"
    assert not checks["session Symmetric_Polynomials"].required and "AFP" in checks["session Symmetric_Polynomials"].advice

    options_all = fake_installation(tmp_path / "all", sessions=CORE_SESSIONS + ("HOL-LLemma_Prove",))
    checks = by_name(isabelle_health(options_all, env={"ISABELLE_HOME_USER": str(tmp_path / "all" / "user")}))
    assert all(checks[f"session {s}"].ok for s in CORE_SESSIONS + ("HOL-LLemma_Prove",))


def test_the_isabelle_folder_ships_the_context_session_root() -> None:
    """Item 11: a ROOT in isabelle/ defines the session image PISA's path rule selects."""
    root = Path(__file__).resolve().parents[2] / "isabelle" / "ROOT"
    assert root.read_text() == context_root_text()
    home = Path("/opt/Isabelle2022")
    options = IsabelleOptions(isabelle_home=home)
    assert options.resolved_working_dir == home / "src" / "HOL" / "LLemma_Prove"
    assert pisa_logic(options.resolved_theory_file, options.resolved_working_dir) == "HOL-LLemma_Prove"
    assert 'session "HOL-LLemma_Prove" = "HOL"' in root.read_text()


def test_archive_of_formal_proofs_must_be_in_roots_for_pisa(tmp_path: Path) -> None:
    """Item 14: with LLEMMA_PROVE_AFP the context imports an AFP theory PISA finds only through ROOTS."""
    from dataclasses import replace

    afp = tmp_path / "archive" / "thys"  # (a path containing "afp" would change PISA's logic rule)
    afp.mkdir(parents=True)
    options = replace(fake_installation(tmp_path), afp_thys=afp)
    env = {"ISABELLE_HOME_USER": str(tmp_path / "user")}
    check = by_name(isabelle_health(options, env=env))["AFP in ROOTS"]
    assert not check.ok and check.required and "ROOTS" in check.advice
    setup_isabelle(options, Console(file=io.StringIO(), width=200), env=env)
    assert by_name(isabelle_health(options, env=env))["AFP in ROOTS"].ok
    assert "Symmetric_Polynomials.Vieta" in (options.resolved_working_dir / "ROOT").read_text()


@pytest.mark.parametrize(
    "theory, work, logic",
    [
        ("/opt/Isabelle2022/src/HOL/Examples/Interactive.thy", "/opt/Isabelle2022/src/HOL/Examples", "HOL-Examples"),
        ("/opt/Isabelle2022/src/HOL/Number_Theory/Interactive.thy", "/opt/Isabelle2022/src/HOL/Number_Theory", "HOL-Number_Theory"),
        ("/data/miniF2F/isabelle/Interactive.thy", "/data/miniF2F/isabelle", "HOL"),
        ("/home/u/afp-2022-12-06/thys/Symmetric_Polynomials/I.thy", "/home/u/afp-2022-12-06/thys/Symmetric_Polynomials", "Symmetric_Polynomials"),
        ("/home/u/work/Interactive.thy", "/home/u/work", None),
    ],
)
def test_pisa_picks_its_logic_from_the_theory_path(theory: str, work: str, logic: str | None) -> None:
    assert pisa_logic(Path(theory), Path(work)) == logic


def test_context_theory_template_parses_as_a_theory_header() -> None:
    text = context_theory_text(with_afp=True)
    assert '"Symmetric_Polynomials.Vieta"' in text
    with pytest.raises(ValueError, match="no `theorem"):
        split_theory(text)  # a header and `end`, nothing else
    assert (Path(__file__).resolve().parents[2] / "isabelle" / "Interactive.thy").read_text() == context_theory_text()


async def test_start_without_isabelle_stops_at_once_naming_what_to_install(tmp_path: Path) -> None:
    prover = PisaProver(IsabelleOptions(ports=(9000,)))
    start = time.monotonic()
    with pytest.raises(ProverUnavailable) as info:
        await prover.start()
    assert time.monotonic() - start < 2.0
    message = str(info.value)
    assert isinstance(info.value, UserError) and "\n" not in message
    for piece in ("ISABELLE_HOME", "LLEMMA_PROVE_PISA_JAR", "Isabelle2022", "isabelle/README.md"):
        assert piece in message
    await prover.close()


def test_options_from_environment(tmp_path: Path) -> None:
    env = {
        "ISABELLE_HOME": str(tmp_path / "Isabelle2022"),
        "LLEMMA_PROVE_PISA_JAR": str(tmp_path / "pisa.jar"),
        "LLEMMA_PROVE_PISA_PORTS": "9000, 8000",
    }
    options = IsabelleOptions.from_env(env, step_timeout_s=20.0)
    assert options.isabelle_home == tmp_path / "Isabelle2022"
    assert options.ports == (9000, 8000)
    assert options.resolved_working_dir == tmp_path / "Isabelle2022" / "src" / "HOL" / "LLemma_Prove"
    assert options.resolved_theory_file == options.resolved_working_dir / "Interactive.thy"
    # client deadline: the configured limit (at most PISA's 30 s with `<allow more time>`) plus grace
    assert options.allow_more_time and options.step_deadline_s() == 20.0 + options.rpc_grace_s
    assert IsabelleOptions(step_timeout_s=60.0).step_deadline_s() == 30.0 + options.rpc_grace_s
    assert not IsabelleOptions().allow_more_time and IsabelleOptions().step_deadline_s() == 10.0 + options.rpc_grace_s


def test_setup_builds_the_context_session_image(tmp_path: Path) -> None:
    """Item 11: `setup isabelle` runs `isabelle build -b -d <folder of the ROOT> HOL-LLemma_Prove` once."""
    options = fake_installation(tmp_path)
    exe = options.isabelle_executable
    assert exe is not None
    calls = tmp_path / "calls.txt"
    exe.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    exe.chmod(0o755)
    env = {"ISABELLE_HOME_USER": str(tmp_path / "user")}
    setup_isabelle(options, Console(file=io.StringIO(), width=200), env=env)
    wd = options.resolved_working_dir
    assert calls.read_text().split() == ["build", "-b", "-d", str(wd), "HOL-LLemma_Prove"]
    setup_isabelle(options, Console(file=io.StringIO(), width=200), env=env, build=False)
    assert len(calls.read_text().splitlines()) == 1
