"""The `llemma-prove` command line.

Subcommands live in `llemma_prove/commands/`, one module per command (or group); each module has a
`register(app)` function and is found automatically, so a new command is a new file. Every user
mistake (a `UserError`, or a usage error from the option parser) is printed as one line on stderr with
a non-zero exit status; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import sys
from typing import Sequence

import typer

from . import __version__
from .errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llemma-prove {__version__}")
        raise typer.Exit()


def configure_logging(verbose: int) -> None:
    """-v: progress of each theorem and backend; -vv: debug detail (protocol traffic, timings)."""
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    try:
        from rich.console import Console
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=Console(stderr=True), show_path=verbose > 1)
        fmt = "%(name)s: %(message)s"
    except ImportError:  # pragma: no cover - rich is a core dependency
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="llemma-prove",
        help="LLEMMA language models + Lean 4 / Isabelle: best-first proof search, miniF2F runs, and more.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More logging on stderr (-v info, -vv debug)."),
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    ) -> None:
        """LLEMMA language models + Lean 4 / Isabelle: best-first proof search, miniF2F runs, and more."""
        configure_logging(verbose)

    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
    return app


def _click_exception_types() -> tuple[type[BaseException], ...]:
    """ClickException classes of the click that typer uses (its vendored copy or the click package)."""
    found: list[type[BaseException]] = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        found.append(module.ClickException)
    return tuple(found)


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the app and turn user mistakes into one-line errors."""
    args = list(sys.argv[1:] if argv is None else argv)
    click_errors = _click_exception_types()
    try:
        app = build_app()
        code = app(args=args, standalone_mode=False, prog_name="llemma-prove")
    except UserError as exc:
        print(f"llemma-prove: error: {_one_line(str(exc))}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except (KeyboardInterrupt, typer.Abort):
        print("llemma-prove: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except click_errors as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command group: show its help
            print(exc.format_message())  # type: ignore[attr-defined]
            sys.exit(0)
        message = exc.format_message()  # type: ignore[attr-defined]
        context = getattr(exc, "ctx", None)
        where = context.command_path if context is not None and context.command_path else "llemma-prove"
        print(f"{where}: error: {_one_line(message)} (see --help)", file=sys.stderr)
        if args[:1] == ["prove"] and "--json" in args:  # `prove --json` prints JSON on every exit
            print(json.dumps({"error": _one_line(message)}, ensure_ascii=False))
        sys.exit(getattr(exc, "exit_code", EXIT_USER_ERROR) or EXIT_USER_ERROR)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
