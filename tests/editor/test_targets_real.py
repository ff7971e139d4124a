"""Locating targets in real files: miniF2F Lean 4 and Isabelle statements, REPL transcript inputs.

The REPL transcripts are also a check against Lean itself: wherever the recorded REPL answered a
command with `sorries`, the positions Lean reported are exactly the `sorry` tokens located here.
"""

from __future__ import annotations

import json
from pathlib import Path


from llemma_prove.editor.targets import HoleKind, locate, select_targets
from llemma_prove.types import Language
from tests.conftest import require_shared


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_minif2f_lean_statements_all_located_exactly():
    rows = _jsonl(require_shared("minif2f/lean4/test.jsonl")) + _jsonl(require_shared("minif2f/lean4/valid.jsonl"))
    assert len(rows) == 488
    for row in rows:
        text = row["header"] + row["formal_statement"]
        located = locate(text, Language.LEAN4)
        assert len(located.targets) == 1, row["name"]
        target = located.targets[0]
        assert target.kind is HoleKind.WHOLE_PROOF, (row["name"], target.reason)
        assert target.declaration.name == row["name"]
        theorem = target.theorem
        assert theorem.name == row["name"]
        # The file is header + statement (one upstream file ends with a newline after `sorry`).
        assert theorem.header == row["header"]
        assert theorem.preamble == ""
        assert theorem.statement == row["formal_statement"].rstrip("\n")
        assert theorem.header + theorem.preamble + theorem.statement + text[target.end:] == text
        assert text[target.start:target.end] == "sorry"
        assert select_targets(located, theorem=row["name"]) == [target]
        assert select_targets(located, line=target.line) == [target]


def test_minif2f_isabelle_theories_with_sorry_located_exactly():
    rows = _jsonl(require_shared("minif2f/isabelle/test.jsonl")) + _jsonl(require_shared("minif2f/isabelle/valid.jsonl"))
    with_sorry = [r for r in rows if not r["has_proof"]]
    assert len(with_sorry) == 341
    for row in with_sorry:
        text = row["theory"]
        located = locate(text, Language.ISABELLE)
        assert len(located.targets) == 1, row["name"]
        target = located.targets[0]
        assert target.kind is HoleKind.WHOLE_PROOF, (row["name"], target.reason)
        assert target.keyword == "sorry"
        theorem = target.theorem
        assert theorem.language is Language.ISABELLE
        assert theorem.name == row["name"]
        assert theorem.statement == row["statement"]
        assert theorem.header.startswith("theory ") and theorem.header.endswith("begin")
        # Whatever stands between `begin` and the theorem (definitions, auxiliary lemmas) is the preamble.
        between = text[text.index(theorem.header) + len(theorem.header): target.declaration.start].strip()
        assert theorem.preamble == between
    # The theories with a complete human proof contain no target at all.
    for row in rows:
        if row["has_proof"]:
            assert locate(row["theory"], Language.ISABELLE).targets == (), row["name"]


def test_isabelle_preamble_holds_the_auxiliary_definitions():
    rows = _jsonl(require_shared("minif2f/isabelle/test.jsonl")) + _jsonl(require_shared("minif2f/isabelle/valid.jsonl"))
    row = next(r for r in rows if r["name"] == "amc12a_2020_p4")
    (target,) = locate(row["theory"], Language.ISABELLE).targets
    assert target.theorem.preamble.startswith("function digits :: ")
    assert target.theorem.preamble.endswith("termination by (relation \"measure id\") auto")


