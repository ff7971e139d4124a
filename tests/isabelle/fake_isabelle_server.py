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
print: the `writeln` prefix it carries, the statement comparison, the count of new axioms, the
count of oracles, then the `oracles:` listing (`Thm_Deps.pretty_thm_oracles`, `src/Pure/thm_deps.ML`).
Theory-level facts as Isabelle2022 keeps them:
- a second fact of one name is an error, `Duplicate fact declaration "Draft.N" vs. "Draft.N"`
  (`Name_Space.define` in src/Pure/General/name_space.ML, via `Global_Theory.add_thms`);
  `oops` stores nothing, so after it the name is free again;
- `lemmas N = F` stores F's statement under N with F's oracles (src/Pure/Isar/specification.ML
  `theorems`); the few library facts attacks name are in LIBRARY;
- a theorem whose proof names another stored theorem inherits its oracles (`Thm_Deps.all_oracles`
  is transitive);
- each `axiomatization` adds an axiom to the theory (`Theory.add_axiom`, src/Pure/theory.ML), which
  `Theory.all_axioms_of` lists from then on;
- two theorems state the same proposition exactly when their statements (after the name) are the
  same text up to spacing and no command that changes what text means (notation, abbreviations,
  translations, new constants: SYNTAX) came between them: the same text elaborated in the same
  context is the same term, in another context it may be another term.
Model text that Isabelle would run as ML (document antiquotations such as `@{ML_type}` in `txt`
or in a formal comment: src/Pure/Thy/document_antiquotations.ML) can do anything; the script's
`rewrites` ({fragment: [old, new]}) says what such ML does to later `writeln` output (replacing
`Private_Output.writeln_fn`, src/Pure/General/output.ML), and `prints` ({fragment: message}) what a
diagnostic command in the text prints.
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
THEOREM = re.compile(r"^\s*(theorem|lemma|corollary|proposition)\s+([A-Za-z][A-Za-z0-9_'.]*)\s*[:\[]", re.M)
LEMMAS = re.compile(r"^\s*lemmas\s+([A-Za-z][A-Za-z0-9_'.]*)\s*=\s*([A-Za-z][A-Za-z0-9_'.]*)", re.M)
AXIOMATIZATION = re.compile(r"\baxiomatization\b")
BASELINE = re.compile(r"val llemma_prove_axioms_(?P<nonce>[0-9a-f]+) = Symtab\.make_set")
QUERY = re.compile(
    r'ML \\<open>\s*val llemma_prove_thms = Proof_Context\.get_thms @\{context\} "(?P<name>[^"]+)";.*?'
    r'val llemma_prove_statement =\s*(?P<statement>.*?);\s*val llemma_prove_new_axioms.*?'
    r'Symtab\.defined llemma_prove_axioms_(?P<nonce>[0-9a-f]+) name.*?'
    r'writeln \("(?P<prefix>[^"]*)" \^ llemma_prove_statement.*?\\<close>',
    re.S,
)
REFERENCE = re.compile(r'Proof_Context\.get_thms @\{context\} "(?P<ref>[^"]+)"')
# Where a statement ends: the first proof command (src/Pure/Pure.thy keywords of kind prf_*, qed*, diag)
PROOF_START = re.compile(
    r"\b(proof|by|apply|using|unfolding|supply|including|sorry|oops|txt|text|value|have|show|note|fix|assume)\b"
    r"|\\<proof>|\\<comment>|\(\*"
)
LIBRARY = {"TrueI": '"True"', "refl": '"?t = ?t"'}  # src/HOL/HOL.thy
SYNTAX = re.compile(r"^\s*(no_notation|notation|abbreviation|translations|syntax|no_syntax|hide_const|hide_type|consts|"
                    r"definition|type_synonym)\b", re.M)


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


def _blank_strings(text):
    """`text` with double-quoted strings blanked, so that words inside terms are not commands."""
    return re.sub(r'"(?:\\.|[^"\\])*"', lambda m: " " * len(m.group(0)), text)


