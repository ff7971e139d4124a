#!/usr/bin/env python3
"""TEST DOUBLE: a strict stand-in for the Lean REPL process (leanprover-community/repl at tag v4.24.0).

Modelled on the REPL's own source at tag v4.24.0 (commit 8fff8552292860d349b459d6a811e6915671dc0d):

- `REPL/Main.lean`, `getLines`: a request is the lines up to a blank line, each right-trimmed and
  joined without newlines; a query starting with `#` or `--` is skipped without an answer; end of
  input ends the process. An extra blank line is a query of its own (`"\\n"`), which is not JSON.
- `REPL/Main.lean`, `parse`: the query must be JSON and must decode as one of, in this order,
  ProofStep, PickleEnvironment, UnpickleEnvironment, PickleProofState, UnpickleProofState, Command,
  File (`REPL/JSON.lean`: field names and types; `Option` fields may be missing or null, a `Nat` is a
  non-negative integer). Otherwise `parse` throws an `IO.userError`, nothing catches it in `loop`, and
  the process ends: the Lean runtime prints `uncaught exception: <message>` on stderr
  (leanprover/lean4 `src/runtime/io.cpp`, `lean_io_result_show_error`) and exits 1.
  `unpickleEnvFrom` of a missing file throws the same way (`unpickleCommandSnapshot` has no `try`).
- `runCommand` / `runProofStep` / `pickle*`: an id that is not in the session's arrays is answered
  `{"message": "Unknown environment."}` / `"Unknown proof state."` / `"Unknown proof State."`; ids are
  indexes into arrays, so a fresh process hands out 0, 1, 2, ... in the order it records snapshots
  (for a command: its sorries, then its tactics, then the env; for a tactic: its sorries, then the
  new proof state; pickling a proof state records a new one too).

Stricter than the REPL on purpose: Lean's derived `FromJson` ignores fields it does not know, so the
real REPL silently runs `{"cmd": ..., "environment": 3}` on a fresh environment; this stand-in ends
the process instead (exit 1, the reason on stderr), because such a request is always a driver bug.

Answers come from real recordings. `--pairs IN OUT` loads a recorded `.in` / `.expected.out` pair,
`--script FILE` a JSON list of `{"request": ..., "response": ...}` written by a test. The stand-in
keeps the map from the live session's ids to the recording's: a request is answered only if, with
its ids mapped back, it equals a recorded request exactly (every field, ids included); the recorded
response's new ids are then given fresh live ids. A request with no recording ends the process
(exit 70) with the request on stderr: the stand-in cannot know what Lean would answer.

`--fallback synthetic` answers unrecorded requests from a tiny deterministic world (commands give
environments, a tactic `t` turns goal `g` into `g ▸ t`, `done` and `close...` complete, `fail...`
errs, `close_if WORD` completes a goal whose text has WORD and errs on any other);
`--synthetic` uses only that world (benchmarks, fault tests). A command's `sorry`s are reported as
REPL v4.24.0 reports them (`REPL/Lean/InfoTree.lean` `sorries`/`tactics`, `REPL/Main.lean`
`sorries`/`runCommand`): each with its exact position (1-based line, code-point column), a goal and a
proof state, the tactic ones first, then the term ones; with `allTactics`, a `tactics` entry `sorry`
with the same range for each tactic `sorry` only. A `sorry` that Lean runs on several goals (right
after `all_goals`, `any_goals` or `<;>`; two goals, `case left` and `case right`, in this world) is
reported once per goal, every entry at the same position, each with its own goal and proof state.
Which `sorry` is a tactic follows the small grammar of `synthetic_sorries`.

Fault modes, triggered when a request's `cmd`/`tactic` contains TEXT: `--hang-on` (never answers),
`--crash-on` (dies by SIGSEGV), `--garbage-on` (prints non-JSON), `--oom-on` (allocates until the
address-space cap stops it, then dies like Lean out of memory), `--grow-on TEXT=MB` (holds MB more
resident memory, then answers), `--grow-after-on TEXT=MB` (answers, then holds MB more),
`--delay-on TEXT=SECONDS`; and `--import-delay SECONDS` (slow `import`), `--reserve-mb MB` (maps MB of
address space it never touches, as Lean maps the `.olean` files it imports), `--spawn-grandchild` (a
child process of its own, to check that killing the group leaves nothing), `--log FILE` (every
request received, one JSON per line).

Standard library only: it runs as `python -S fake_repl.py ...`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

_DECL = re.compile(r"\b(?:theorem|lemma|def|example)\s+([^\s:({\[]*)")

_NAT, _OPT_NAT, _STR, _OPT_STR, _OPT_BOOL = "nat", "nat?", "str", "str?", "bool?"
_OPTIONS = {"allTactics": _OPT_BOOL, "rootGoals": _OPT_BOOL, "infotree": _OPT_STR}
# REPL/JSON.lean at v4.24.0, tried in the order of `parse` in REPL/Main.lean.
KINDS = (
    ("proofStep", {"proofState": _NAT, "tactic": _STR}),
    ("pickleEnvironment", {"env": _NAT, "pickleTo": _STR}),
    ("unpickleEnvironment", {"unpickleEnvFrom": _STR}),
    ("pickleProofState", {"proofState": _NAT, "pickleTo": _STR}),
    ("unpickleProofState", {"unpickleProofStateFrom": _STR, "env": _OPT_NAT}),
    ("command", {"cmd": _STR, "env": _OPT_NAT, **_OPTIONS}),
    ("file", {"path": _STR, "env": _OPT_NAT, **_OPTIONS}),
)
_SYNTHETIC = "synthetic"  # what a live id maps to when the synthetic world made it
NO_RECORDING_EXIT = 70


class Crash(Exception):
    """The REPL process ends: `message` on stderr, exit `code`."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.code = code


