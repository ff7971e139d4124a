"""`llemma-prove setup isabelle` and `doctor`: check each piece of the Isabelle installation.

Each check names the piece, says whether it is there, and says what to do when it is not. Nothing
here starts a process: the checks look at files, so `doctor` is instant.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Sequence

from ...types import HealthCheck
from .options import (
    CONTEXT_SESSION,
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


def user_home(options: IsabelleOptions, env: dict[str, str] | None = None) -> Path | None:
    """$ISABELLE_HOME_USER (default ~/.isabelle/<identifier>), where ROOTS and built heaps live."""
    env = dict(os.environ) if env is None else env
    if options.isabelle_home is None:
        return None
    user = env.get("ISABELLE_HOME_USER")
    return Path(user).expanduser() if user else Path.home() / ".isabelle" / isabelle_identifier(options.isabelle_home)


def registered_roots(options: IsabelleOptions, env: dict[str, str] | None = None) -> list[Path]:
    """Folders listed in the user's ROOTS file (Isabelle finds the sessions defined there)."""
    home = user_home(options, env)
    roots = home / "ROOTS" if home is not None else None
    if roots is None or not roots.is_file():
        return []
    return [Path(line.strip()).expanduser() for line in roots.read_text().splitlines() if line.strip()]


def is_registered(folder: Path, options: IsabelleOptions, env: dict[str, str] | None = None) -> bool:
    target = folder.expanduser().resolve()
    return any(p.resolve() == target for p in registered_roots(options, env))


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
    `$ISABELLE_HOME/src/HOL/LLemma_Prove` gives `HOL-LLemma_Prove`); a path containing `miniF2F` gives `HOL`.
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
                "run `llemma-prove setup isabelle`, or set LLEMMA_PROVE_PISA_WORKING_DIR (default: $ISABELLE_HOME/src/HOL/LLemma_Prove)",
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
                "put the context theory under $ISABELLE_HOME/src/HOL/LLemma_Prove (the path must contain "
                "`Isabelle` and `/src/`, and not `afp`)",
            )
        )

    if home_ok:
        dirs = heap_dirs(options, env)
        if logic == CONTEXT_SESSION and wd is not None:
            # The context session image (isabelle/ROOT): PISA and the official check start from it.
            registered = (wd / "ROOT").is_file() and is_registered(wd, options, env)
            checks.append(
                _check(
                    "context session ROOT",
                    registered,
                    f"{wd / 'ROOT'} " + ("registered in ROOTS" if registered else "missing or not in the user's ROOTS file"),
                    "run `llemma-prove setup isabelle` (writes the ROOT file and registers its folder)",
                )
            )
        if logic is not None and logic not in CORE_SESSIONS:
            built = session_built(logic, dirs)
            checks.append(
                _check(
                    f"session {logic}",
                    built,
                    ("built" if built else "not built") + " (the session image PISA and the final check start from)",
                    "llemma-prove setup isabelle (runs isabelle build -b " + logic + ")"
                    if logic == CONTEXT_SESSION else f"isabelle build -b {logic}",
                )
            )
        if options.afp_thys is not None:
            # The context theory then imports an AFP theory: PISA resolves it only when the AFP is a
            # session root Isabelle knows (PISA passes no AFP folder itself, PisaOS.scala sessionRoots).
            registered = is_registered(options.afp_thys, options, env)
            checks.append(
                _check(
                    "AFP in ROOTS",
                    registered,
                    f"{options.afp_thys} " + ("registered" if registered else "not in the user's ROOTS file"),
                    f"echo {options.afp_thys} >> {user_home(options, env)}/ROOTS (or run `llemma-prove setup isabelle`)",
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

    from .official import MIN_CLIENT_VERSION, client_version

    version = client_version() if importlib.util.find_spec("isabelle_client") is not None else None
    client_ok = version is not None and version >= MIN_CLIENT_VERSION
    if version is None:
        detail = "not installed"
    else:
        detail = ".".join(map(str, version)) + ("" if client_ok else " (too old: its replies are raw strings)")
    checks.append(
        _check(
            "isabelle-client",
            client_ok,
            detail,
            "pip install 'isabelle-client>=1.0' (the final check and its oracle query need it; without it "
            "every Isabelle proof is UNCHECKED)",
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


def context_root_text(with_afp: bool = False) -> str:
    """The ROOT of the context session: one image holding every import of the context theory."""
    libs = [name for name in CONTEXT_IMPORTS if name not in ("HOL.HOL", "Complex_Main")]
    sessions = sorted({name.split(".")[0] for name in libs} | ({"Symmetric_Polynomials"} if with_afp else set()))
    theories = libs + ([AFP_CONTEXT_IMPORT] if with_afp else [])
    return (
        "(* The session image llemma-prove's PISA servers and final check start from: the imports of\n"
        "   the context theory Interactive.thy, loaded once by `llemma-prove setup isabelle`. *)\n\n"
        f'session "{CONTEXT_SESSION}" = "HOL" +\n'
        "  options [document = false]\n"
        "  sessions\n" + "".join(f'    "{name}"\n' for name in sessions)
        + "  theories\n" + "".join(f'    "{name}"\n' for name in theories)
    )


def _write(path: Path, text: str, console: Any, what: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    try:
        path.write_text(text)
        console.print(f"wrote {what} {path}")
    except OSError as exc:
        console.print(f"could not write {path}: {exc}")


def _register(folder: Path, options: IsabelleOptions, console: Any, env: dict[str, str] | None) -> None:
    home = user_home(options, env)
    if home is None or is_registered(folder, options, env):
        return
    try:
        home.mkdir(parents=True, exist_ok=True)
        with (home / "ROOTS").open("a") as roots:
            roots.write(f"{folder}\n")
        console.print(f"registered {folder} in {home / 'ROOTS'}")
    except OSError as exc:
        console.print(f"could not register {folder} in {home / 'ROOTS'}: {exc}")


def build_context_session(options: IsabelleOptions, console: Any, timeout_s: float = 4 * 3600) -> bool:
    """`isabelle build -b` the context session (own process group, time limit); True on success."""
    exe = options.isabelle_executable
    wd = options.resolved_working_dir
    if exe is None or not exe.is_file() or wd is None or not (wd / "ROOT").is_file():
        return False
    argv = [str(exe), "build", "-b", "-d", str(wd)]
    if options.afp_thys is not None:
        argv += ["-d", str(options.afp_thys)]
    argv.append(CONTEXT_SESSION)
    console.print("building the context session image (once; this takes a while): " + " ".join(argv))
    try:
        result = subprocess.run(argv, start_new_session=True, timeout=timeout_s, capture_output=True, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        console.print(f"isabelle build failed: {exc}")
        return False
    if result.returncode != 0:
        console.print(f"isabelle build failed (exit {result.returncode}): {result.stdout[-500:]}")
        return False
    return True


def setup_isabelle(
    options: IsabelleOptions, console: Any, write_theory: bool = True, build: bool = True, env: dict[str, str] | None = None
) -> bool:
    """Check every piece, write the context theory and session ROOT, build the image, print what to do.

    Returns True when nothing required is missing. `console` is a `rich` Console (anything with
    `print`).
    """
    thy = options.resolved_theory_file
    wd = options.resolved_working_dir
    with_afp = options.afp_thys is not None
    default_wd = options.working_dir is None and options.isabelle_home is not None
    if write_theory and wd is not None and default_wd and not wd.exists() and (options.isabelle_home / "src" / "HOL").is_dir():
        wd.mkdir()
    if write_theory and thy is not None and wd is not None and wd.is_dir():
        if not thy.exists():
            _write(thy, context_theory_text(with_afp=with_afp), console, "the PISA context theory")
        if pisa_logic(thy, wd) == CONTEXT_SESSION:
            _write(wd / "ROOT", context_root_text(with_afp=with_afp), console, "the context session ROOT")
            _register(wd, options, console, env)
            if options.afp_thys is not None:
                _register(options.afp_thys, options, console, env)
            if build:
                build_context_session(options, console)
    checks = isabelle_health(options, env)
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
