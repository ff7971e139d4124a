"""Whole-theory check through the official Isabelle server (`isabelle server`, `isabelle-client`).

PISA runs with quick_and_dirty and checks step by step; the Isabelle server checks a complete
theory file the way `isabelle build` would. A found proof is rendered to a `.thy` file and handed
to `use_theories`; any error message, or a theory that did not finish, rejects it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ...errors import ProverError, ProverUnavailable
from ...processes import ChildProcess, ProcessSpec
from ...types import Verdict, Verification
from .options import IsabelleOptions

log = logging.getLogger(__name__)


def _import_client() -> Any:
    try:
        import isabelle_client  # optional dependency, only needed for this check
    except ImportError:
        raise ProverUnavailable(
            "the final Isabelle check needs the isabelle-client package: pip install 'llemma-prove[isabelle]'"
        ) from None
    return isabelle_client


def _kind(response: Any) -> str:
    kind = getattr(response, "response_type", "")
    return getattr(kind, "value", str(kind))


def _body(response: Any) -> Any:
    return getattr(response, "response_body", None)


def theory_errors(body: Any) -> list[str]:
    """Error messages in a `use_theories` FINISHED body (top-level errors and per-node messages)."""
    errors: list[str] = []
    if not isinstance(body, dict):
        return [f"unexpected use_theories reply: {str(body)[:200]}"]
    for err in body.get("errors", []) or []:
        errors.append(err.get("message", str(err)) if isinstance(err, dict) else str(err))
    for node in body.get("nodes", []) or []:
        for msg in node.get("messages", []) or []:
            if msg.get("kind") == "error":
                errors.append(msg.get("message", ""))
        status = node.get("status", {}) or {}
        if status and (status.get("failed") or not status.get("ok", True)):
            if not errors:
                errors.append(f"theory {node.get('theory_name', '?')} failed")
    return errors


class IsabelleServerChecker:
    """One `isabelle server` child and one logic session, started on first use."""

    def __init__(self, options: IsabelleOptions) -> None:
        self.options = options
        self.child: ChildProcess | None = None
        self.client: Any = None
        self.session_id: str | None = None
        self._lock = asyncio.Lock()

    def _argv(self) -> list[str]:
        exe = self.options.isabelle_executable
        if exe is None:
            raise ProverUnavailable("ISABELLE_HOME is not set; the final Isabelle check needs it")
        return [str(exe), "server", "-n", f"llemma-prove-{os.getpid()}-{uuid.uuid4().hex[:8]}"]

    async def start(self) -> None:
        module = _import_client()
        spec = ProcessSpec(argv=self._argv(), stderr_to_stdout=True, extra_env=dict(self.options.extra_env))
        self.child = ChildProcess(spec)
        try:
            await self.child.start()
        except FileNotFoundError as exc:
            self.child = None
            raise ProverUnavailable(f"cannot run {spec.argv[0]}: {exc.strerror}") from None
        assert self.child.proc is not None and self.child.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.child.proc.stdout.readline(), 120.0)
        except asyncio.TimeoutError:
            await self.close()
            raise ProverError("isabelle server printed no address within 120 s") from None
        text = line.decode("utf-8", "replace").strip()
        try:
            self.client = module.get_isabelle_client(text)
        except ValueError:
            await self.close()
            raise ProverError(f"unexpected first line from isabelle server: {text[:200]!r}") from None
        args: dict[str, Any] = {"session": self.options.official_session, "options": [], "dirs": [], "verbose": False}
        if self.options.afp_thys is not None:
            args["dirs"] = [str(self.options.afp_thys)]
        responses = await asyncio.wait_for(
            self.client.execute_command(f"session_start {json.dumps(args)}"), self.options.official_timeout_s
        )
        final = responses[-1] if responses else None
        body = _body(final)
        if final is None or _kind(final) != "FINISHED" or not isinstance(body, dict) or "session_id" not in body:
            await self.close()
            raise ProverError(f"isabelle server could not start session {self.options.official_session}: {str(body)[:300]}")
        self.session_id = body["session_id"]

    async def check(self, theory_name: str, text: str) -> Verification:
        """Check one complete theory; ACCEPTED only if Isabelle reports it finished without errors."""
        async with self._lock:
            if self.session_id is None:
                await self.start()
            start = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="llemma-isabelle-") as tmp:
                (Path(tmp) / f"{theory_name}.thy").write_text(text)
                args = {"session_id": self.session_id, "theories": [theory_name], "master_dir": tmp}
                try:
                    responses = await asyncio.wait_for(
                        self.client.execute_command(f"use_theories {json.dumps(args)}"),
                        self.options.official_timeout_s,
                    )
                except asyncio.TimeoutError:
                    return Verification(Verdict.UNCHECKED, "Isabelle server check timed out", text, time.monotonic() - start)
                except (OSError, ValueError) as exc:
                    return Verification(Verdict.UNCHECKED, f"Isabelle server failed: {exc}", text, time.monotonic() - start)
                purge = {"session_id": self.session_id, "theories": [theory_name], "master_dir": tmp, "all": True}
                try:
                    await asyncio.wait_for(self.client.execute_command(f"purge_theories {json.dumps(purge)}", asynchronous=False), 30.0)
                except (asyncio.TimeoutError, OSError, ValueError):
                    log.debug("purge_theories failed; continuing")
            elapsed = time.monotonic() - start
            final = responses[-1] if responses else None
            if final is None or _kind(final) != "FINISHED":
                return Verification(Verdict.UNCHECKED, f"Isabelle server: {str(_body(final))[:300]}", text, elapsed)
            body = _body(final)
            errors = theory_errors(body)
            if errors or not (isinstance(body, dict) and body.get("ok", False)):
                reason = errors[0] if errors else "theory not ok"
                return Verification(Verdict.REJECTED, f"Isabelle server: {reason[:500]}", text, elapsed)
            return Verification(Verdict.ACCEPTED, "", text, elapsed, {"isabelle_server": "ok"})

    async def close(self) -> None:
        if self.client is not None and self.session_id is not None:
            try:
                await asyncio.wait_for(
                    self.client.execute_command(f"session_stop {json.dumps({'session_id': self.session_id})}"), 30.0
                )
            except (asyncio.TimeoutError, OSError, ValueError):
                pass
        self.session_id = None
        self.client = None
        child, self.child = self.child, None
        if child is not None:
            await child.stop()
