"""Async gRPC client for one PISA server, and the mapping of its replies to step outcomes.

PISA answers almost everything through `IsabelleCommand` with a plain string; failures are
ordinary replies (`Step error: ...`, `Unknown error: ...`, `Didn't find top level state of given
name: X`, `Unrecognised operation.`), some surface as gRPC errors instead, and its own timeouts are
unreliable. So every call carries a client-side deadline, and the classification of replies lives
here, in one place, as plain values.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from dataclasses import dataclass

import grpc
import grpc.aio

from ...errors import ProverError
from ...types import StepOutcome
from . import pisa_pb2, pisa_pb2_grpc

log = logging.getLogger(__name__)

APPLY = "<apply to top level state>"
MORE_TIME = "<allow more time>"
HAMMER_SEP = "<hammer>"
DEFAULT_STATE = "default"


class ReplyKind(str, enum.Enum):
    STATE = "state"  # a proof-state text (possibly empty at theory level)
    STEP_ERROR = "step_error"  # `Step error: ...`: Isabelle rejected the step
    UNKNOWN_ERROR = "unknown_error"  # `Unknown error: ...`: any other exception in the server
    TIMEOUT = "timeout"  # PISA's own limit fired (`Step error: Timeout after 10.003s`)
    NO_SUCH_STATE = "no_such_state"  # `Didn't find top level state of given name: X`
    UNRECOGNISED = "unrecognised"  # `Unrecognised operation.`


@dataclass(frozen=True)
class PisaReply:
    kind: ReplyKind
    text: str

    @property
    def ok(self) -> bool:
        return self.kind is ReplyKind.STATE


_TIMEOUT_RE = re.compile(r"timed out after|TimeoutException|Timeout", re.I)
# PISA runs every command of a step under `Timeout.apply (Time.fromSeconds 10|30)` (PisaOS.scala,
# `command_exception_with_10s_timeout`); `Timeout.TIMEOUT` prints as "Timeout after <secs>s"
# (Isabelle2022 src/Pure/Concurrent/timeout.ML, `print`), and PISA's handler for Isabelle
# exceptions prefixes "Step error: " (PisaOneStage.scala, `IsabelleMLException`).
_STEP_TIMEOUT_RE = re.compile(r"^Step error:\s*Timeout after \d+(\.\d+)?s\b")


def classify_reply(text: str) -> PisaReply:
    """Name the kind of a PISA `IsabelleCommand` reply (documented failure strings, else a state)."""
    stripped = text.strip()
    if _STEP_TIMEOUT_RE.match(stripped):
        return PisaReply(ReplyKind.TIMEOUT, stripped)
    if stripped.startswith("Step error"):
        return PisaReply(ReplyKind.STEP_ERROR, stripped)
    if stripped.startswith("Unknown error") or stripped.startswith("error:"):
        kind = ReplyKind.TIMEOUT if _TIMEOUT_RE.search(stripped) else ReplyKind.UNKNOWN_ERROR
        return PisaReply(kind, stripped)
    if stripped.startswith("Didn't find top level state of given name"):
        return PisaReply(ReplyKind.NO_SUCH_STATE, stripped)
    if stripped == "Unrecognised operation.":
        return PisaReply(ReplyKind.UNRECOGNISED, stripped)
    return PisaReply(ReplyKind.STATE, text)


class PisaRpcError(ProverError):
    """A gRPC-level failure talking to PISA (server gone, deadline passed, protocol error)."""

    def __init__(self, code: grpc.StatusCode, details: str, command: str = "") -> None:
        self.code = code
        self.details = details
        self.command = command
        super().__init__(f"PISA gRPC {code.name}: {details}" + (f" (command: {command[:120]!r})" if command else ""))

    @property
    def deadline(self) -> bool:
        return self.code is grpc.StatusCode.DEADLINE_EXCEEDED

    @property
    def server_gone(self) -> bool:
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


def outcome_for_reply(reply: PisaReply, elapsed_s: float) -> StepOutcome | None:
    """The outcome of a failed reply; None for a state (the caller then asks `<is finished>`)."""
    if reply.kind is ReplyKind.STATE:
        return None
    if reply.kind is ReplyKind.TIMEOUT:
        return StepOutcome.timeout(reply.text, elapsed_s)
    if reply.kind is ReplyKind.UNRECOGNISED:
        return StepOutcome.error("PISA did not recognise the command (server version mismatch?)", elapsed_s)
    return StepOutcome.error(reply.text, elapsed_s)


def outcome_for_rpc_error(error: PisaRpcError, elapsed_s: float) -> StepOutcome:
    """A gRPC error as an outcome: a passed deadline is a timeout, anything else an error."""
    if error.deadline:
        return StepOutcome.timeout(f"no reply from PISA within the deadline ({elapsed_s:.1f} s)", elapsed_s)
    return StepOutcome.error(f"PISA gRPC error {error.code.name}: {error.details}", elapsed_s)


def apply_command(old: str, step: str, new: str, more_time: bool = False) -> str:
    """The `<apply to top level state>` command text for running `step` on `old`, storing `new`."""
    body = f"{MORE_TIME} {step}" if more_time else step
    return f"{APPLY} {old} {APPLY} {body} {APPLY} {new}"


def split_hammer_reply(text: str) -> tuple[str, str] | None:
    """`TACTIC <hammer> STATE` (PISA's answer to a hammer step) as (tactic, state); else None."""
    if HAMMER_SEP not in text:
        return None
    tactic, _, state = text.partition(HAMMER_SEP)
    return tactic.strip(), state.strip()


class PisaClient:
    """One gRPC channel to one PISA server. Not safe for concurrent commands: callers serialise."""

    def __init__(self, host: str, port: int, max_message_bytes: int = 100 * 1024 * 1024) -> None:
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self._channel: grpc.aio.Channel | None = None
        self._stub: pisa_pb2_grpc.ServerStub | None = None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def _ensure(self) -> pisa_pb2_grpc.ServerStub:
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(
                self.target,
                options=[
                    ("grpc.max_send_message_length", self.max_message_bytes),
                    ("grpc.max_receive_message_length", self.max_message_bytes),
                    ("grpc.enable_retries", 0),
                ],
            )
            self._stub = pisa_pb2_grpc.ServerStub(self._channel)
        return self._stub

    async def close(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close(grace=None)

    async def _call(self, method: str, request: object, timeout_s: float, label: str) -> object:
        stub = self._ensure()
        try:
            return await getattr(stub, method)(request, timeout=timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise PisaRpcError(exc.code(), exc.details() or "", label) from None

    # Handshake -------------------------------------------------------------------------------

    async def handshake(self, isabelle_home: str, working_dir: str, theory_file: str, timeout_s: float) -> list[str]:
        """InitialiseIsabelle, IsabelleWorkingDirectory, IsabelleContext, then `<initialise>`."""
        messages = []
        reply = await self._call("InitialiseIsabelle", pisa_pb2.IsaPath(path=isabelle_home), 30.0, "InitialiseIsabelle")
        messages.append(reply.message)
        reply = await self._call(
            "IsabelleWorkingDirectory", pisa_pb2.IsaPath(path=working_dir), 30.0, "IsabelleWorkingDirectory"
        )
        messages.append(reply.message)
        reply = await self._call("IsabelleContext", pisa_pb2.IsaContext(context=theory_file), timeout_s, "IsabelleContext")
        messages.append(reply.message)
        messages.append(await self.initialise())
        return messages

    async def initialise(self, timeout_s: float = 60.0) -> str:
        text = await self.command("<initialise>", timeout_s)
        if "ready" not in text:
            raise ProverError(f"PISA did not create the default state: {text[:200]!r}")
        return text

    # Commands --------------------------------------------------------------------------------

    async def command(self, text: str, timeout_s: float) -> str:
        """Send one `IsabelleCommand`; the raw reply string."""
        reply = await self._call("IsabelleCommand", pisa_pb2.IsaCommand(command=text), timeout_s, text)
        return reply.state

    async def apply(self, old: str, step: str, new: str, timeout_s: float, more_time: bool = False) -> PisaReply:
        return classify_reply(await self.command(apply_command(old, step, new, more_time), timeout_s))

    async def is_finished(self, name: str, timeout_s: float = 30.0) -> bool:
        text = (await self.command(f"<is finished> {name}", timeout_s)).strip()
        if text not in ("true", "false"):
            raise ProverError(f"unexpected reply to <is finished> {name}: {text[:200]!r}")
        return text == "true"

    async def proof_level(self, name: str, timeout_s: float = 30.0) -> int:
        text = (await self.command(f"<get_proof_level> {name}", timeout_s)).strip()
        if not text.lstrip("-").isdigit():
            raise ProverError(f"unexpected reply to <get_proof_level> {name}: {text[:200]!r}")
        return int(text)

    async def get_state(self, name: str, timeout_s: float = 30.0) -> PisaReply:
        return classify_reply(await self.command(f"<get state> {name}", timeout_s))

    async def clone(self, old: str, new: str, timeout_s: float = 30.0) -> str:
        return await self.command(f"<clone> {old} <clone> {new}", timeout_s)

    async def delete(self, name: str, timeout_s: float = 30.0) -> bool:
        text = await self.command(f"<delete> {name}", timeout_s)
        return text.startswith("Successfully deleted")

    async def list_states(self, timeout_s: float = 30.0) -> list[str]:
        text = await self.command("<list states>", timeout_s)
        return [s.strip() for s in text.split("|") if s.strip()]

    async def parse_text(self, text: str, timeout_s: float = 30.0) -> list[str]:
        """Isabelle's own split of `text` into commands (`<parse text>`, joined by `<SEP>`).

        PISA has no exception handler around `<parse text>` (PisaOneStage.scala,
        `deal_with_parse_text`): text Isabelle cannot parse comes back as a gRPC error status
        (a `PisaRpcError` that is not a deadline), or as no reply at all (the deadline).
        """
        reply = await self.command(f"<parse text> {text}", timeout_s)
        checked = classify_reply(reply)
        if not checked.ok:
            raise ProverError(f"PISA could not parse the proof text: {checked.text[:300]}")
        return [part for part in reply.split("<SEP>") if part.strip()]

    async def ping(self, timeout_s: float) -> bool:
        """True when the server answers within `timeout_s` a command that needs Isabelle itself."""
        start = time.monotonic()
        try:
            await self.command(f"<is finished> {DEFAULT_STATE}", timeout_s)
        except PisaRpcError as exc:
            log.info("PISA %s did not answer a ping (%s) after %.1f s", self.target, exc.code.name, time.monotonic() - start)
            return False
        return True

    async def exit(self, timeout_s: float = 10.0) -> None:
        try:
            await self.command("exit", timeout_s)
        except PisaRpcError:
            pass
