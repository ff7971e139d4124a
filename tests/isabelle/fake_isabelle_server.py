"""Test double: a stand-in `isabelle` executable whose `server` command speaks the Isabelle server's
line protocol (password, `session_start`, `use_theories`, `purge_theories`, `session_stop`).

It does not check anything: a theory "fails" when its text contains the string in the environment
variable FAKE_ISABELLE_REJECT, so a test can make the official check disagree with PISA.
Installed by copying it to `<fake ISABELLE_HOME>/bin/isabelle` (stdlib only).
"""

import json
import os
import socketserver
import sys
import uuid

PASSWORD = "fake-password"


def reply(kind: str, body: object) -> bytes:
    return f"{kind} {json.dumps(body)}\n".encode()


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        if self.rfile.readline().decode().strip() != PASSWORD:
            self.wfile.write(reply("ERROR", "bad password"))
            return
        self.wfile.write(reply("OK", {"isabelle_id": "fake", "isabelle_name": "Isabelle2022"}))
        for raw in self.rfile:
            command, _, arg = raw.decode().strip().partition(" ")
            args = json.loads(arg) if arg else {}
            task = uuid.uuid4().hex
            if command == "session_start":
                self.wfile.write(reply("OK", {"task": task}))
                self.wfile.write(reply("FINISHED", {"task": task, "session_id": uuid.uuid4().hex, "tmp_dir": "/tmp"}))
            elif command == "use_theories":
                self.wfile.write(reply("OK", {"task": task}))
                nodes = []
                for name in args["theories"]:
                    path = os.path.join(args["master_dir"], f"{name}.thy")
                    text = open(path, encoding="utf-8").read()
                    reject = os.environ.get("FAKE_ISABELLE_REJECT")
                    failed = bool(reject) and reject in text
                    messages = [{"kind": "error", "message": "Failed to finish proof (fake Isabelle)"}] if failed else []
                    nodes.append(
                        {
                            "node_name": path,
                            "theory_name": f"Draft.{name}",
                            "status": {"ok": not failed, "failed": int(failed), "finished": 1},
                            "messages": messages,
                        }
                    )
                ok = all(n["status"]["ok"] for n in nodes)
                self.wfile.write(reply("FINISHED", {"task": task, "ok": ok, "errors": [], "nodes": nodes}))
            elif command == "purge_theories":
                self.wfile.write(reply("OK", {"purged": [], "retained": []}))
            elif command == "session_stop":
                self.wfile.write(reply("OK", {"task": task}))
                self.wfile.write(reply("FINISHED", {"task": task, "ok": True, "return_code": 0}))
            else:
                self.wfile.write(reply("ERROR", f"Bad command {command!r}"))
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
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
