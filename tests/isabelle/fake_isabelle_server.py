"""Test double: a stand-in `isabelle` executable whose `server` command speaks the Isabelle server's
line protocol (password, `session_start`, `use_theories`, `purge_theories`, `session_stop`).

Modelled on Isabelle2022:
- `src/Pure/Tools/server.scala`: the first line `server "NAME" = HOST:PORT (password "PW")`, one
  connection per client, password line first, replies `OK`/`ERROR`/`NOTE`/`FINISHED`/`FAILED`
  followed by JSON; a message longer than 100 bytes is preceded by a line with its byte length
  plus one (`Byte_Message.write_line_message`, src/Pure/General/byte_message.scala);
- `src/Pure/Tools/server_commands.scala`: `use_theories` answers `OK {"task"}`, NOTEs, then
  `FINISHED {"ok", "errors", "nodes": [{node_name, theory_name, status, messages, exports}]}` where
  `messages` hold every exported message (`writeln`, `warning`, `error`: `Protocol.is_exported`)
  as `{"kind", "message", "pos"}`; unknown session ids fail the task;
- PIDE runs commands as interactive, so `sorry` is accepted without quick_and_dirty
  (`Method.cheating ctxt int`, `src/Pure/Isar/method.ML`) and leaves the `skip_proof` oracle
  (`src/Pure/skip_proof.ML`); `oops` abandons the goal without error and stores no theorem, so a
  later reference to it fails with `Undefined fact` (`Proof_Context.get_fact`).

It cannot run Isabelle, so what Isabelle *decides* comes from a script (JSON file named by the
environment variable FAKE_ISABELLE_SCRIPT): `errors` maps a text fragment to the error a theory
containing it gets; `oracles` maps a proof-method fragment to the oracles a theorem whose proof
contains it depends on (SMT without reconstruction, `eval`, `normalization`, ...); `delay_s` makes
every `use_theories` take that long; `log` names a file that receives every command line.
The oracle query (`llemma_prove/provers/isabelle/oracles.py`) is answered the way its ML would
print: the `writeln` prefix it carries, the count of oracles, then the `oracles:` listing
(`Thm_Deps.pretty_thm_oracles`, `src/Pure/thm_deps.ML`).
Installed by copying it to `<fake ISABELLE_HOME>/bin/isabelle` (stdlib only).
"""

import json
import os
import re
import socketserver
import sys
import threading
import time
import uuid

PASSWORD = "fake-password"
SESSIONS = set()
SESSIONS_LOCK = threading.Lock()
THEOREM = re.compile(r"^\s*(theorem|lemma|corollary|proposition)\s+([A-Za-z][A-Za-z0-9_']*)\s*[:\[]", re.M)
QUERY = re.compile(
    r'ML \\<open>\s*val llemma_prove_thms = Proof_Context\.get_thms @\{context\} "(?P<name>[^"]+)";.*?'
    r'writeln \("(?P<prefix>[^"]*)" \^ string_of_int \(length llemma_prove_oracles\).*?\\<close>',
    re.S,
)


def script():
    path = os.environ.get("FAKE_ISABELLE_SCRIPT")
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def frame(kind, body):
    """One reply line; one longer than 100 bytes is preceded by a line with its length plus one for
    the newline (`Byte_Message.write_line_message`, src/Pure/General/byte_message.scala)."""
    msg = f"{kind} {json.dumps(body)}".encode()
    if len(msg) > 100 or b"\n" in msg:
        return str(len(msg) + 1).encode() + b"\n" + msg + b"\n"
    return msg + b"\n"


