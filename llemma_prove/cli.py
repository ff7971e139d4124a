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
from typing import Any, Sequence

import typer

from . import __version__
from .console import stderr_console
from .errors import UserError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llemma-prove {__version__}")
        raise typer.Exit()


def configure_logging(verbose: int) -> None:
    """-v: progress of each theorem and backend; -vv: debug detail (protocol traffic, timings); -q: errors
    only. Log lines go through the shared stderr console (`stderr_console`), the one the progress bar
    draws on, so a log line is printed above the bar instead of tearing it."""
    level = (logging.ERROR if verbose < 0 else logging.WARNING if verbose == 0
             else logging.INFO if verbose == 1 else logging.DEBUG)
    try:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=stderr_console(), show_path=verbose > 1)
        fmt = "%(name)s: %(message)s"
    except ImportError:  # pragma: no cover - rich is a core dependency
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# Verbosity flags are taken from anywhere on the command line (`llemma-prove minif2f ... -v`), not only
# before the subcommand; no subcommand defines -v or -q for anything else.
_VERBOSITY = {"-v": 1, "--verbose": 1, "-vv": 2, "-vvv": 3, "-q": -1, "--quiet": -1}


def hoist_verbosity(args: Sequence[str]) -> list[str]:
    """Move -v/-vv/--verbose/-q/--quiet in front of the subcommand, where the root callback reads them
    (nothing after a `--` is touched)."""
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in _VERBOSITY]
    if not flags:
        return args
    rest = [a for a in args[:end] if a not in _VERBOSITY] + args[end:]
    return flags + rest


def _format_options(self: Any, ctx: Any, formatter: Any) -> None:
    """Plain help (full option names, no placeholder on flags, wrapped to the terminal and at most 80
    columns wide): arguments, then options under the heading of their `rich_help_panel`, in the order
    they first appear; then a group's commands."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for param in self.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            continue
        default = "Arguments" if param.param_type_name == "argument" else "Options"
        sections.setdefault(getattr(param, "rich_help_panel", None) or default, []).append(record)
    if "Arguments" in sections:
        sections = {"Arguments": sections.pop("Arguments"), **sections}
    for title, rows in sections.items():
        with formatter.section(title):
            formatter.write_dl(rows)
    if hasattr(self, "format_commands"):
        self.format_commands(ctx, formatter)


def _plain_help() -> None:
    """Help is click's plain layout for every command: typer's rich tables cut option names
    (`--clean-candidat…`) and print `<bool>` on every flag at 80 columns. Panels still group options."""
    import typer.core

    for cls in (typer.core.TyperCommand, typer.core.TyperGroup):
        cls.format_options = _format_options  # type: ignore[method-assign]


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="llemma-prove",
        help="LLEMMA language models + Lean 4 / Isabelle: best-first proof search, miniF2F runs, and more.",
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
        rich_markup_mode=None,  # plain help: see _plain_help
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        verbose: int = typer.Option(0, "-v", "--verbose", count=True, show_default=False,
                                    help="More logging on stderr (-v info, -vv debug); anywhere on the line."),
        quiet: int = typer.Option(0, "-q", "--quiet", count=True, show_default=False, help="Only errors on stderr."),
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    ) -> None:
        """LLEMMA language models + Lean 4 / Isabelle: best-first proof search, miniF2F runs, and more."""
        configure_logging(verbose - quiet)

    _plain_help()
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


# Commands whose `--json` promises JSON on stdout, on an error too. `prove` prints its own on a UserError
# (with what it found so far); a usage error, caught here, gets {"error": ...} for every one of them.
JSON_COMMANDS = ("check", "doctor", "report")
JSON_USAGE_COMMANDS = ("check", "doctor", "prove", "report")


def _subcommand(args: Sequence[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


def _json_error(args: Sequence[str], commands: Sequence[str], message: str) -> None:
    if "--json" in args and _subcommand(args) in commands:
        print(json.dumps({"error": _one_line(message)}, ensure_ascii=False))


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the app and turn user mistakes into one-line errors."""
    args = hoist_verbosity(sys.argv[1:] if argv is None else argv)
    click_errors = _click_exception_types()
    try:
        app = build_app()
        code = app(args=args, standalone_mode=False, prog_name="llemma-prove")
    except UserError as exc:
        print(f"llemma-prove: error: {_one_line(str(exc))}", file=sys.stderr)
        _json_error(args, JSON_COMMANDS, str(exc))
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
        _json_error(args, JSON_USAGE_COMMANDS, message)  # `--json` prints JSON on every exit
        sys.exit(getattr(exc, "exit_code", EXIT_USER_ERROR) or EXIT_USER_ERROR)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
