#!/usr/bin/env python3
"""TEST DOUBLE: a stand-in for the `lean` executable (Lean v4.24.0) as the final check calls it.

Modelled on leanprover/lean4 `src/util/shell.cpp` (options, exit codes, when the .olean is written)
and `Lean.Elab.Frontend` / `Lean.Message` (one JSON object per message with `--json`):

- `lean --json [-o OUT.olean] FILE.lean`; an unknown option prints `Unknown command line option` and
  exits 1; not exactly one file prints `Expected exactly one file name` and exits 1. Without `--json`
  the stand-in refuses (it only models the JSON output the final check reads).
- with `-o`, the module name is computed from the file's path relative to the root (the working
  directory): a file outside it is an error, as `moduleNameOfFileName` raises.
- every `import M` must resolve to `M.olean` in a LEAN_PATH directory, else the import error and exit 1.
- the `.olean` is written only when no message is an error (`if (olean_fn && ok) write_module`), and
  the exit status is 0 when no message is an error, else 1 (`exit(ok ? 0 : 1)`).
- `#print axioms X` is answered at its `#print` token with `'X' depends on axioms: [...]` (axioms
  sorted with `Name.lt`, so `propext` before `Classical.choice, Quot.sound`) or
  `'X' does not depend on any axioms` (`printAxiomsOf`, `src/Lean/Elab/Print.lean`); `#check (@X)` at
  its `#check` token with `e : type` (`elabCheckCore`, `src/Lean/Elab/BuiltinCommand.lean`).
- `declaration uses 'sorry'` is the warning for a declaration containing `sorry` (spelled with plain
  quotes before Lean 4.28).

Its "olean" is a JSON file describing the module's constants for the stand-in lean4checker
(`fake_lean4checker.py`); a real `.olean` is a compacted region of Lean objects.

What the real tool answers for a given proof comes from a world file (`--world FILE`, a JSON list of
rules written by a test): the first rule whose `match` text occurs in the file decides the messages
(`messages`, placed at the proof, or at the queries with `"at": "queries"`), the axiom report (`axioms`; null: no report), the printed type
(`type`), whether the queries after the proof run at all (`queries_run`), the constants the module adds
(`constants`, with `kernel_error` where the kernel rejects one), and faults (`crash`, `hang`, `oom`).
A rule with `"reference": true` applies to the reference statement file (no `-o`). Without a rule,
everything elaborates, the axioms are the standard three, and the type is printed from the
statement's text, so a reference and a candidate with the same statement print the same type.

Standard library only: it runs as `python -S fake_lean.py ...`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time

STANDARD = ["propext", "Classical.choice", "Quot.sound"]
_QUERY_AXIOMS = re.compile(r"^#print axioms (?:_root_\.)?(\S+)\s*$", re.M)
_QUERY_CHECK = re.compile(r"^#check \(@(?:_root_\.)?([^)\s]+)\)\s*$", re.M)
_DECL = re.compile(r"^(?:theorem|lemma)\s+(\S+)", re.M)


def name_key(name):
    """`Name.lt` order: fewer components first, then component by component."""
    parts = name.split(".")
    return (len(parts), parts)


def message(file_name, severity, line, column, data):
    return {"fileName": file_name, "pos": {"line": line, "column": column},
            "endPos": {"line": line, "column": column + 1}, "keepFullRange": False,
            "severity": severity, "caption": "", "data": data}


def without_comments(text):
    """Line comments and (nested) block comments blanked, as Lean's `whitespace` skips them."""
    out, i, n, depth = [], 0, len(text), 0
    while i < n:
        if depth:
            if text.startswith("/-", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("-/", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/-", i):
            depth, i = 1, i + 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def parse_args(argv):
    worlds, json_out, olean, files = [], False, None, []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--world":
            worlds.append(argv[i + 1])
            i += 2
            continue
        if arg == "--json":
            json_out = True
        elif arg in ("-o", "--o"):
            olean = argv[i + 1]
            i += 1
        elif arg.startswith(("-o=", "--o=")):
            olean = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            sys.stderr.write("Unknown command line option\n")
            sys.exit(1)
        else:
            files.append(arg)
        i += 1
    return worlds, json_out, olean, files


def load_rules(worlds):
    rules = []
    for path in worlds:
        with open(path, encoding="utf-8") as f:
            rules.extend(json.load(f))
    return rules


def find_olean(module):
    rel = module.replace(".", os.sep) + ".olean"
    for entry in os.environ.get("LEAN_PATH", "").split(os.pathsep):
        if entry and os.path.isfile(os.path.join(entry, rel)):
            return os.path.join(entry, rel)
    return None


def main(argv):
    worlds, json_out, olean, files = parse_args(argv)
    if len(files) != 1:
        sys.stderr.write("Expected exactly one file name\n")
        return 1
    if not json_out:
        sys.stderr.write("fake_lean (test double): only --json output is modelled\n")
        return 2
    path = files[0]
    if olean is not None:
        root = os.path.realpath(os.getcwd())
        if not os.path.realpath(path).startswith(root + os.sep):
            sys.stderr.write(f"uncaught exception: input file '{path}' must be contained in root directory ({root})\n")
            return 1
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = []

    def emit(severity, line, column, data):
        out.append(message(path, severity, line, column, data))

    for m in re.finditer(r"^import\s+(\S+)", text, re.M):
        if find_olean(m.group(1)) is None:
            emit("error", line_of(text, m.start()), 0,
                 f"unknown module prefix '{m.group(1).split('.')[0]}'\n\nNo directory '{m.group(1).split('.')[0]}' or "
                 f"file '{m.group(1)}.olean' in the search path entries:\n{os.environ.get('LEAN_PATH', '')}")
    reference = olean is None
    rule = next((r for r in load_rules(worlds) if bool(r.get("reference")) == reference and r.get("match", "") in text), {})
    if rule.get("hang"):
        while True:
            time.sleep(3600)
    if rule.get("crash"):
        sys.stderr.write("Stack overflow detected. Aborting.\n")
        sys.stderr.flush()
        os.kill(os.getpid(), getattr(signal, rule["crash"]))
    if rule.get("oom"):
        hoard = []
        try:
            while len(hoard) < 64:
                hoard.append(bytearray(64 * 1024 * 1024))
        except MemoryError:
            hoard.clear()
            sys.stderr.write("out of memory\n")
            return 1
    decl = _DECL.search(text)
    statement_line = line_of(text, decl.start()) if decl else 1
    head_end = text.find(":=", decl.end()) if decl else -1
    proof_line = statement_line + text.count("\n", decl.start(), head_end) + 1 if decl else 1
    query = _QUERY_AXIOMS.search(text)
    query_line = line_of(text, query.start()) if query else proof_line
    for item in rule.get("messages", ()):
        # `"at": "queries"`: logged at the checker's `#print` (what a hijacked command would print)
        line = item.get("line", query_line if item.get("at") == "queries" else proof_line)
        emit(item["severity"], line, item.get("column", 2), item["data"])
    body = text[head_end + 2:] if head_end >= 0 else ""
    query_at = text.find("\n#print axioms ")
    proof_text = body[: body.find("\n#print axioms ")] if "\n#print axioms " in body else body
    if re.search(r"(?<![\w.])sorry(?![\w'])", without_comments(proof_text)) and not rule.get("no_sorry_warning"):
        emit("warning", statement_line, 8, "declaration uses 'sorry'")
    if rule.get("queries_run", True) and query_at >= 0:
        for m in _QUERY_AXIOMS.finditer(text):
            name = m.group(1)
            axioms = rule.get("axioms", STANDARD)
            if axioms is None:
                continue
            if axioms:
                listed = ", ".join(sorted(axioms, key=name_key))
                emit("information", line_of(text, m.start()), 0, f"'{name}' depends on axioms: [{listed}]")
            else:
                emit("information", line_of(text, m.start()), 0, f"'{name}' does not depend on any axioms")
        for m in _QUERY_CHECK.finditer(text):
            name = m.group(1)
            type_text = rule.get("type")
            if type_text is None and decl:
                signature = " ".join(text[decl.end():head_end].split())
                type_text = f"@{name} : {signature}"
            emit("information", line_of(text, m.start()), 0, type_text or f"@{name} : ?")
    for item in out:
        sys.stdout.write(json.dumps(item, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    ok = not any(item["severity"] == "error" for item in out)
    if olean is not None and ok:
        module = os.path.splitext(os.path.relpath(path, os.getcwd()))[0].replace(os.sep, ".")
        constants = rule.get("constants")
        if constants is None:
            constants = [{"name": decl.group(1)}] if decl else []
        imports = re.findall(r"^import\s+(\S+)", text, re.M)
        with open(olean, "w", encoding="utf-8") as f:
            json.dump({"format": "fake-olean (test double)", "module": module, "imports": imports,
                       "constants": constants}, f)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