def _json_objects(path: Path) -> list[dict]:
    """The blank-line separated JSON objects of a transcript file (strict: raw newlines are refused)."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    out, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)


def test_repl_reported_sorry_positions_are_the_located_ones():
    root = require_shared("lean-repl-transcripts")
    compared = 0
    for entry in _jsonl(root / "index.jsonl"):
        if not entry["expected_output"]:
            continue
        try:
            requests = _json_objects(root / entry["input"])
        except json.JSONDecodeError:
            continue  # inputs that deliberately hold raw line breaks (the REPL drops them, JSON refuses them)
        responses = _json_objects(root / entry["expected_output"])
        assert len(requests) == len(responses), entry["name"]
        base = root / ("test/Mathlib" if entry["suite"] == "mathlib" else "")
        for request, response in zip(requests, responses):
            if "sorries" not in response or request.get("rootGoals") or request.get("allTactics"):
                continue
            if "cmd" in request:
                text = request["cmd"]
            elif "path" in request:
                text = (base / request["path"]).read_text(encoding="utf-8")
            else:
                continue
            reported = {(s["pos"]["line"], s["pos"]["column"], s["endPos"]["line"], s["endPos"]["column"])
                        for s in response["sorries"]}
            located = {(t.line, t.column, t.line, t.column + 5) for t in locate(text, Language.LEAN4).targets}
            assert located == reported, (entry["name"], text)
            compared += 1
    assert compared >= 30


def test_repl_transcript_lean_inputs():
    root = require_shared("lean-repl-transcripts/test")
    files = sorted(root.rglob("*.lean"))
    assert len(files) >= 8
    by_name = {}
    for path in files:
        located = locate(path.read_text(encoding="utf-8"), Language.LEAN4)
        by_name[path.relative_to(root).as_posix()] = located

    file2 = by_name["file2.lean"]
    assert [d.name for d in file2.declarations] == ["a", "b", "h1", "h"]
    assert file2.targets == ()
    assert [d.name for d in by_name["file.lean"].declarations] == ["f", "g", "h"]
    assert by_name["incomplete.lean"].declarations == ()
    assert [d.keyword for d in by_name["Mathlib/test/20240209.lean"].declarations] == ["example"]
    assert [d.name for d in by_name["Mathlib/test/H20231020.lean"].declarations] == [
        "mathd_numbertheory_188", "mathd_numbertheory_403", "mathd_numbertheory_109"]

    # The sorry ends the proof's top-level tactic block: searched after replaying the three tactics before it.
    (demo,) = by_name["Mathlib/test/file_env.lean"].targets
    assert (demo.line, demo.column) == (15, 2)
    assert demo.kind is HoleKind.LAST_STEP
    assert demo.prefix == ("intro h1 h2 p", "have q : Q := by\n  apply h1\n  aesop", "apply h2")
    assert demo.theorem.statement == "theorem demo (P Q R : Prop) : (P → Q) → (Q → R) → (P → R) := by sorry"
    assert demo.theorem.header == ""

    # A `sorry` closing a `calc` step inside a `have` cannot be searched; the reason names the spot.
    (calc,) = by_name["Mathlib/test/H20231214.lean"].targets
    assert calc.kind is HoleKind.UNSUPPORTED
    assert "nested inside the tactic `have` at line 35" in calc.reason
    assert calc.declaration.name == "mathd_algebra_35"
    header = by_name["Mathlib/test/H20231214.lean"].header
    assert header == "import Mathlib\nopen Real\nopen Nat\nopen BigOperators\n\n"
    # The declaration starts at its docstring (the `#guard_msgs in` prefix belongs to it).
    text = (root / "Mathlib/test/H20231214.lean").read_text(encoding="utf-8")
    assert text[calc.declaration.start:].startswith("/--\nerror: type mismatch")


def test_published_proof_files_locate_their_theorem_and_no_stray_sorry():
    """1,195 complete Lean files (six proof sources, some with dozens of auxiliary lemmas, `have`
    blocks, `calc`, comments and docstrings): each file's theorem is found as a declaration, and a
    `sorry` target is reported exactly for the files whose `contains_sorry` flag says they hold one."""
    folder = require_shared("minif2f/lean4/solutions")
    rows = [row for path in sorted(folder.glob("*.jsonl")) for row in _jsonl(path)]
    assert len(rows) == 1195
    for row in rows:
        located = locate(row["lean_code"], Language.LEAN4)
        names = {d.name for d in located.declarations}
        assert row["name"] in names or row.get("canonical_name") in names, row["name"]
        assert bool(located.targets) == bool(row["contains_sorry"]), row["name"]
