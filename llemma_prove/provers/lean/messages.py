"""Typed requests and responses of the Lean REPL (leanprover-community/repl) wire protocol.

Every shape in DESIGN section 3 has a small class with `from_json` / `to_json`. Parsing is lossless:
keys this module does not know are kept in `extra` and written back, and an explicit `null` stays a
`null`, so `parse(x).to_json() == x` for every recorded response (the contract suite checks that).
The driver, the sessions and the final check only ever look at these typed values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Union

from ...errors import ProverError

JSON = dict[str, Any]


class ReplProtocolError(ProverError):
    """The REPL printed something that is not a response of its protocol."""


# --------------------------------------------------------------------------------------- helpers


def _take(data: Mapping[str, Any], known: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a JSON object into known keys (explicit nulls kept aside as extra) and the rest."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key in known and value is not None:
            fields[key] = value
        else:
            extra[key] = value
    return fields, extra


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReplProtocolError(f"{what} must be an integer, got {value!r}")
    return value


# --------------------------------------------------------------------------------------- pieces


@dataclass(frozen=True)
class Pos:
    line: int
    column: int

    @classmethod
    def from_json(cls, data: Any) -> "Pos":
        if not isinstance(data, dict):
            raise ReplProtocolError(f"position must be an object, got {data!r}")
        return cls(_int(data.get("line"), "pos.line"), _int(data.get("column"), "pos.column"))

    def to_json(self) -> JSON:
        return {"line": self.line, "column": self.column}


class Severity:
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Message:
    """A Lean message: `{"severity", "pos", "endPos", "data"}`."""

    severity: str
    data: str
    pos: Pos | None = None
    end_pos: Pos | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity == Severity.ERROR

    @classmethod
    def from_json(cls, data: Any) -> "Message":
        if not isinstance(data, dict):
            raise ReplProtocolError(f"message must be an object, got {data!r}")
        f, extra = _take(data, ("severity", "data", "pos", "endPos"))
        return cls(
            severity=str(f.get("severity", "")),
            data=str(f.get("data", "")),
            pos=Pos.from_json(f["pos"]) if "pos" in f else None,
            end_pos=Pos.from_json(f["endPos"]) if "endPos" in f else None,
            extra=extra,
        )

    def to_json(self) -> JSON:
        out: JSON = {"severity": self.severity}
        _put(out, "pos", self.pos.to_json() if self.pos else None)
        _put(out, "endPos", self.end_pos.to_json() if self.end_pos else None)
        out["data"] = self.data
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Sorry:
    """A `sorry` in a command (or one a tactic introduced): its goal and the proof state at it."""

    goal: str
    proof_state: int | None = None
    pos: Pos | None = None
    end_pos: Pos | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> "Sorry":
        if not isinstance(data, dict):
            raise ReplProtocolError(f"sorry must be an object, got {data!r}")
        f, extra = _take(data, ("goal", "proofState", "pos", "endPos"))
        return cls(
            goal=str(f.get("goal", "")),
            proof_state=_int(f["proofState"], "sorry.proofState") if "proofState" in f else None,
            pos=Pos.from_json(f["pos"]) if "pos" in f else None,
            end_pos=Pos.from_json(f["endPos"]) if "endPos" in f else None,
            extra=extra,
        )

    def to_json(self) -> JSON:
        out: JSON = {}
        _put(out, "proofState", self.proof_state)
        _put(out, "pos", self.pos.to_json() if self.pos else None)
        out["goal"] = self.goal
        _put(out, "endPos", self.end_pos.to_json() if self.end_pos else None)
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class TacticInfo:
    """One entry of `tactics` (commands with `allTactics`)."""

    tactic: str
    goals: str
    proof_state: int | None = None
    pos: Pos | None = None
    end_pos: Pos | None = None
    used_constants: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> "TacticInfo":
        if not isinstance(data, dict):
            raise ReplProtocolError(f"tactic info must be an object, got {data!r}")
        f, extra = _take(data, ("tactic", "goals", "proofState", "pos", "endPos", "usedConstants"))
        used = f.get("usedConstants")
        return cls(
            tactic=str(f.get("tactic", "")),
            goals=str(f.get("goals", "")),
            proof_state=_int(f["proofState"], "tactics.proofState") if "proofState" in f else None,
            pos=Pos.from_json(f["pos"]) if "pos" in f else None,
            end_pos=Pos.from_json(f["endPos"]) if "endPos" in f else None,
            used_constants=tuple(str(c) for c in used) if used is not None else None,
            extra=extra,
        )

    def to_json(self) -> JSON:
        out: JSON = {}
        _put(out, "usedConstants", list(self.used_constants) if self.used_constants is not None else None)
        out["tactic"] = self.tactic
        _put(out, "proofState", self.proof_state)
        _put(out, "pos", self.pos.to_json() if self.pos else None)
        out["goals"] = self.goals
        _put(out, "endPos", self.end_pos.to_json() if self.end_pos else None)
        out.update(self.extra)
        return out


def _list(data: Mapping[str, Any], key: str) -> list[Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ReplProtocolError(f"{key} must be a list, got {value!r}")
    return value


# --------------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class CommandResponse:
    """Answer to a command, a file, or an environment (un)pickle: a new `env` and what came with it."""

    env: int
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    tactics: tuple[TacticInfo, ...] | None = None
    infotree: Any = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    # whether `messages` / `sorries` were present (the REPL omits empty lists; keep the difference)
    has_messages: bool = field(default=False, compare=False)
    has_sorries: bool = field(default=False, compare=False)

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.is_error]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CommandResponse":
        f, extra = _take(data, ("env", "messages", "sorries", "tactics", "infotree"))
        messages = _list(f, "messages")
        sorries = _list(f, "sorries")
        tactics = _list(f, "tactics")
        return cls(
            env=_int(f.get("env"), "env"),
            messages=tuple(Message.from_json(m) for m in messages or ()),
            sorries=tuple(Sorry.from_json(s) for s in sorries or ()),
            tactics=tuple(TacticInfo.from_json(t) for t in tactics) if tactics is not None else None,
            infotree=f.get("infotree"),
            extra=extra,
            has_messages=messages is not None,
            has_sorries=sorries is not None,
        )

    def to_json(self) -> JSON:
        out: JSON = {}
        if self.tactics is not None:
            out["tactics"] = [t.to_json() for t in self.tactics]
        if self.sorries or self.has_sorries:
            out["sorries"] = [s.to_json() for s in self.sorries]
        if self.messages or self.has_messages:
            out["messages"] = [m.to_json() for m in self.messages]
        _put(out, "infotree", self.infotree)
        out["env"] = self.env
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class TacticResponse:
    """Answer to a tactic or a proof-state (un)pickle: the new `proofState` and its goals."""

    proof_state: int
    goals: tuple[str, ...] = ()
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    proof_status: str | None = None
    traces: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    has_goals: bool = field(default=True, compare=False)
    has_messages: bool = field(default=False, compare=False)
    has_sorries: bool = field(default=False, compare=False)

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.is_error]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TacticResponse":
        f, extra = _take(data, ("proofState", "goals", "messages", "sorries", "proofStatus", "traces"))
        goals = _list(f, "goals")
        messages = _list(f, "messages")
        sorries = _list(f, "sorries")
        traces = _list(f, "traces")
        return cls(
            proof_state=_int(f.get("proofState"), "proofState"),
            goals=tuple(str(g) for g in goals or ()),
            messages=tuple(Message.from_json(m) for m in messages or ()),
            sorries=tuple(Sorry.from_json(s) for s in sorries or ()),
            proof_status=str(f["proofStatus"]) if "proofStatus" in f else None,
            traces=tuple(str(t) for t in traces) if traces is not None else None,
            extra=extra,
            has_goals=goals is not None,
            has_messages=messages is not None,
            has_sorries=sorries is not None,
        )

    def to_json(self) -> JSON:
        out: JSON = {}
        if self.traces is not None:
            out["traces"] = list(self.traces)
        if self.sorries or self.has_sorries:
            out["sorries"] = [s.to_json() for s in self.sorries]
        _put(out, "proofStatus", self.proof_status)
        out["proofState"] = self.proof_state
        if self.messages or self.has_messages:
            out["messages"] = [m.to_json() for m in self.messages]
        if self.goals or self.has_goals:
            out["goals"] = list(self.goals)
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class ReplFailure:
    """The request itself failed: `{"message": "Unknown environment."}`, `"Lean error:\\n..."`, ..."""

    message: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def unknown_id(self) -> bool:
        return self.message.startswith(("Unknown environment", "Unknown proof state"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ReplFailure":
        f, extra = _take(data, ("message",))
        return cls(message=str(f.get("message", "")), extra=extra)

    def to_json(self) -> JSON:
        out: JSON = {"message": self.message}
        out.update(self.extra)
        return out


Response = Union[CommandResponse, TacticResponse, ReplFailure]


def parse_response(data: Any) -> Response:
    """Type one decoded response object; anything else is a protocol error."""
    if not isinstance(data, dict):
        raise ReplProtocolError(f"a response must be a JSON object, got {type(data).__name__}")
    if "env" in data and data["env"] is not None:
        return CommandResponse.from_json(data)
    if "proofState" in data and data["proofState"] is not None:
        return TacticResponse.from_json(data)
    if isinstance(data.get("message"), str):
        return ReplFailure.from_json(data)
    raise ReplProtocolError(f"unrecognised response keys {sorted(data)}")


def decode_response(text: str) -> Response:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        snippet = text[:200].replace("\n", "\\n")
        raise ReplProtocolError(f"REPL output is not JSON ({exc.msg}): {snippet!r}") from None
    return parse_response(data)


# --------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class CommandRequest:
    """`{"cmd": TEXT, "env": N?}`; without `env` a fresh environment (the only place for `import`)."""

    cmd: str
    env: int | None = None
    all_tactics: bool | None = None
    root_goals: bool | None = None
    infotree: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        out: JSON = {"cmd": self.cmd}
        _put(out, "env", self.env)
        _put(out, "allTactics", self.all_tactics)
        _put(out, "rootGoals", self.root_goals)
        _put(out, "infotree", self.infotree)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CommandRequest":
        f, extra = _take(data, ("cmd", "env", "allTactics", "rootGoals", "infotree"))
        return cls(
            cmd=str(f["cmd"]),
            env=_int(f["env"], "env") if "env" in f else None,
            all_tactics=f.get("allTactics"),
            root_goals=f.get("rootGoals"),
            infotree=f.get("infotree"),
            extra=extra,
        )


@dataclass(frozen=True)
class TacticRequest:
    """`{"tactic": TEXT, "proofState": N}`: run one tactic on a proof state (any state, any number of times)."""

    tactic: str
    proof_state: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        out: JSON = {"tactic": self.tactic, "proofState": self.proof_state}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TacticRequest":
        f, extra = _take(data, ("tactic", "proofState"))
        return cls(tactic=str(f["tactic"]), proof_state=_int(f.get("proofState"), "proofState"), extra=extra)


@dataclass(frozen=True)
class FileRequest:
    """`{"path": FILE, "env": N?}`: run a whole file as one command."""

    path: str
    env: int | None = None
    all_tactics: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        out: JSON = {"path": self.path}
        _put(out, "env", self.env)
        _put(out, "allTactics", self.all_tactics)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FileRequest":
        f, extra = _take(data, ("path", "env", "allTactics"))
        return cls(
            path=str(f["path"]),
            env=_int(f["env"], "env") if "env" in f else None,
            all_tactics=f.get("allTactics"),
            extra=extra,
        )


@dataclass(frozen=True)
class PickleEnvRequest:
    """`{"pickleTo": F, "env": N}`: write an environment to an .olean file."""

    pickle_to: str
    env: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        out: JSON = {"pickleTo": self.pickle_to, "env": self.env}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PickleEnvRequest":
        f, extra = _take(data, ("pickleTo", "env"))
        return cls(pickle_to=str(f["pickleTo"]), env=_int(f.get("env"), "env"), extra=extra)


@dataclass(frozen=True)
class PickleProofStateRequest:
    """`{"pickleTo": F, "proofState": N}`."""

    pickle_to: str
    proof_state: int
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        out: JSON = {"pickleTo": self.pickle_to, "proofState": self.proof_state}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "PickleProofStateRequest":
        f, extra = _take(data, ("pickleTo", "proofState"))
        return cls(pickle_to=str(f["pickleTo"]), proof_state=_int(f.get("proofState"), "proofState"), extra=extra)


@dataclass(frozen=True)
class UnpickleEnvRequest:
    """`{"unpickleEnvFrom": F}`: load a pickled environment (a new process skips the import)."""

    unpickle_env_from: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        out: JSON = {"unpickleEnvFrom": self.unpickle_env_from}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "UnpickleEnvRequest":
        f, extra = _take(data, ("unpickleEnvFrom",))
        return cls(unpickle_env_from=str(f["unpickleEnvFrom"]), extra=extra)


@dataclass(frozen=True)
class UnpickleProofStateRequest:
    """`{"unpickleProofStateFrom": F, "env": N?}`."""

    unpickle_proof_state_from: str
    env: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> JSON:
        out: JSON = {"unpickleProofStateFrom": self.unpickle_proof_state_from}
        _put(out, "env", self.env)
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "UnpickleProofStateRequest":
        f, extra = _take(data, ("unpickleProofStateFrom", "env"))
        return cls(
            unpickle_proof_state_from=str(f["unpickleProofStateFrom"]),
            env=_int(f["env"], "env") if "env" in f else None,
            extra=extra,
        )


Request = Union[
    CommandRequest,
    TacticRequest,
    FileRequest,
    PickleEnvRequest,
    PickleProofStateRequest,
    UnpickleEnvRequest,
    UnpickleProofStateRequest,
]


def parse_request(data: Any) -> Request:
    """Type one request object (used for recorded inputs and by tests)."""
    if not isinstance(data, dict):
        raise ReplProtocolError(f"a request must be a JSON object, got {type(data).__name__}")
    if "cmd" in data:
        return CommandRequest.from_json(data)
    if "tactic" in data:
        return TacticRequest.from_json(data)
    if "path" in data:
        return FileRequest.from_json(data)
    if "pickleTo" in data:
        if "proofState" in data:
            return PickleProofStateRequest.from_json(data)
        return PickleEnvRequest.from_json(data)
    if "unpickleEnvFrom" in data:
        return UnpickleEnvRequest.from_json(data)
    if "unpickleProofStateFrom" in data:
        return UnpickleProofStateRequest.from_json(data)
    raise ReplProtocolError(f"unrecognised request keys {sorted(data)}")


def encode_request(request: Request) -> bytes:
    """One request on the wire: compact JSON (no raw newline can occur), then a blank line."""
    return (json.dumps(request.to_json(), ensure_ascii=False) + "\n\n").encode("utf-8")


# --------------------------------------------------------------------------------------- framing


def split_blocks(text: str) -> Iterator[list[str]]:
    """The blank-line separated blocks of a REPL stream, as lists of lines."""
    block: list[str] = []
    for line in text.splitlines():
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def parse_input_block(lines: list[str]) -> Any:
    """A recorded request block as the REPL reads it: its lines joined without newlines, then JSON.

    (That is why a raw newline inside a JSON string silently disappears: `invalid_line_break`.)
    """
    return json.loads("".join(lines), strict=False)


def parse_output_block(lines: list[str]) -> Any:
    return json.loads("\n".join(lines))
