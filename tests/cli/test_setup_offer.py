"""`minif2f` without Lean offers the setup (a prompt on a terminal, one line otherwise), says what it
will download and how long the run can take, and sizes --concurrency from the machine by default."""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import pytest
from rich.console import Console

from llemma_prove.commands import minif2f as minif2f_command
from llemma_prove.errors import ProverUnavailable
from llemma_prove.sizing import (KV_BYTES_PER_TOKEN, Machine, budget_line, budget_upper_bound_s, default_concurrency,
                                 weights_gb)
from tests.cli.test_cli import run_cli
from tests.conftest import require_shared


def test_weights_and_cache_arithmetic():
    assert weights_gb() == 14.0  # 7e9 parameters x 2 bytes (bfloat16)
    assert KV_BYTES_PER_TOKEN == 524288  # 2 x 32 layers x 4096 x 2 bytes = 0.5 MiB


@pytest.mark.parametrize("machine, backend, device, expected", [
    # H200-like: 16 cores, 128 GB -> 16 workers; (141 * 0.9 - 14) / 21.47 GB per search -> 5 searches
    (Machine(16, 128, 141), "hf", None, 5),
    # 80 GB card: (72 - 14) / 21.47 -> 2
    (Machine(64, 512, 80), "vllm", None, 2),
    # a card too small for even one search's cache still runs one
    (Machine(8, 64, 24), "hf", None, 1),
    # no GPU: a local model generates one request at a time
    (Machine(16, 128, None), "hf", None, 1),
    (Machine(16, 128, 141), "hf", "cpu", 1),
    # a server: only the Lean workers limit it (min(cores, RAM // 8 GB))
    (Machine(16, 128, None), "openai", None, 16),
    (Machine(32, 64, None), "openai", None, 8),
    (Machine(2, 4, None), "openai", None, 1),
])
def test_default_concurrency_rule(machine, backend, device, expected):
    choice = default_concurrency(machine, backend == "openai", device, candidates=32, max_new_tokens=256)
    assert choice.concurrency == expected, choice.reason
    assert "prover worker" in choice.reason


def test_budget_is_an_upper_bound_labelled_as_such():
    assert budget_upper_bound_s(244, 600, 1) == 244 * 600  # the paper's budget: about 40.7 h
    assert budget_upper_bound_s(244, 600, 5) == math.ceil(244 / 5) * 600
    line = budget_line(244, 600, 1)
    assert "40.7 h" in line and "upper bound" in line


@pytest.fixture
def lean_missing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    events: list[str] = []

    async def preflight(spec):
        events.append("preflight")
        if "setup" not in events:
            raise ProverUnavailable("Lean is not ready: no `lake` (install elan)")

    async def setup(project, console):
        events.append("setup")

    from llemma_prove.provers.lean import setup as lean_setup

    monkeypatch.setattr(minif2f_command, "preflight_prover", preflight)
    monkeypatch.setattr(lean_setup, "setup_lean_async", setup)
    return events


async def test_without_a_terminal_it_names_the_setup_command(lean_missing, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    with pytest.raises(ProverUnavailable, match=r"Lean is not ready.*; run `llemma-prove setup lean`"):
        args = minif2f_command.Minif2fArgs()
        await minif2f_command.preflight_or_offer_setup(args, minif2f_command.prover_spec(args), Console(file=io.StringIO()))
    assert lean_missing == ["preflight"]


@pytest.mark.parametrize("answer", [True, False])
async def test_on_a_terminal_it_offers_the_setup(lean_missing, monkeypatch, answer):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    asked: list[str] = []
    monkeypatch.setattr(minif2f_command.typer, "confirm", lambda text, **kw: asked.append(text) or answer)
    out = io.StringIO()
    args = minif2f_command.Minif2fArgs()
    if answer:
        await minif2f_command.preflight_or_offer_setup(args, minif2f_command.prover_spec(args), Console(file=out, width=200))
        assert lean_missing == ["preflight", "setup", "preflight"]
    else:
        with pytest.raises(ProverUnavailable, match="run `llemma-prove setup lean` when ready"):
            await minif2f_command.preflight_or_offer_setup(args, minif2f_command.prover_spec(args), Console(file=out, width=200))
        assert lean_missing == ["preflight"]
    text = out.getvalue()
    assert asked == ["Set up Lean now?"]
    assert "Mathlib's compiled cache" in text and "leanprover/lean4:v4.24.0" in text
    assert "EleutherAI/llemma_7b weights, about 14 GB in bfloat16" in text


def test_a_run_says_its_concurrency_and_budget(tmp_path):
    data = require_shared("minif2f/lean4/test.jsonl")
    proc = run_cli("minif2f", "--data", str(data), "--limit", "3", "--run-dir", str(tmp_path / "run"),
                   "--no-progress", "--expansions", "3", doubles=True)
    assert proc.returncode == 0, proc.stderr
    err = " ".join(proc.stderr.split())
    assert "(sized from this machine:" in err and "set --concurrency to choose" in err
    assert "budget: 3 theorem(s) x 600 s / concurrency" in err and "upper bound" in err
