"""Run the `llemma-prove` entry point inside the test process (no interpreter start-up per call), for
tests that make many calls; a few calls per command still go through a real subprocess (tests/cli)."""

from __future__ import annotations

from typing import Any

import pytest


def cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `llemma-prove ARGS`."""
    from llemma_prove.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        main(list(args))
    out, err = capsys.readouterr()
    code = stopped.value.code
    return (code if isinstance(code, int) else 0), out, err


def assert_one_line_error(result: tuple[int, str, str], *fragments: str) -> None:
    code, _, err = result
    assert code != 0 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llemma-prove"), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