def _fits(value, kind):
    if value is None:
        return kind.endswith("?")
    if kind.startswith("nat"):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind.startswith("str"):
        return isinstance(value, str)
    return isinstance(value, bool)


def classify(query):
    """(kind, request with null options dropped) as `parse` decodes the query, or Crash."""
    try:
        data = json.loads(query, strict=False)
    except ValueError as exc:
        raise Crash("uncaught exception: " + json.dumps({"message": f"Could not parse JSON:\n{exc}"})) from None
    if isinstance(data, dict):
        for kind, fields in KINDS:
            if all(_fits(data.get(name), t) for name, t in fields.items()):
                unknown = sorted(set(data) - set(fields))
                if unknown:
                    raise Crash(f"fake_repl (stricter than the REPL, which ignores them): unknown field(s) "
                                f"{', '.join(unknown)} in a {kind} request {query[:200]}")
                return kind, {k: v for k, v in data.items() if v is not None}
    raise Crash("uncaught exception: " + json.dumps(
        {"message": f"Could not parse as a valid JSON command:\n{query[:200]}"}))


def split_blocks(text):
    block = []
    for line in text.splitlines():
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def _canonical(request):
    return json.dumps(request, sort_keys=True, ensure_ascii=False)


class Entry:
    def __init__(self, request, response, text=None):
        self.request = request
        self.response = response
        self.text = text  # the recorded bytes, replayed verbatim when every id is the recorded one
        self.used = False


