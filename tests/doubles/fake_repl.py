#!/usr/bin/env python3
"""TEST DOUBLE: a stand-in for the Lean REPL process (leanprover-community/repl).

It speaks the REPL's wire protocol (requests and responses are JSON objects separated by blank lines;
a request's lines are joined without newlines, as the REPL does) and answers from real recordings:

- `--pairs IN OUT` loads a recorded `.in` / `.expected.out` pair, `--script FILE` a JSON list of
  `{"request": ..., "response": ...}` written by a test. A request is answered with the recorded
  response of the recorded request with the same content (ids aside). Environment and proof-state
  ids are renumbered consistently, so a fresh process replays a recording exactly and a restarted
  one can replay it again.
- `--fallback synthetic` answers anything unrecorded from a tiny deterministic world (commands give
  environments, `sorry` gives one proof state, a tactic `t` turns goal `g` into `g ▸ t`, `done`
  completes, `fail...` errs); `--synthetic` uses only that world (benchmarks, fault tests).

Fault modes, triggered when a request's `cmd`/`tactic` contains TEXT: `--hang-on` (never answers),
`--crash-on` (dies by SIGSEGV), `--garbage-on` (prints non-JSON), `--oom-on` (allocates until the
address-space cap stops it, then dies like Lean out of memory), `--delay-on TEXT=SECONDS`; and
`--import-delay SECONDS` (slow `import`), `--spawn-grandchild` (a child process of its own, to check
that killing the group leaves nothing), `--log FILE` (every request received, one JSON per line).

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


def key_of(request):
    rest = {k: v for k, v in request.items() if k not in ("env", "proofState")}
    return json.dumps(rest, sort_keys=True, ensure_ascii=False)


class Entry:
    def __init__(self, request, response, text=None):
        self.request = request
        self.response = response
        self.text = text  # the recorded bytes, replayed verbatim when no id changes
        self.used = False


class FakeRepl:
    def __init__(self, args):
        self.args = args
        self.entries = {}
        self.env_map, self.env_inv = {}, {}
        self.ps_map, self.ps_inv = {}, {}
        self.next_env = 0
        self.next_ps = 0
        self.envs = set()
        self.goals = {}  # fake proof state -> goals (synthetic world)
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None
        for path_in, path_out in args.pairs or ():
            self.load_pair(path_in, path_out)
        for path in args.script or ():
            with open(path, encoding="utf-8") as f:
                for item in json.load(f):
                    self.add(item["request"], item["response"])

    # ------------------------------------------------------------------ recordings

    def add(self, request, response, text=None):
        self.entries.setdefault(key_of(request), []).append(Entry(request, response, text))

    def load_pair(self, path_in, path_out):
        with open(path_in, encoding="utf-8") as f:
            requests = [json.loads("".join(b), strict=False) for b in split_blocks(f.read())]
        with open(path_out, encoding="utf-8") as f:
            blocks = ["\n".join(b) for b in split_blocks(f.read())]
        for request, text in zip(requests, blocks):
            self.add(request, json.loads(text), text)

    # ------------------------------------------------------------------ ids

    def new_env(self):
        env = self.next_env
        self.next_env += 1
        self.envs.add(env)
        return env

    def new_ps(self, goals=()):
        ps = self.next_ps
        self.next_ps += 1
        self.goals[ps] = list(goals)
        return ps

    def map_env(self, recorded):
        if recorded not in self.env_map:
            fake = self.new_env()
            self.env_map[recorded], self.env_inv[fake] = fake, recorded
        return self.env_map[recorded]

    def map_ps(self, recorded, goals=()):
        if recorded not in self.ps_map:
            fake = self.new_ps(goals)
            self.ps_map[recorded], self.ps_inv[fake] = fake, recorded
        return self.ps_map[recorded]

    def renumber(self, response):
        out = json.loads(json.dumps(response))
        for item in out.get("sorries") or ():
            if isinstance(item, dict) and isinstance(item.get("proofState"), int):
                item["proofState"] = self.map_ps(item["proofState"], [item.get("goal", "")])
        for item in out.get("tactics") or ():
            if isinstance(item, dict) and isinstance(item.get("proofState"), int):
                item["proofState"] = self.map_ps(item["proofState"], [item.get("goals", "")])
        if isinstance(out.get("proofState"), int):
            out["proofState"] = self.map_ps(out["proofState"], out.get("goals") or [])
        if isinstance(out.get("env"), int):
            out["env"] = self.map_env(out["env"])
        return out

    # ------------------------------------------------------------------ answering

    def lookup(self, request):
        candidates = self.entries.get(key_of(request))
        if not candidates:
            return None

        def compatible(entry):
            for field, inverse in (("env", self.env_inv), ("proofState", self.ps_inv)):
                if field in request:
                    wanted = inverse.get(request[field], request[field])
                    if entry.request.get(field) != wanted:
                        return False
            return True

        ordered = ([e for e in candidates if not e.used and compatible(e)] + [e for e in candidates if not e.used]
                   + [e for e in candidates if compatible(e)] + candidates)
        entry = ordered[0]
        entry.used = True
        response = self.renumber(entry.response)
        if entry.text is not None and response == entry.response:
            return entry.text
        return json.dumps(response, ensure_ascii=False, indent=1)

    def synthetic(self, request):
        if "cmd" in request:
            cmd = request["cmd"]
            if "env" in request and request["env"] not in self.envs:
                return {"message": "Unknown environment."}
            axioms = re.match(r"\s*#print axioms (\S+)", cmd)
            if axioms:
                data = f"'{axioms.group(1)}' depends on axioms: [propext, Classical.choice, Quot.sound]"
                return {"messages": [_message("info", data)], "env": self.new_env()}
            if re.search(r"\bsorry\b", cmd):
                name = (_DECL.search(cmd).group(1) if _DECL.search(cmd) else "") or "anonymous"
                goal = f"⊢ {name}"
                ps = self.new_ps([goal])
                return {"sorries": [{"proofState": ps, "pos": {"line": 1, "column": 0}, "goal": goal,
                                     "endPos": {"line": 1, "column": 5}}],
                        "messages": [_message("warning", "declaration uses `sorry`")], "env": self.new_env()}
            return {"env": self.new_env()}
        if "tactic" in request:
            parent = self.goals.get(request.get("proofState"))
            if parent is None:
                return {"message": "Unknown proof state."}
            tactic = request["tactic"].strip()
            if tactic == "done" or tactic.startswith("close"):
                return {"proofStatus": "Completed", "proofState": self.new_ps(), "goals": []}
            if tactic.startswith("fail"):
                return {"proofStatus": "Incomplete: contains sorry", "proofState": self.new_ps(),
                        "messages": [_message("error", f"unknown tactic `{tactic}`", line=0)], "goals": []}
            goals = [f"{g} ▸ {tactic}" for g in parent] or [f"⊢ {tactic}"]
            return {"proofStatus": "Incomplete: open goals remain", "proofState": self.new_ps(goals), "goals": goals}
        if "pickleTo" in request:
            with open(request["pickleTo"], "w", encoding="utf-8") as f:
                f.write("fake pickle\n")
            if "env" in request:
                return {"env": request["env"]}
            return {"proofStatus": "Incomplete: open goals remain", "proofState": self.new_ps(), "goals": []}
        if "unpickleEnvFrom" in request:
            if not os.path.exists(request["unpickleEnvFrom"]):
                return {"message": "Lean error:\nno such file"}
            return {"env": self.new_env()}
        return {"message": "Lean error:\nunsupported request"}

    def answer(self, request):
        if self.log:
            self.log.write(json.dumps(request, ensure_ascii=False) + "\n")
            self.log.flush()
        self.faults(request)
        if not self.args.synthetic:
            text = self.lookup(request)
            if text is not None:
                return text
        if self.args.synthetic or self.args.fallback == "synthetic":
            return json.dumps(self.synthetic(request), ensure_ascii=False, indent=1)
        if "cmd" in request and request["cmd"].lstrip().startswith("import"):
            return json.dumps({"env": self.new_env()})
        sys.stderr.write(f"fake_repl: no recording for {json.dumps(request, ensure_ascii=False)[:300]}\n")
        return json.dumps({"message": "Lean error:\nfake_repl has no recording of this request"})

    def faults(self, request):
        text = request.get("cmd") or request.get("tactic") or ""
        if "cmd" in request and self.args.import_delay and re.match(r"\s*import\b", request["cmd"]):
            time.sleep(self.args.import_delay)
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

    def serve(self):
        stdin = sys.stdin.buffer
        out = sys.stdout.buffer
        block = []
        while True:
            line = stdin.readline()
            if line.strip():
                block.append(line.decode("utf-8").rstrip("\r\n"))
                continue
            if block:
                raw, block = "".join(block), []
                try:
                    request = json.loads(raw, strict=False)
                except ValueError:
                    reply = json.dumps({"message": f"Could not parse JSON: {raw[:80]}"})
                else:
                    try:
                        reply = self.answer(request)
                    except _Garbage:
                        continue
                out.write(reply.encode("utf-8") + b"\n\n")
                out.flush()
            if not line:
                return


class _Garbage(Exception):
    pass


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
    parser.add_argument("--delay-on", action="append")
    parser.add_argument("--import-delay", type=float, default=0.0)
    parser.add_argument("--spawn-grandchild", action="store_true")
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    if args.spawn_grandchild:
        subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    FakeRepl(args).serve()


if __name__ == "__main__":
    main()
