"""Test double: a loopback gRPC server that speaks PISA's protocol with scripted Isabelle replies.

It implements the `server.Server` service from `pisa.proto` the way PISA's `OneStageBody` answers
(named top-level states, `<apply to top level state>`, `<clone>`, `<delete>`, `<is finished>`,
`<parse text>`, the documented failure strings), but Isabelle is replaced by a script: for a state
text and a step, what Isabelle "does" (new state text and proof level, `Step error`, a slow or
hanging step, a gRPC error, the process dying, a Sledgehammer find).

Modelled on PISA main (albertqjiang/Portal-to-ISAbelle, src/main/scala/pisa/server/):
- calls are served concurrently, as zio-grpc serves them (`PisaOneStageServers.scala`, `ServerMain`);
  the state map is shared and unsynchronised (`PisaOS.top_level_state_map`);
- a step is cut into commands by Isabelle's parser and each command runs under its own
  `Timeout.apply` of 10 s (30 s after `<allow more time>`) (`PisaOS.step`,
  `command_exception_with_10s_timeout`); past it Isabelle raises `Timeout.TIMEOUT`, printed
  "Timeout after 10.003s" (Isabelle2022 `src/Pure/Concurrent/timeout.ML`), and PISA answers
  `Step error: Timeout after ...` (`PisaOneStage.scala`, handler for `IsabelleMLException`);
- `<parse text>` has no exception handler (`deal_with_parse_text`): text the script marks
  unparsable ends the call with a gRPC error status, or with no reply at all;
- a hammer that finds nothing, or runs out of time, hands its message to `step` as if it were a
  proof step (`hammer_actual_step`): the answer is an outer syntax `Step error`.

Run in-process (`FakePisa(script).start()`) or as a child process, so that a test can kill it:

    python tests/doubles/fake_pisa.py --port 9000 --script script.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")  # see llemma_prove/provers/isabelle/__init__.py

import grpc  # noqa: E402
import grpc.aio  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llemma_prove.provers.isabelle import pisa_pb2, pisa_pb2_grpc  # noqa: E402

APPLY = "<apply to top level state>"
MORE_TIME = "<allow more time>"


def norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Reply:
    """What scripted Isabelle does with one step.

    kind: state | step_error | unknown_error | hang | freeze | grpc_error | die | hammer | unparsable
    - state / hammer: new state `text` at proof `level` (0 = back at theory level); hammer also
      names the `tactic` Sledgehammer found;
    - step_error / unknown_error: the message after the prefix;
    - `delay_s`: Isabelle works this long on the step, spread evenly over its `commands`; a command
      past the server's per-command limit makes PISA answer with its timeout;
    - hang: never answers this call; freeze: blocks the whole server (a stuck JVM; child process
      only); grpc_error: aborts with status `code`; die: the process exits (child process only);
    - `once_marker`: hang/freeze/die only while this file does not exist (it is created first), after
      that behave as `then`.
    """

    kind: str = "state"
    text: str = ""
    level: int = 1
    delay_s: float = 0.0
    code: str = "INTERNAL"
    tactic: str = ""
    commands: int = 1
    once_marker: str = ""
    then: "Reply | None" = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["then"] = self.then.to_json() if self.then else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Reply":
        data = dict(data)
        then = data.pop("then", None)
        return cls(**data, then=cls.from_json(then) if then else None)


def goes_to(text: str, level: int = 1, delay_s: float = 0.0) -> Reply:
    return Reply("state", text, level, delay_s)


def closes(delay_s: float = 0.0) -> Reply:
    """The step ends the proof: PISA is back at theory level (empty state text, level 0)."""
    return Reply("state", "", 0, delay_s)


def step_error(message: str = "Failed to apply initial proof method") -> Reply:
    return Reply("step_error", message)


@dataclass
class FakeScript:
    """State text -> normalised step -> Reply. The `default` state's text is empty."""

    edges: dict[str, dict[str, Reply]] = field(default_factory=dict)
    parse: dict[str, list[str]] = field(default_factory=dict)
    unparsable: dict[str, str] = field(default_factory=dict)  # normalised text -> "error" | "hang"
    step_limit_s: float = 10.0  # PISA's in-server step limit (scaled down in tests)
    more_time_limit_s: float = 30.0  # after `<allow more time>`
    hammer_limit_s: float = 30.0
    require_context_file: bool = True

    def add(self, state: str, step: str, reply: Reply) -> "FakeScript":
        self.edges.setdefault(state, {})[norm(step)] = reply
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "edges": {s: {k: r.to_json() for k, r in steps.items()} for s, steps in self.edges.items()},
            "parse": self.parse,
            "unparsable": self.unparsable,
            "step_limit_s": self.step_limit_s,
            "more_time_limit_s": self.more_time_limit_s,
            "hammer_limit_s": self.hammer_limit_s,
            "require_context_file": self.require_context_file,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FakeScript":
        return cls(
            edges={s: {k: Reply.from_json(r) for k, r in steps.items()} for s, steps in data["edges"].items()},
            parse=data.get("parse", {}),
            unparsable=data.get("unparsable", {}),
            step_limit_s=data.get("step_limit_s", 10.0),
            more_time_limit_s=data.get("more_time_limit_s", 30.0),
            hammer_limit_s=data.get("hammer_limit_s", 30.0),
            require_context_file=data.get("require_context_file", True),
        )

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_json()))
        return path


