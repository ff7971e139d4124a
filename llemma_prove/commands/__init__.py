"""CLI subcommands, one module per command or command group.

Each module defines `register(app: typer.Typer) -> None`; `llemma_prove.cli` imports every module in
this package and calls it, so adding a command means adding a file. Modules must stay cheap to import:
models, provers and torch are imported inside the command functions.
"""