def theorems(text):
    """(name, proof text) of each named theorem, the proof running to the next theorem or query."""
    found = []
    matches = list(THEOREM.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        query = text.find("ML \\<open>", m.end())
        if 0 <= query < end:
            end = query
        found.append((m.group(2), text[m.end():end]))
    return found


def check_theory(text, plan):
    """(errors, writeln messages) Isabelle would report for `text` under the script `plan`."""
    errors = [msg for fragment, msg in plan.get("errors", {}).items() if fragment in text]
    stored = {}
    for name, proof in theorems(text):
        words = re.findall(r"[A-Za-z_]+", re.sub(r"\(\*.*?\*\)", " ", proof, flags=re.S))
        if "oops" in words:
            continue  # abandoned: no theorem is stored under this name
        oracles = []
        if "sorry" in words:
            oracles.append("Pure.skip_proof")
        for fragment, names in plan.get("oracles", {}).items():
            if fragment in proof:
                oracles.extend(names)
        stored[name] = oracles
    messages = []
    for query in QUERY.finditer(text):
        name = query.group("name")
        if name not in stored:
            errors.append(f'Undefined fact: "{name}"')
            continue
        listing = "oracles:" + "".join(f"\n  \u25aa {o}" for o in stored[name])
        messages.append(f"{query.group('prefix')}{len(stored[name])} {listing}")
    return errors, messages


class Handler(socketserver.StreamRequestHandler):
    def send(self, kind, body):
        self.wfile.write(frame(kind, body))
        self.wfile.flush()

    def handle(self):
        if self.rfile.readline().decode().strip() != PASSWORD:
            self.send("ERROR", "Bad password")
            return
        self.send("OK", {"isabelle_id": "fake", "isabelle_name": "Isabelle2022"})
        plan = script()
        for raw in self.rfile:
            line = raw.decode().strip()
            if plan.get("log"):
                with open(plan["log"], "a", encoding="utf-8") as log:
                    log.write(f"{time.monotonic():.3f} {line}\n")
            command, _, arg = line.partition(" ")
            args = json.loads(arg) if arg else {}
            task = uuid.uuid4().hex
            if command == "session_start":
                self.send("OK", {"task": task})
                sid = str(uuid.uuid4())
                with SESSIONS_LOCK:
                    SESSIONS.add(sid)
                self.send("FINISHED", {"task": task, "session_id": sid, "tmp_dir": "/tmp"})
            elif command == "use_theories":
                self.send("OK", {"task": task})
                if args.get("session_id") not in SESSIONS:
                    self.send("FAILED", {"task": task, "message": f"No session {args.get('session_id')}", "kind": "error"})
                    continue
                time.sleep(float(plan.get("delay_s", 0.0)))
                nodes = []
                all_errors = []
                for name in args["theories"]:
                    path = os.path.join(args["master_dir"], f"{name}.thy")
                    with open(path, encoding="utf-8") as handle:
                        text = handle.read()
                    errors, writelns = check_theory(text, plan)
                    messages = [{"kind": "writeln", "message": m, "pos": {"line": 1, "file": path}} for m in writelns]
                    messages += [{"kind": "error", "message": e, "pos": {"line": 1, "file": path}} for e in errors]
                    all_errors += [{"kind": "error", "message": e, "pos": {"line": 1, "file": path}} for e in errors]
                    failed = bool(errors)
                    status = {"ok": not failed, "total": 3, "unprocessed": 0, "running": 0, "warned": 0,
                              "failed": int(failed), "finished": 3 - int(failed), "canceled": False,
                              "consolidated": True, "percentage": 100}
                    nodes.append({"node_name": path, "theory_name": f"Draft.{name}", "status": status,
                                  "messages": messages, "exports": []})
                self.send("NOTE", {"task": task, "kind": "writeln", "message": "theories checked"})
                ok = all(n["status"]["ok"] for n in nodes)
                self.send("FINISHED", {"task": task, "ok": ok, "errors": all_errors, "nodes": nodes})
            elif command == "purge_theories":
                self.send("OK", {"purged": [], "retained": []})
            elif command == "session_stop":
                self.send("OK", {"task": task})
                self.send("FINISHED", {"task": task, "ok": True, "return_code": 0})
            else:
                self.send("ERROR", f"Bad command {command!r}")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) < 2 or sys.argv[1] != "server":
        print("fake isabelle: only `isabelle server` is implemented", file=sys.stderr)
        return 2
    name = sys.argv[sys.argv.index("-n") + 1] if "-n" in sys.argv else "isabelle"
    with Server(("127.0.0.1", 0), Handler) as server:
        port = server.server_address[1]
        print(f'server "{name}" = 127.0.0.1:{port} (password "{PASSWORD}")', flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