class FakePisaServicer(pisa_pb2_grpc.ServerServicer):
    def __init__(self, script: FakeScript) -> None:
        self.script = script
        self.states: dict[str, tuple[str, int]] = {}
        self.commands: list[str] = []
        self.handshake: list[tuple[str, str]] = []
        self.context: str | None = None
        self._running: set[asyncio.Future[str]] = set()
        self.in_flight = 0  # commands being worked on now (PISA's map of states is not synchronised)
        self.max_in_flight = 0

    def _finished(self, _work: object) -> None:
        self.in_flight -= 1

    # Handshake -------------------------------------------------------------------------------

    async def InitialiseIsabelle(self, request, context):  # noqa: N802 - gRPC method name
        self.handshake.append(("InitialiseIsabelle", request.path))
        # The handshake answers of OneStageBody (PisaOneStage.scala, main branch).
        return pisa_pb2.IsaMessage(message=f"----------Path to Isabelle source----------\n{request.path}")

    async def IsabelleWorkingDirectory(self, request, context):  # noqa: N802
        self.handshake.append(("IsabelleWorkingDirectory", request.path))
        return pisa_pb2.IsaMessage(message=f"----------Path to Isabelle working directory----------\n{request.path}")

    async def IsabelleContext(self, request, context):  # noqa: N802
        self.handshake.append(("IsabelleContext", request.context))
        if self.script.require_context_file and not Path(request.context).is_file():
            await context.abort(grpc.StatusCode.UNKNOWN, f"java.nio.file.NoSuchFileException: {request.context}")
        self.context = request.context
        self.states = {}
        return pisa_pb2.IsaMessage(message=f"----------Path to Isabelle theory file----------\n{request.context}")

    async def IsabelleSetSearchWidth(self, request, context):  # noqa: N802
        return pisa_pb2.IsaMessage(message="This shouldn't be used here.")

    async def IsabelleSearchIndexCommand(self, request, context):  # noqa: N802
        return pisa_pb2.IsaState(state="This shouldn't be used here.")

    # Commands --------------------------------------------------------------------------------

    async def IsabelleCommand(self, request, context):  # noqa: N802
        command = request.command
        self.commands.append(command)
        # No lock: zio-grpc runs calls concurrently on PISA's one Isabelle process.
        if self.context is None:
            await context.abort(grpc.StatusCode.UNKNOWN, "java.lang.NullPointerException (no IsabelleContext yet)")
        # A client deadline does not stop Isabelle: PISA waits for the step (`Await.result(f_st,
        # Duration.Inf)` in PisaOS.step) and stores the new state even when nobody reads the answer.
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        work = asyncio.ensure_future(self._dispatch(command, context))
        work.add_done_callback(self._finished)
        work.add_done_callback(lambda task: task.cancelled() or task.exception())
        self._running.add(work)
        work.add_done_callback(self._running.discard)
        return pisa_pb2.IsaState(state=await asyncio.shield(work))

    async def _dispatch(self, command: str, context) -> str:
        stripped = command.strip()
        if stripped.startswith("<initialise>"):
            self.states["default"] = ("", 0)
            return "Toplevel state 'default' is ready"
        if stripped.startswith("<list states>"):
            return " | ".join(self.states)
        if stripped.startswith("<get state>"):
            name = stripped[len("<get state>") :].strip()
            return self.states[name][0] if name in self.states else self._missing(name)
        if stripped.startswith("<is finished>"):
            name = stripped.split("<is finished>")[-1].strip()
            if name not in self.states:
                return self._missing(name)
            return "true" if self.states[name][1] == 0 else "false"
        if stripped.startswith("<get_proof_level>"):
            name = stripped[len("<get_proof_level>") :].strip()
            return str(self.states[name][1]) if name in self.states else self._missing(name)
        if stripped.startswith("<clone>"):
            _, old, new = (part.strip() for part in stripped.split("<clone>"))
            if old not in self.states:
                await context.abort(grpc.StatusCode.UNKNOWN, f"java.util.NoSuchElementException: key not found: {old}")
            self.states[new] = self.states[old]
            return f"Successfully copied top level state named: {new}"
        if stripped.startswith("<delete>"):
            name = stripped[len("<delete>") :].strip()
            if name not in self.states:
                return self._missing(name)
            del self.states[name]
            return f"Successfully deleted state named: {name}"
        if stripped.startswith("<parse text>"):
            text = stripped[len("<parse text>") :].strip()
            failure = self.script.unparsable.get(norm(text))
            if failure == "hang":
                await asyncio.sleep(3600)
            if failure is not None:
                # The exception escapes isabelleCommand; zio-grpc ends the call with an error status.
                await context.abort(grpc.StatusCode.UNKNOWN, f"de.unruh.isabelle.control.IsabelleMLException: {failure}")
            parts = self.script.parse.get(norm(text)) or [line for line in text.splitlines() if line.strip()]
            return "<SEP>".join(parts)
        if stripped.startswith(APPLY):
            pieces = command.split(APPLY)
            return await self._apply(pieces[1].strip(), pieces[2].strip(), pieces[3].strip(), context)
        if command == "exit":
            return "Exited"
        return "Unrecognised operation."

    @staticmethod
    def _missing(name: str) -> str:
        return f"Didn't find top level state of given name: {name}"

    async def _apply(self, old: str, action: str, new: str, context) -> str:
        if old not in self.states:
            return self._missing(old)
        limit = self.script.step_limit_s
        if action.startswith(MORE_TIME):
            action = action[len(MORE_TIME) :].strip()
            limit = self.script.more_time_limit_s
        hammer = action == "normalhammer"
        if hammer:
            limit = self.script.hammer_limit_s
        text, _ = self.states[old]
        reply = self.script.edges.get(text, {}).get(norm(action))
        if reply is None:
            if hammer:
                # Sledgehammer found nothing: PISA runs the word "error" as a step (hammer_actual_step).
                return "Step error: Outer syntax error (line 1): command expected, but identifier error (line 1) was found"
            return f"Step error: Failed to apply proof method (fake PISA has no script for {action!r} here)"
        reply = await self._resolve_once(reply, context)
        if reply.delay_s:
            per_command = reply.delay_s / max(1, reply.commands)
            if per_command > limit:
                await asyncio.sleep(limit)
                if hammer:
                    # The ML timeout's message is handed to `step` as if it were Isar text.
                    return "Step error: Outer syntax error (line 1): command expected, but identifier Timeout (line 1) was found"
                return f"Step error: Timeout after {limit + 0.003:.3f}s"
            await asyncio.sleep(reply.delay_s)
        if reply.kind == "step_error":
            return f"Step error: {reply.text}"
        if reply.kind == "unknown_error":
            return f"Unknown error: {reply.text}"
        if reply.kind == "grpc_error":
            await context.abort(getattr(grpc.StatusCode, reply.code), reply.text or "scripted failure")
        self.states[new] = (reply.text, reply.level)
        if hammer or reply.kind == "hammer":
            return f"{reply.tactic} <hammer> {reply.text}"
        return reply.text

    async def _resolve_once(self, reply: Reply, context) -> Reply:
        if reply.kind not in ("hang", "freeze", "die"):
            return reply
        marker = Path(reply.once_marker) if reply.once_marker else None
        if marker is not None and marker.exists():
            assert reply.then is not None, "a once-only reply needs `then`"
            return reply.then
        if marker is not None:
            marker.write_text("done")
        if reply.kind == "die":
            os._exit(17)
        if reply.kind == "freeze":
            time.sleep(3600)  # blocks the event loop: no call is answered any more
        await asyncio.sleep(3600)  # hang: Isabelle never comes back
        raise AssertionError("unreachable")


