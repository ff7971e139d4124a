#!/usr/bin/env python3
"""TEST DOUBLE: a stand-in for `lean4checker` (leanprover/lean4checker at tag v4.24.0, commit da26eb0).

Modelled on its `Main.lean` and `Lean4Checker/Replay.lean` at that tag:

- arguments starting with `-` are flags (`-v`/`--verbose` prints `replaying M`); the others are module
  names. The search path is LEAN_PATH (`initSearchPath (← findSysroot)`).
- every `.olean` on the search path whose module name has the target as a prefix (component by
  component, `Name.isPrefixOf`) is checked; none found: `throw IO.userError "Could not find any oleans
  for: T"`, which a Lean `main` reports as `uncaught exception: ...` on stderr with exit status 1.
- `replay'` skips unsafe and partial constants and sends every other constant of the module to the
  kernel; the first kernel error is printed as `lean4checker found a problem in M` and then
  `uncaught exception: (kernel) ...`, exit 1 (the `test.sh` of that tag shows this output).
- all accepted: no output, exit 0.

It reads the stand-in `.olean` that `fake_lean.py` writes (JSON listing the constants, with a
`kernel_error` where the kernel rejects one, or a `replay_error` where a constructor or recursor does
not match the one the replayed inductive generates); any other file is unreadable to it, as a corrupt
`.olean` is to `readModuleData`.

Standard library only: it runs as `python -S fake_lean4checker.py ...`.
"""

from __future__ import annotations

import json
import os
import sys


def module_name(path, root):
    rel = os.path.relpath(path, root)
    return rel[: -len(".olean")].replace(os.sep, ".")


def is_prefix(target, module):
    t, m = target.split("."), module.split(".")
    return m[: len(t)] == t


def fail(message):
    sys.stderr.write(f"uncaught exception: {message}\n")
    return 1


def main(argv):
    flags = [a for a in argv if a.startswith("-")]
    targets = [a for a in argv if not a.startswith("-")]
    verbose = "-v" in flags or "--verbose" in flags
    if not targets:
        return fail("lean4checker (test double): running on the whole project is not modelled")
    roots = [p for p in os.environ.get("LEAN_PATH", "").split(os.pathsep) if p]
    found = []
    for target in targets:
        hit = False
        for root in roots:
            for folder, _, names in os.walk(root):
                for name in names:
                    if name.endswith(".olean"):
                        module = module_name(os.path.join(folder, name), root)
                        if is_prefix(target, module):
                            found.append((module, os.path.join(folder, name)))
                            hit = True
        if not hit:
            return fail(f"Could not find any oleans for: {target}")
    for module, path in found:
        if verbose:
            print(f"replaying {module}")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            sys.stderr.write(f"lean4checker found a problem in {module}\n")
            return fail(f"failed to read file '{path}', invalid header")
        for constant in data.get("constants", ()):
            if constant.get("unsafe") or constant.get("partial"):
                continue  # replay' skips them
            if constant.get("kernel_error"):
                sys.stderr.write(f"lean4checker found a problem in {module}\n")
                return fail(f"(kernel) {constant['kernel_error']}")
            if constant.get("replay_error"):  # `checkPostponedConstructors` / `...Recursors`: IO.userError
                sys.stderr.write(f"lean4checker found a problem in {module}\n")
                return fail(constant["replay_error"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
