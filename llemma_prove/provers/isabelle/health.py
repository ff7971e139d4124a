"""`llemma-prove setup isabelle` and `doctor`: check each piece of the Isabelle installation.

Each check names the piece, says whether it is there, and says what to do when it is not. Nothing
here starts a process: the checks look at files, so `doctor` is instant.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any, Sequence

from ...types import HealthCheck
from .options import (
    CONTEXT_THEORY_NAME,
    ENV_AFP,
    ENV_ISABELLE_HOME,
    ENV_PISA_JAR,
    IsabelleOptions,
    jar_server_ports,
)

README = "isabelle/README.md"
EXPECTED_ISABELLE = "Isabelle2022"
CORE_SESSIONS = ("HOL", "HOL-Library", "HOL-Computational_Algebra", "HOL-Number_Theory")
OPTIONAL_SESSIONS = {
    "HOL-Analysis": "needed by 1 miniF2F problem",
    "Symmetric_Polynomials": "AFP entry, needed by 2 miniF2F problems",
}
# Imports of the context theory PISA starts from (the union miniF2F needs, as the LLEMMA evaluation).
CONTEXT_IMPORTS = (
    "HOL.HOL",
    "Complex_Main",
    "HOL-Library.Code_Target_Numeral",
    "HOL-Library.Sum_of_Squares",
    "HOL-Computational_Algebra.Computational_Algebra",
    "HOL-Number_Theory.Number_Theory",
)
AFP_CONTEXT_IMPORT = "Symmetric_Polynomials.Vieta"
# Checks whose failure makes `PisaProver.start()` stop at once.
BLOCKING = ("java", "Isabelle home", "PISA jar", "PISA working directory", "PISA context theory", "PISA logic")


def isabelle_identifier(home: Path) -> str:
    """`Isabelle2022` from `etc/ISABELLE_IDENTIFIER` (release bundles) or the folder name."""
    ident = home / "etc" / "ISABELLE_IDENTIFIER"
    if ident.is_file():
        text = ident.read_text().strip()
        if text:
            return text
    name = home.name
    return name[:-4] if name.endswith(".app") else name


def heap_dirs(options: IsabelleOptions, env: dict[str, str] | None = None) -> list[Path]:
    """Folders where built session heaps (or their build logs) can live."""
    env = dict(os.environ) if env is None else env
    roots: list[Path] = []
    if options.isabelle_home is not None:
        ident = isabelle_identifier(options.isabelle_home)
        user = env.get("ISABELLE_HOME_USER")
        roots.append(Path(user).expanduser() if user else Path.home() / ".isabelle" / ident)
        roots.append(options.isabelle_home)
    found: list[Path] = []
    for root in roots:
        heaps = root / "heaps"
        if heaps.is_dir():
            found.extend(sorted(p for p in heaps.iterdir() if p.is_dir()))
    return found


def session_built(session: str, dirs: Sequence[Path]) -> bool:
    return any((d / session).is_file() or (d / "log" / f"{session}.db").is_file() for d in dirs)


def pisa_logic(theory_file: Path, working_dir: Path) -> str | None:
    """The logic (heap) PISA starts Isabelle with, by its own rule on the theory file path.

    PISA's PisaOS decides from the path: under an AFP `thys/` folder the entry's name; under
    `.../Isabelle.../src/` the working directory's path below `src/` joined by `-` (so
    `$ISABELLE_HOME/src/HOL/Examples` gives `HOL-Examples`); a path containing `miniF2F` gives `HOL`.
    Anything else is unsupported (None).
    """
    file, wd = str(theory_file), str(working_dir)
    if "afp" in file:
        rest = wd[wd.find("thys/") + 5 :] if "thys/" in wd else ""
        return rest.split("/")[0] or None
    if "Isabelle" in file and "/src/" in file:
        rest = wd[wd.find("/src/") + 5 :] if "/src/" in wd else ""
        return "-".join(part for part in rest.split("/") if part) or None
    if "miniF2F" in file:
        return "HOL"
    return None


def _check(name: str, ok: bool, detail: str, advice: str = "", required: bool = True) -> HealthCheck:
    return HealthCheck(name=name, ok=ok, detail=detail, advice="" if ok else advice, required=required)


def isabelle_health(options: IsabelleOptions, env: dict[str, str] | None = None) -> list[HealthCheck]:
    """One check per piece: java, Isabelle home and version, PISA jar, working dir, theory, sessions."""
    checks: list[HealthCheck] = []
    java = shutil.which(options.java)
    checks.append(
        _check("java", java is not None, java or f"{options.java!r} not on PATH", "install Java 11 or newer (PISA is a JVM program)")
    )

    home = options.isabelle_home
    home_ok = home is not None and (home / "bin" / "isabelle").is_file()
    if home is None:
        detail = f"{ENV_ISABELLE_HOME} not set"
    elif not home_ok:
        detail = f"{home} has no bin/isabelle"
    else:
        detail = str(home)
    checks.append(
        _check(
            "Isabelle home",
            home_ok,
            detail,
            f"install {EXPECTED_ISABELLE} and set {ENV_ISABELLE_HOME} to its folder",
        )
    )
    if home_ok:
        assert home is not None
        ident = isabelle_identifier(home)
        checks.append(
            _check(
                "Isabelle version",
                ident == EXPECTED_ISABELLE,
                ident,
                f"PISA's main branch is built against {EXPECTED_ISABELLE}; other versions are untested",
                required=False,
            )
        )

    jar = options.pisa_jar
    ports: tuple[int, ...] = ()
    jar_ok = False
    if jar is None:
        detail = f"{ENV_PISA_JAR} not set"
    elif not jar.is_file():
        detail = f"{jar} does not exist"
    elif not zipfile.is_zipfile(jar):
        detail = f"{jar} is not a jar file"
    else:
        ports = jar_server_ports(jar)
        jar_ok = bool(ports)
        detail = f"{jar} (servers on ports {', '.join(map(str, ports))})" if ports else f"{jar} has no pisa.server.PisaOneStageServer<PORT> class"
    checks.append(
        _check(
            "PISA jar",
            jar_ok,
            detail,
            f"build PISA (Portal-to-ISAbelle, main branch) with `sbt assembly` and set {ENV_PISA_JAR} to "
            "its target/scala-2.13/PISA-assembly-0.1.jar",
        )
    )
    if jar_ok and options.ports:
        missing = [p for p in options.ports if p not in ports]
        checks.append(
            _check(
                "PISA ports",
                not missing,
                ", ".join(map(str, options.ports)),
                f"the jar has no server class for port(s) {missing}; use some of {list(ports)}",
            )
        )

    wd = options.resolved_working_dir
    thy = options.resolved_theory_file
    logic = None
    if wd is not None and thy is not None:  # without Isabelle home these have no default: not repeated
        checks.append(
            _check(
                "PISA working directory",
                wd.is_dir(),
                str(wd),
                "set LLEMMA_PROVE_PISA_WORKING_DIR (default: $ISABELLE_HOME/src/HOL/Examples)",
            )
        )
        checks.append(
            _check(
                "PISA context theory",
                thy.is_file(),
                str(thy),
                f"run `llemma-prove setup isabelle` to write {CONTEXT_THEORY_NAME}.thy there (template: isabelle/)",
            )
        )
        logic = pisa_logic(thy, wd)
        checks.append(
            _check(
                "PISA logic",
                logic is not None,
                f"{logic} (PISA picks it from the theory file path)" if logic else f"none for {thy}",
                "put the context theory under $ISABELLE_HOME/src/HOL/Examples (the path must contain "
                "`Isabelle` and `/src/`, and not `afp`)",
            )
        )

    if home_ok:
        dirs = heap_dirs(options, env)
        if logic is not None and logic not in CORE_SESSIONS:
            built = session_built(logic, dirs)
            checks.append(
                _check(
                    f"session {logic}",
                    built,
                    ("built" if built else "not built") + " (the logic PISA starts with)",
                    f"isabelle build -b {logic}",
                )
            )
        for session in CORE_SESSIONS:
            built = session_built(session, dirs)
            checks.append(
                _check(
                    f"session {session}",
                    built,
                    "built" if built else "not built",
                    f"isabelle build -b {session}",
                )
            )
        for session, why in OPTIONAL_SESSIONS.items():
            built = session_built(session, dirs)
            advice = f"isabelle build -b {session}"
            if session == "Symmetric_Polynomials":
                advice = f"download the AFP (isa-afp.org), set {ENV_AFP} to its thys folder, then isabelle build -b -d $AFP Symmetric_Polynomials"
            checks.append(
                _check(f"session {session}", built, ("built" if built else "not built") + f" ({why})", advice, required=False)
            )

    client_ok = importlib.util.find_spec("isabelle_client") is not None
    checks.append(
        _check(
            "isabelle-client",
            client_ok,
            "installed" if client_ok else "not installed",
            "pip install 'llemma-prove[isabelle]' (used for the final whole-theory check)",
            required=False,
        )
    )
    return checks


def blocking_problems(checks: Sequence[HealthCheck]) -> list[HealthCheck]:
    return [c for c in checks if not c.ok and c.name in BLOCKING]


def unavailable_message(problems: Sequence[HealthCheck]) -> str:
    """One line naming every missing piece and what to do."""
    parts = [f"{c.name}: {c.detail} ({c.advice})" for c in problems]
    return "Isabelle backend unavailable: " + "; ".join(parts) + f". See {README}."


def context_theory_text(with_afp: bool = False) -> str:
    imports = list(CONTEXT_IMPORTS) + ([AFP_CONTEXT_IMPORT] if with_afp else [])
    names = " ".join(name if name in ("Complex_Main",) else f'"{name}"' for name in imports)
    return f"theory {CONTEXT_THEORY_NAME}\n  imports {names}\nbegin\n\nend\n"


def setup_isabelle(options: IsabelleOptions, console: Any, write_theory: bool = True) -> bool:
    """Check every piece, write the PISA context theory if it is missing, print what to do.

    Returns True when nothing required is missing. `console` is a `rich` Console (anything with
    `print`).
    """
    thy = options.resolved_theory_file
    wd = options.resolved_working_dir
    if write_theory and thy is not None and not thy.exists() and wd is not None and wd.is_dir():
        try:
            thy.write_text(context_theory_text(with_afp=options.afp_thys is not None))
            console.print(f"wrote the PISA context theory {thy}")
        except OSError as exc:
            console.print(f"could not write {thy}: {exc}")
    checks = isabelle_health(options)
    for check in checks:
        mark = "ok" if check.ok else ("MISSING" if check.required else "optional")
        line = f"[{mark}] {check.name}: {check.detail}"
        if not check.ok and check.advice:
            line += f"\n        -> {check.advice}"
        if _accepts_markup(console):
            console.print(line, markup=False, highlight=False)
        else:
            console.print(line)
    missing = [c for c in checks if c.required and not c.ok]
    if missing:
        console.print(f"{len(missing)} required piece(s) missing; see {README}")
    else:
        console.print("Isabelle backend ready")
    return not missing


def _accepts_markup(console: Any) -> bool:
    try:
        from rich.console import Console
    except ImportError:
        return False
    return isinstance(console, Console)
