"""The stand-in REPL is as strict as REPL v4.24.0, and the contract suite catches a driver that sends
the wrong ids or field names (mutation check).

Each mutation below is applied to every request the driver writes (by wrapping `encode_request`);
then every contract replay and named-fixture run it touches must fail.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from llemma_prove.errors import ProverError
from llemma_prove.provers.lean import repl as repl_module
from llemma_prove.provers.lean.messages import Request, parse_input_block, parse_output_block, split_blocks

from . import test_contract as contract
from .conftest import fake_command, write_script

pytestmark = pytest.mark.contract

# ------------------------------------------------------------------------------ the stand-in alone


def run_standin(tmp_path: Path, stdin: str, pairs: list[tuple[dict, dict]] | None = None,
                *extra: str) -> subprocess.CompletedProcess[str]:
    script = write_script(tmp_path / "script.json", pairs or [])
    return subprocess.run(fake_command("--script", str(script), *extra), input=stdin, capture_output=True,
                          text=True, timeout=30)


OPEN = ({"cmd": "theorem t : 1 = 1 := by sorry"},
        {"sorries": [{"proofState": 0, "pos": {"line": 1, "column": 24}, "goal": "⊢ 1 = 1",
                      "endPos": {"line": 1, "column": 29}}], "env": 0})
STEP = ({"tactic": "rfl", "proofState": 0}, {"proofState": 1, "goals": [], "proofStatus": "Completed"})


def answers(process: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads("\n".join(b)) for b in split_blocks(process.stdout)]


def test_recorded_ids_are_served_and_an_unknown_id_gets_the_repls_answer(tmp_path: Path) -> None:
    done = run_standin(tmp_path, '{"cmd": "theorem t : 1 = 1 := by sorry"}\n\n{"tactic": "rfl", "proofState": 0}\n\n'
                       '{"tactic": "rfl", "proofState": 7}\n\n{"cmd": "x", "env": 3}\n\n', [OPEN, STEP])
    assert done.returncode == 0, done.stderr
    assert answers(done) == [OPEN[1], STEP[1], {"message": "Unknown proof state."}, {"message": "Unknown environment."}]


def test_ids_follow_the_live_session_not_the_recording(tmp_path: Path) -> None:
    """The same command twice: the second answer gets fresh ids, and its proof state maps back."""
    done = run_standin(tmp_path, '{"cmd": "theorem t : 1 = 1 := by sorry"}\n\n' * 2 + '{"tactic": "rfl", "proofState": 1}\n\n',
                       [OPEN, STEP])
    assert done.returncode == 0, done.stderr
    first, second, step = answers(done)
    assert (first["env"], second["env"], second["sorries"][0]["proofState"], step["proofState"]) == (0, 1, 1, 2)


@pytest.mark.parametrize("stdin, fragment", [
    pytest.param("{not json\n\n", "Could not parse JSON", id="malformed JSON"),
    pytest.param('{"cmd": "x"}\n\n\n', "Could not parse JSON", id="an extra blank line"),
    pytest.param('{"tactic": "rfl", "proofState": -1}\n\n', "Could not parse as a valid JSON command", id="negative id"),
    pytest.param('{"command": "x"}\n\n', "Could not parse as a valid JSON command", id="no known kind"),
    pytest.param('{"tactic": "rfl"}\n\n', "Could not parse as a valid JSON command", id="missing proofState"),
    pytest.param('{"env": 0}\n\n', "Could not parse as a valid JSON command", id="missing cmd"),
    pytest.param('{"cmd": 3}\n\n', "Could not parse as a valid JSON command", id="wrong type"),
])
def test_malformed_input_ends_the_process_like_the_repl(tmp_path: Path, stdin: str, fragment: str) -> None:
    done = run_standin(tmp_path, stdin, [({"cmd": "x"}, {"env": 0})])
    assert done.returncode == 1 and "uncaught exception: " in done.stderr and fragment in done.stderr
    assert answers(done) == ([{"env": 0}] if stdin.endswith("\n\n\n") else [])  # nothing for the failing query


def test_unknown_fields_end_the_process(tmp_path: Path) -> None:
    done = run_standin(tmp_path, '{"cmd": "x", "environment": 0}\n\n', [({"cmd": "x"}, {"env": 0})])
    assert done.returncode == 1 and "unknown field(s) environment" in done.stderr and done.stdout == ""


def test_a_request_without_a_recording_ends_the_process(tmp_path: Path) -> None:
    done = run_standin(tmp_path, '{"cmd": "x"}\n\n{"cmd": "y", "env": 0}\n\n', [({"cmd": "x"}, {"env": 0}),
                                                                             ({"cmd": "y"}, {"env": 1})])
    assert done.returncode == 70 and "no recording" in done.stderr and len(answers(done)) == 1


def test_comments_are_skipped_and_unpickling_a_missing_file_crashes(tmp_path: Path) -> None:
    done = run_standin(tmp_path, f'-- a comment\n\n{{"unpickleEnvFrom": "{tmp_path / "missing.olean"}"}}\n\n',
                       None, "--synthetic")
    assert done.returncode == 1 and "uncaught exception: no such file" in done.stderr and done.stdout == ""


# ------------------------------------------------------------------------------ mutation check


def _rename(old: str, new: str) -> Callable[[dict], dict]:
    return lambda r: {(new if k == old else k): v for k, v in r.items()}


MUTATIONS: dict[str, Callable[[dict], dict]] = {
    "env dropped": lambda r: {k: v for k, v in r.items() if k != "env"},
    "env wrong": lambda r: {**r, "env": r["env"] + 1} if "env" in r else r,
    "env renamed": _rename("env", "environment"),
    "proofState renamed": _rename("proofState", "proof_state"),
    "proof state off by one": lambda r: {**r, "proofState": r["proofState"] + 1} if "proofState" in r else r,
}


def _mutated(mutate: Callable[[dict], dict]) -> Callable[[Request], bytes]:
    def encode(request: Request) -> bytes:
        return (json.dumps(mutate(request.to_json()), ensure_ascii=False) + "\n\n").encode("utf-8")
    return encode


def _touches(entry: contract.Transcript, mutate: Callable[[dict], dict]) -> bool:
    """Whether the mutation changes a request whose recorded answer is not already `Unknown ...`
    (the fixtures `unknown_environment` and `unknown_proof_state` send ids that do not exist on purpose)."""
    requests = [parse_input_block(b) for b in split_blocks(entry.input.read_text(encoding="utf-8"))]
    assert entry.expected_output is not None
    responses = [parse_output_block(b) for b in split_blocks(entry.expected_output.read_text(encoding="utf-8"))]
    return any(mutate(q) != q and not str(r.get("message", "")).startswith("Unknown")
               for q, r in zip(requests, responses))


async def _fails(run) -> bool:
    try:
        await run
    except (AssertionError, ProverError):
        return True
    return False


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_every_replay_the_mutation_touches_fails(mutation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    mutate = MUTATIONS[mutation]
    if not contract.ROOTS:
        pytest.skip("no transcripts")
    pinned = contract.ROOTS[0][1]  # the REPL version lean_project/ pins (or the one folder chosen)
    entries = [e for e in contract.load_index(pinned) if e.expected_output is not None and _touches(e, mutate)]
    if not entries:
        pytest.skip("no transcripts")
    for entry in entries[:1]:  # the unmutated driver passes the same run
        assert not await _fails(contract.test_driver_replays_the_session_with_consistent_ids(entry, None))
    monkeypatch.setattr(repl_module, "encode_request", _mutated(mutate))
    passed = [entry.id for entry in entries
              if not await _fails(contract.test_driver_replays_the_session_with_consistent_ids(entry, None))]
    assert passed == [], f"{mutation}: these replays still pass"


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_named_fixtures_fail_under_the_mutation(mutation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver's own requests (statement on the header env, tactics on proof states) under each mutation."""
    if not contract.ROOTS:
        pytest.skip("no transcripts")
    pinned = contract.ROOTS[0][1]  # the REPL version lean_project/ pins (or the one folder chosen)
    monkeypatch.setattr(repl_module, "encode_request", _mutated(MUTATIONS[mutation]))
    failed = [case.fixture for case in contract.CASES
              if await _fails(contract.test_named_fixture_outcomes(case, pinned, None))]
    # every fixture's tactics run on a proof state, except the steps the text filter refuses (they never
    # reach the REPL); only the fixtures with a header send an `env`
    reaches_repl = lambda c: any("refused by the text filter" not in step.text for step in c.steps)  # noqa: E731
    expected = [c.fixture for c in contract.CASES if (reaches_repl(c) if "proof" in mutation else c.header)]
    assert failed == expected


def test_both_transcript_folders_by_default_and_one_when_chosen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from .conftest import TRANSCRIPTS_ENV, transcripts_dirs, transcripts_version

    monkeypatch.delenv(TRANSCRIPTS_ENV, raising=False)
    assert [d.name for d in transcripts_dirs()] == ["lean-repl-transcripts-v4.24.0", "lean-repl-transcripts"]
    monkeypatch.setenv(TRANSCRIPTS_ENV, str(tmp_path))
    assert transcripts_dirs() == [tmp_path]
    (tmp_path / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n")
    assert transcripts_version(tmp_path) == "v4.24.0"
