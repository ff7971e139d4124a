#!/usr/bin/env python3
"""TEST DOUBLE: a stand-in for elan's `lake`, just enough for `llemma-prove setup lean` and the launch.

`--version` reports Lean $FAKE_LAKE_LEAN (default 4.24.0); `update NAME` locks NAME in the manifest
(setup must never call it: the real one runs Mathlib's post-update hook, the whole cache download);
`exe cache get` lays out a "built" Mathlib; `build REPL/repl` writes a REPL binary that runs the
stand-in REPL (tests/doubles/fake_repl.py, synthetic world); `build lean4checker/lean4checker` writes
one that runs the stand-in lean4checker; `env CMD...` runs CMD with a
LEAN_PATH, as `lake env` does. Every call is appended to $FAKE_LAKE_LOG when set.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

FAKE_REPL = Path(__file__).resolve().parent.parent / "doubles" / "fake_repl.py"
FAKE_LEAN4CHECKER = Path(__file__).resolve().parent.parent / "doubles" / "fake_lean4checker.py"


def main(argv: list[str]) -> int:
    log = os.environ.get("FAKE_LAKE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(argv) + "\n")
    project = Path.cwd()
    manifest = project / "lake-manifest.json"
    packages = project / ".lake" / "packages"
    if argv == ["--version"]:
        print(f"Lake version 5.0.0-fake (Lean version {os.environ.get('FAKE_LAKE_LEAN', '4.24.0')})")
        return 0
    if argv[:1] == ["update"]:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for name in argv[1:]:
            print(f"info: {name}: cloning and locking")
            data["packages"].append({"url": "https://github.com/leanprover-community/repl", "type": "git",
                                     "subDir": None, "scope": "", "rev": "0" * 40, "name": name,
                                     "manifestFile": "lake-manifest.json", "inputRev": "v4.24.0",
                                     "inherited": False, "configFile": "lakefile.toml"})
        manifest.write_text(json.dumps(data, indent=1), encoding="utf-8")
        return 0
    if argv == ["exe", "cache", "get"]:
        rev = next(p["rev"] for p in json.loads(manifest.read_text(encoding="utf-8"))["packages"] if p["name"] == "mathlib")
        mathlib = packages / "mathlib"
        (mathlib / ".git").mkdir(parents=True, exist_ok=True)
        (mathlib / ".git" / "HEAD").write_text(rev + "\n", encoding="utf-8")
        olean = mathlib / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean"
        olean.parent.mkdir(parents=True, exist_ok=True)
        olean.write_bytes(b"fake olean")
        print("Decompressing 1 file(s)\nUnpacked in 1 ms")
        return 0
    if argv == ["build", "REPL/repl"]:
        binary = packages / "REPL" / ".lake" / "build" / "bin" / "repl"
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{FAKE_REPL}" --synthetic "$@"\n', encoding="utf-8")
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        print("Build completed successfully.")
        return 0
    if argv == ["build", "lean4checker/lean4checker"]:
        binary = packages / "lean4checker" / ".lake" / "build" / "bin" / "lean4checker"
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{FAKE_LEAN4CHECKER}" "$@"\n', encoding="utf-8")
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        print("Build completed successfully.")
        return 0
    if argv[:1] == ["env"] and len(argv) > 1:
        env = dict(os.environ)
        env["LEAN_PATH"] = str(packages / "mathlib" / ".lake" / "build" / "lib" / "lean")
        env["LAKE"] = "fake"
        os.execvpe(argv[1], argv[1:], env)
    print(f"error: fake lake does not know `{' '.join(argv)}`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