class FakeRepl:
    def __init__(self, args):
        self.args = args
        self.entries = {}
        self.envs = []  # live env id -> recorded env id (or _SYNTHETIC)
        self.states = []  # live proof state id -> recorded proof state id (or _SYNTHETIC)
        self.goals = {}  # live proof state -> goals (synthetic world)
        self.hoard = []
        self.pending_growth = 0.0
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None
        for path_in, path_out in args.pairs or ():
            self.load_pair(path_in, path_out)
        for path in args.script or ():
            with open(path, encoding="utf-8") as f:
                for item in json.load(f):
                    self.add(item["request"], item["response"])

    # ------------------------------------------------------------------ recordings

    def add(self, request, response, text=None):
        _, request = classify(json.dumps(request, ensure_ascii=False))  # a recording must be a valid request
        self.entries.setdefault(_canonical(request), []).append(Entry(request, response, text))

    def load_pair(self, path_in, path_out):
        with open(path_in, encoding="utf-8") as f:
            queries = ["".join(line.rstrip() for line in b) for b in split_blocks(f.read())]
        queries = [q for q in queries if not (q.startswith("#") or q.startswith("--"))]
        with open(path_out, encoding="utf-8") as f:
            blocks = ["\n".join(b) for b in split_blocks(f.read())]
        for query, text in zip(queries, blocks):
            self.add(json.loads(query, strict=False), json.loads(text), text)

    # ------------------------------------------------------------------ ids

    def new_env(self, recorded=_SYNTHETIC):
        self.envs.append(recorded)
        return len(self.envs) - 1

    def new_ps(self, recorded=_SYNTHETIC, goals=()):
        self.states.append(recorded)
        live = len(self.states) - 1
        self.goals[live] = list(goals)
        return live

    def unknown_id(self, kind, request):
        """The REPL's answer when an id is not in its arrays (runCommand, runProofStep, pickle*)."""
        if "env" in request and request["env"] >= len(self.envs):
            return {"message": "Unknown environment."}
        if "proofState" in request and request["proofState"] >= len(self.states):
            return {"message": "Unknown proof State." if kind == "pickleProofState" else "Unknown proof state."}
        return None

    def to_recorded(self, request):
        out = dict(request)
        if "env" in out:
            out["env"] = self.envs[out["env"]]
        if "proofState" in out:
            out["proofState"] = self.states[out["proofState"]]
        return out

    def renumber(self, kind, request, response):
        """The recorded response with its new ids replaced by fresh live ids, allocated in the REPL's order."""
        out = json.loads(json.dumps(response))
        if "message" in out and len(out) == 1:
            return out
        for item in out.get("sorries") or ():
            if isinstance(item, dict) and isinstance(item.get("proofState"), int):
                item["proofState"] = self.new_ps(item["proofState"], [item.get("goal", "")])
        for item in out.get("tactics") or ():
            if isinstance(item, dict) and isinstance(item.get("proofState"), int):
                item["proofState"] = self.new_ps(item["proofState"], [item.get("goals", "")])
        if isinstance(out.get("proofState"), int):
            out["proofState"] = self.new_ps(out["proofState"], out.get("goals") or [])
        if isinstance(out.get("env"), int):
            if kind == "pickleEnvironment":  # answers with the env it pickled, not a new one
                out["env"] = request["env"]
            else:
                out["env"] = self.new_env(out["env"])
        return out

    # ------------------------------------------------------------------ answering

    def lookup(self, kind, request):
        recorded = self.to_recorded(request)
        if _SYNTHETIC in (recorded.get("env"), recorded.get("proofState")):
            return None
        candidates = self.entries.get(_canonical(recorded))
        if not candidates:
            return None
        unused = [e for e in candidates if not e.used]
        entry = unused[0] if unused else candidates[-1]
        entry.used = True
        response = self.renumber(kind, request, entry.response)
        if entry.text is not None and response == entry.response:
            return entry.text
        return json.dumps(response, ensure_ascii=False, indent=1)

    def synthetic(self, kind, request):
        if kind in ("command", "file"):
            cmd = request.get("cmd", "")
            axioms = re.match(r"\s*#print axioms (\S+)", cmd)
            if axioms:
                data = f"'{axioms.group(1)}' depends on axioms: [propext, Classical.choice, Quot.sound]"
                return {"messages": [_message("info", data)], "env": self.new_env()}
            found = synthetic_sorries(cmd)
            if found:
                name = (_DECL.search(cmd).group(1) if _DECL.search(cmd) else "") or "anonymous"
                # REPL/Lean/InfoTree.lean `sorries`: the tactic sorries, then the term sorries; ids are
                # recorded in that order (REPL/Main.lean `sorries`), then the tactics, then the env.
                # A `sorry` run on several goals is one node per goal, so one entry per goal, all at
                # the same position (`findSorryTacticNodes` uses `findAllInfo`; the recorded
                # `H20231115_2` transcript: `all_goals sorry` after `induction'`, two entries at 3:12).
                ordered = [f for f in found if f[2]] + [f for f in found if not f[2]]
                sorries, tactics = [], []

                def goals_at(line, column, cases):
                    plain = f"⊢ {name}" if len(found) == 1 else f"⊢ {name} @{line}:{column}"
                    return [plain] if cases == 1 else [f"case {c}\n{plain}" for c in _CASES[:cases]]
                for line, column, _tactic, cases in ordered:
                    for goal in goals_at(line, column, cases):
                        sorries.append({"proofState": self.new_ps(goals=[goal]),
                                        "pos": {"line": line, "column": column},
                                        "goal": goal, "endPos": {"line": line, "column": column + 5}})
                if request.get("allTactics"):  # `InfoTree.tactics`: every original `sorry` node, so one per goal too
                    for line, column, _tactic, cases in (f for f in found if f[2]):
                        for goal in goals_at(line, column, cases):
                            tactics.append({"usedConstants": [], "tactic": "sorry",
                                            "proofState": self.new_ps(goals=[goal]),
                                            "pos": {"line": line, "column": column}, "goals": goal,
                                            "endPos": {"line": line, "column": column + 5}})
                out = {"sorries": sorries, "messages": [_message("warning", "declaration uses `sorry`")]}
                if request.get("allTactics"):
                    out["tactics"] = tactics
                out["env"] = self.new_env()
                return out
            if request.get("allTactics"):
                return {"tactics": [], "env": self.new_env()}
            return {"env": self.new_env()}
        if kind == "proofStep":
            parent = self.goals.get(request["proofState"], [])
            tactic = request["tactic"].strip()
            wanted = re.fullmatch(r"close_if\s+(\S+)", tactic)
            if wanted:  # completes a goal that mentions the word, errs (as `fail...` does) on any other
                if parent and wanted.group(1) in parent[0]:
                    return {"proofStatus": "Completed", "proofState": self.new_ps(), "goals": []}
                return {"proofStatus": "Incomplete: contains sorry", "proofState": self.new_ps(),
                        "messages": [_message("error", f"close_if: the goal does not mention {wanted.group(1)}",
                                              line=0)], "goals": []}
            if tactic == "done" or tactic.startswith("close"):
                return {"proofStatus": "Completed", "proofState": self.new_ps(), "goals": []}
            if tactic.startswith("fail"):
                return {"proofStatus": "Incomplete: contains sorry", "proofState": self.new_ps(),
                        "messages": [_message("error", f"unknown tactic `{tactic}`", line=0)], "goals": []}
            goals = [f"{g} ▸ {tactic}" for g in parent] or [f"⊢ {tactic}"]
            return {"proofStatus": "Incomplete: open goals remain", "proofState": self.new_ps(goals=goals),
                    "goals": goals}
        if kind in ("pickleEnvironment", "pickleProofState"):
            with open(request["pickleTo"], "w", encoding="utf-8") as f:
                f.write("fake pickle\n")
            if kind == "pickleEnvironment":
                return {"env": request["env"]}
            return {"proofStatus": "Incomplete: open goals remain", "proofState": self.new_ps(), "goals": []}
        path = request.get("unpickleEnvFrom") or request.get("unpickleProofStateFrom")
        if not os.path.exists(path):  # CommandSnapshot.unpickle throws; nothing catches it
            raise Crash(f"uncaught exception: no such file or directory (error code: 2)\n  file: {path}")
        if kind == "unpickleEnvironment":
            return {"env": self.new_env()}
        return {"proofStatus": "Incomplete: open goals remain", "proofState": self.new_ps(), "goals": []}

    def answer(self, query):
        kind, request = classify(query)
        if self.log:
            self.log.write(json.dumps(request, ensure_ascii=False) + "\n")
            self.log.flush()
        self.faults(request)
        unknown = self.unknown_id(kind, request)
        if unknown is not None:
            return json.dumps(unknown)
        if not self.args.synthetic:
            text = self.lookup(kind, request)
            if text is not None:
                return text
        if self.args.synthetic or self.args.fallback == "synthetic":
            return json.dumps(self.synthetic(kind, request), ensure_ascii=False, indent=1)
        raise Crash(f"fake_repl: no recording of {json.dumps(request, ensure_ascii=False)[:400]} "
                    f"(as recorded: {json.dumps(self.to_recorded(request), ensure_ascii=False)[:400]})",
                    NO_RECORDING_EXIT)

    def faults(self, request):
        text = request.get("cmd") or request.get("tactic") or ""
        if "cmd" in request and self.args.import_delay and re.match(r"\s*import\b", request["cmd"]):
            time.sleep(self.args.import_delay)
        for spec in self.args.grow_on or ():
            trigger, _, megabytes = spec.rpartition("=")
            if trigger and trigger in text:
                self.grow(float(megabytes))
        for spec in self.args.grow_after_on or ():
            trigger, _, megabytes = spec.rpartition("=")
            if trigger and trigger in text:
                self.pending_growth += float(megabytes)
        for spec in self.args.delay_on or ():
            trigger, _, seconds = spec.rpartition("=")
            if trigger and trigger in text:
                time.sleep(float(seconds))
        if any(t in text for t in self.args.hang_on or ()):
            while True:
                time.sleep(3600)
        if any(t in text for t in self.args.crash_on or ()):
            sys.stderr.write("Stack overflow detected. Aborting.\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGSEGV)
        if any(t in text for t in self.args.garbage_on or ()):
            sys.stdout.write("PANIC at Lean.Elab something went wrong {\nthis is not json\n\n")
            sys.stdout.flush()
            raise _Garbage()
        if any(t in text for t in self.args.oom_on or ()):
            hoard = []
            try:
                while len(hoard) < 64:  # 4 GB: far past any cap a test sets
                    hoard.append(bytearray(64 * 1024 * 1024))
                sys.stderr.write("fake_repl: allocated 4 GB, no address-space cap is in place\n")
                sys.stderr.flush()
                os._exit(3)
            except MemoryError:
                hoard.clear()
                sys.stderr.write("INTERNAL PANIC: out of memory\n")
                sys.stderr.flush()
                os._exit(1)

    def grow(self, megabytes):
        block = bytearray(int(megabytes * 1024 * 1024))
        block[::4096] = b"\1" * len(block[::4096])  # touch every page: resident, not just reserved
        self.hoard.append(block)

    def read_query(self, stdin):
        """REPL/Main.lean `getLines`: right-trimmed lines up to and including the first blank one."""
        parts = []
        while True:
            raw = stdin.readline()
            line = raw.decode("utf-8")
            if not line.strip():
                return "".join(parts) + line
            parts.append(line.rstrip())

    def serve(self):
        stdin = sys.stdin.buffer
        out = sys.stdout.buffer
        while True:
            query = self.read_query(stdin)
            if query == "":
                return 0
            if query.startswith("#") or query.startswith("--"):
                continue
            try:
                reply = self.answer(query)
            except _Garbage:
                continue
            except Crash as crash:
                sys.stderr.write(str(crash) + "\n")
                sys.stderr.flush()
                return crash.code
            out.write(reply.encode("utf-8") + b"\n\n")
            out.flush()
            if self.pending_growth:
                self.grow(self.pending_growth)
                self.pending_growth = 0.0


class _Garbage(Exception):
    pass


_TOKEN = re.compile(r"--[^\n]*|/-.*?-/|\"(?:[^\"\\]|\\.)*\"|[A-Za-z_][A-Za-z0-9_'!?.]*|:=|=>|<;>|\n|\S", re.S)
# The synthetic world's grammar (a small stand-in for Lean's parser): a `sorry` is a term inside
# `[...]`, `⟨...⟩` or `⦃...⦄`, or right after a token that Lean's grammar follows with a term, or after
# the `=>` of `fun`; everywhere else it is the `sorry` tactic. Lean's own answer decides this for
# real; the tests use only texts where this grammar and Lean's agree.
_TERM_BEFORE = {"exact", "refine", "refine'", "apply", "use", "from", "show", ":=", ",", "=", "+", "*",
                "calc", "at", "fun", "λ"}
_TERM_BRACKETS = {"[": "]", "⟨": "⟩", "⦃": "⦄"}


# The synthetic world's goals at a `sorry` run by `all_goals`, `any_goals` or as the right-hand side
# of `<;>`: always two, named like `constructor`'s (Lean runs the `sorry` once on each).
_CASES = ("left", "right")
_EACH_GOAL = {"all_goals", "any_goals", "<;>"}


def synthetic_sorries(cmd):
    """(line, column, is_tactic, goals) of each `sorry` token of `cmd` outside comments and strings,
    with Lean's positions: 1-based lines split at `\n` only, columns in code points (`FileMap`);
    `goals` is how many goals the `sorry` runs on (two right after `all_goals`, `any_goals`, `<;>`)."""
    out = []
    line, line_start = 1, 0
    previous = None
    stack = []
    fun_arrow_line = None
    for match in _TOKEN.finditer(cmd):
        tok = match.group(0)
        start = match.start()
        if tok == "\n" or tok.startswith("--") or tok.startswith("/-"):
            for k in range(start, match.end()):
                if cmd[k] == "\n":
                    line, line_start = line + 1, k + 1
            continue
        if tok in _TERM_BRACKETS or tok in ("(", "{"):
            stack.append(tok)
        elif tok in ("]", "⟩", "⦄", ")", "}") and stack:
            stack.pop()
        if tok == "fun" or tok == "λ":
            fun_arrow_line = line
        if tok == "sorry":
            in_term = any(b in _TERM_BRACKETS for b in stack)
            after_fun = previous == "=>" and fun_arrow_line == line
            tactic = not (in_term or previous in _TERM_BEFORE or after_fun)
            goals = len(_CASES) if tactic and previous in _EACH_GOAL else 1
            out.append((line, start - line_start, tactic, goals))
        previous = tok
    return out


def _message(severity, data, line=1):
    return {"severity": severity, "pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 0},
            "data": data}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs=2, action="append", metavar=("IN", "OUT"))
    parser.add_argument("--script", action="append")
    parser.add_argument("--fallback", choices=("error", "synthetic"), default="error")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--hang-on", action="append")
    parser.add_argument("--crash-on", action="append")
    parser.add_argument("--garbage-on", action="append")
    parser.add_argument("--oom-on", action="append")
    parser.add_argument("--grow-on", action="append")
    parser.add_argument("--grow-after-on", action="append")
    parser.add_argument("--delay-on", action="append")
    parser.add_argument("--import-delay", type=float, default=0.0)
    parser.add_argument("--spawn-grandchild", action="store_true")
    parser.add_argument("--reserve-mb", type=int, default=0)
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    if args.reserve_mb:
        import mmap

        reserved = mmap.mmap(-1, args.reserve_mb * 1024 * 1024)  # noqa: F841 - held, never touched
    if args.spawn_grandchild:
        subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    sys.exit(FakeRepl(args).serve())


if __name__ == "__main__":
    main()
