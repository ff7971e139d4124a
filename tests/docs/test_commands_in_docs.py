"""Every `llemma-prove ...` command written in README.md and docs/*.md parses against the real CLI: the
command exists, every option exists and takes the value given, choices are valid, required arguments
are there. The commands are parsed by click with every command's body replaced by a no-op, so nothing
runs. Lines that are not llemma-prove invocations (pip, bash, output) are skipped."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from llemma_prove import cli
from tests.conftest import ROOT

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def commands_in(text: str) -> list[str]:
    """`llemma-prove` invocations of the fenced code blocks: continuation lines joined, a `$ ` prompt
    and leading VAR=value assignments dropped, `&&` / `;` / `|` chains split."""
    found = []
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            for part in re.split(r"&&|;|\|\|?", line):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:
                    continue
                while words and ENV.match(words[0]):
                    words.pop(0)
                if words and words[0] == "llemma-prove":
                    found.append(shlex.join(words))
    return found


def all_commands() -> list[tuple[str, str]]:
    return [(path.relative_to(ROOT).as_posix(), command) for path in DOC_FILES
            for command in commands_in(path.read_text(encoding="utf-8"))]


def parse(argv: list[str]) -> None:
    """Parse `argv` with the real CLI, every command body a no-op."""
    import typer.main

    root = typer.main.get_command(cli.build_app())

    def silence(command) -> None:  # type: ignore[no-untyped-def]
        command.callback = lambda *a, **k: None
        for sub in getattr(command, "commands", {}).values():
            silence(sub)

    for sub in root.commands.values():  # type: ignore[attr-defined]
        silence(sub)
    root.main(args=cli.hoist_verbosity(argv), prog_name="llemma-prove", standalone_mode=False)


def test_the_extractor_finds_commands_and_skips_the_rest():
    text = "```bash\npip install -e .\nX=1 llemma-prove doctor --json  # note\n$ llemma-prove report \\\n  R --markdown\n" \
           "bash .ci/run && llemma-prove setup lean\n```\nllemma-prove outside a block\n"
    assert commands_in(text) == ["llemma-prove doctor --json", "llemma-prove report R --markdown",
                                 "llemma-prove setup lean"]


def test_the_parser_catches_a_wrong_option():
    usage_errors = cli._click_exception_types()  # typer's vendored click, or click
    with pytest.raises(usage_errors, match="No such option"):
        parse(["minif2f", "--split", "test", "--no-such-option"])
    with pytest.raises(usage_errors, match="train"):
        parse(["minif2f", "--split", "train"])
    with pytest.raises(usage_errors, match="No such command"):
        parse(["no-such-command"])
    with pytest.raises(usage_errors, match="Missing"):
        parse(["report"])
    parse(["minif2f", "--split", "test", "-v"])


def test_the_docs_have_commands():
    found = all_commands()
    files = {f for f, _ in found}
    assert {"README.md", "docs/minif2f.md", "docs/editor.md"} <= files and len(found) >= 20
    assert ("README.md", "llemma-prove minif2f --split test") in found


@pytest.mark.parametrize("where, command", all_commands())
def test_every_documented_command_parses(where, command):
    parse(shlex.split(command)[1:])