class FakePisa:
    """An in-process fake PISA server on 127.0.0.1 (port 0: let the OS choose)."""

    def __init__(self, script: FakeScript) -> None:
        self.servicer = FakePisaServicer(script)
        self.server: grpc.aio.Server | None = None
        self.port: int | None = None

    @property
    def commands(self) -> list[str]:
        return self.servicer.commands

    @property
    def max_in_flight(self) -> int:
        return self.servicer.max_in_flight

    @property
    def states(self) -> dict[str, tuple[str, int]]:
        return self.servicer.states

    async def start(self, port: int = 0) -> int:
        self.server = grpc.aio.server()
        pisa_pb2_grpc.add_ServerServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.server.start()
        return self.port

    async def stop(self) -> None:
        for work in list(self.servicer._running):
            work.cancel()
        if self.server is not None:
            await self.server.stop(grace=None)
            self.server = None

    async def __aenter__(self) -> "FakePisa":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _serve(port: int, script: FakeScript) -> None:
    fake = FakePisa(script)
    await fake.start(port)
    print(f"fake PISA listening on {fake.port}", flush=True)
    assert fake.server is not None
    await fake.server.wait_for_termination()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fake PISA server (test double)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--script", type=Path, required=True)
    args = parser.parse_args(argv)
    script = FakeScript.from_json(json.loads(args.script.read_text()))
    asyncio.run(_serve(args.port, script))
    return 0


if __name__ == "__main__":
    sys.exit(main())