def items(text):
    """Theory-level declarations in order: (kind, position, data)."""
    found = []
    for m in THEOREM.finditer(text):
        found.append(("theorem", m.start(), m))
    for m in LEMMAS.finditer(text):
        found.append(("lemmas", m.start(), m))
    for m in AXIOMATIZATION.finditer(_blank_strings(text)):
        found.append(("axiom", m.start(), m))
    for m in SYNTAX.finditer(_blank_strings(text)):
        found.append(("syntax", m.start(), m))
    for m in BASELINE.finditer(text):
        found.append(("baseline", m.start(), m))
    for m in QUERY.finditer(text):
        found.append(("query", m.start(), m))
    found.sort(key=lambda item: item[1])
    return found


def check_theory(text, plan):
    """(errors, writeln messages) Isabelle would report for `text` under the script `plan`."""
    errors = [msg for fragment, msg in plan.get("errors", {}).items() if fragment in text]
    stored = {}  # name -> (statement, oracles)
    axioms = 0
    epoch = 0  # how many commands that change what text means came so far
    baselines = {}
    messages = [msg for fragment, msg in plan.get("prints", {}).items() if fragment in text]
    decls = items(text)
    for i, (kind, pos, m) in enumerate(decls):
        end = decls[i + 1][1] if i + 1 < len(decls) else len(text)
        if kind == "axiom":
            axioms += 1
        elif kind == "syntax":
            epoch += 1
        elif kind == "baseline":
            baselines[m.group("nonce")] = axioms
        elif kind in ("theorem", "lemmas"):
            name = m.group(2) if kind == "theorem" else m.group(1)
            if kind == "theorem":
                body = text[m.end():end]
                blanked = _blank_strings(body)
                opener = PROOF_START.search(blanked)
                cut = opener.start() if opener else len(body)
                statement, proof = (epoch, " ".join(body[:cut].split())), body[cut:]
                words = re.findall(r"[A-Za-z_][A-Za-z0-9_']*", re.sub(r"\(\*.*?\*\)", " ", proof, flags=re.S))
                if "oops" in words:
                    continue  # abandoned: no theorem is stored under this name
                oracles = []
                if "sorry" in words or "\\<proof>" in proof:
                    oracles.append("Pure.skip_proof")
                for fragment, names in plan.get("oracles", {}).items():
                    if fragment in proof:
                        oracles.extend(names)
                for other, (_, inherited) in stored.items():
                    if other in words:
                        oracles.extend(inherited)
            else:
                fact = m.group(2)
                if fact in stored:
                    statement, oracles = stored[fact]
                elif fact in LIBRARY:
                    statement, oracles = (-1, LIBRARY[fact]), []
                else:
                    errors.append(f'Undefined fact: "{fact}"')
                    continue
            if name in stored:
                errors.append(f'Duplicate fact declaration "Draft.{name}" vs. "Draft.{name}"')
                continue
            stored[name] = (statement, sorted(set(oracles)))
        elif kind == "query":
            name = m.group("name")
            if name not in stored:
                errors.append(f'Undefined fact: "{name}"')
                continue
            if m.group("nonce") not in baselines:
                errors.append(f"Value or constructor (llemma_prove_axioms_{m.group('nonce')}) has not been declared")
                continue
            ref = REFERENCE.search(m.group("statement"))
            if ref is None:
                compared = "unchecked"
            elif ref.group("ref") not in stored:
                errors.append(f'Undefined fact: "{ref.group("ref")}"')
                continue
            else:
                compared = "same" if stored[ref.group("ref")][0] == stored[name][0] else "different"
            new_axioms = axioms - baselines[m.group("nonce")]
            oracles = stored[name][1]
            listing = "oracles:" + "".join(f"\n  \u25aa {o}" for o in oracles)
            messages.append(f"{m.group('prefix')}{compared} new axioms: {new_axioms} oracles: {len(oracles)} {listing}")
    for fragment, (old, new) in plan.get("rewrites", {}).items():
        if fragment in text:
            messages = [msg.replace(old, new) for msg in messages]
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
