"""Whole-theory check through the official Isabelle server (`isabelle server`, `isabelle-client`).

PISA runs with quick_and_dirty and checks step by step; the Isabelle server checks a complete
theory file through PIDE. PIDE runs commands as interactive, so `sorry` is accepted there without
quick_and_dirty (`Method.cheating ctxt int`: `if int orelse quick_and_dirty`, Isabelle2022
`src/Pure/Isar/method.ML`): an error-free theory proves nothing by itself. So every check appends
an oracle query (`oracles.py`) after the proof, and a proof counts only when the theory has no
error AND Isabelle reports, under this check's fresh nonce, zero oracles for the theorem. A missing
report is a rejection, never "no oracles".

Checks run concurrently on one logic session (ideally the prebuilt context session, see
`isabelle/ROOT`); only the checked theory is purged afterwards, so the libraries every problem
imports stay loaded. Two checks of theories with the same name wait for each other (PIDE knows a
theory by its name).
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
from typing import Any, Mapping, Sequence

from ...errors import ProverError, ProverUnavailable
from ...processes import ChildProcess, ProcessSpec
from ...types import Verdict, Verification
from .options import IsabelleOptions
from .oracles import OracleQueryError, new_nonce, parse_reports, theorem_names as find_theorem_names, with_oracle_queries

log = logging.getLogger(__name__)

# isabelle-client before 1.0 hands back response bodies as raw strings (0.5.x
# `socket_communication.py`: `response_body: str`); 1.x parses them as JSON (`json.loads` in
# `get_response_from_isabelle`). This check reads them as JSON objects.
MIN_CLIENT_VERSION = (1, 0)


def client_version() -> tuple[int, ...] | None:
    """The installed isabelle-client version as numbers, None when it is not installed."""
    from importlib import metadata

    try:
        text = metadata.version("isabelle-client")
    except metadata.PackageNotFoundError:
        return None
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _import_client() -> Any:
    version = client_version()
    if version is not None and version < MIN_CLIENT_VERSION:
        raise ProverUnavailable(
            f"isabelle-client {'.'.join(map(str, version))} is too old (its replies are raw strings); "
            "the final Isabelle check needs isabelle-client>=1.0: pip install -U 'isabelle-client>=1.0'"
        )
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


def node_messages(body: Any, theory_name: str) -> list[str]:
    """Texts of the `writeln` messages of the node of `theory_name` in a `use_theories` body."""
    texts: list[str] = []
    if not isinstance(body, dict):
        return texts
    for node in body.get("nodes", []) or []:
        name = str(node.get("theory_name", ""))
        if name != theory_name and not name.endswith(f".{theory_name}"):
            continue
        for msg in node.get("messages", []) or []:
            if isinstance(msg, dict) and msg.get("kind") == "writeln":
                texts.append(str(msg.get("message", "")))
    return texts


class IsabelleServerChecker:
    """One `isabelle server` child and one logic session, started on first use."""

    def __init__(self, options: IsabelleOptions) -> None:
        self.options = options
        self.child: ChildProcess | None = None
        self.client: Any = None
        self.session_id: str | None = None
        self._lock = asyncio.Lock()  # start and stop
        self._theory_locks: dict[str, asyncio.Lock] = {}

    def _argv(self) -> list[str]:
        exe = self.options.isabelle_executable
        if exe is None:
            raise ProverUnavailable("ISABELLE_HOME is not set; the final Isabelle check needs it")
        return [str(exe), "server", "-n", f"llemma-prove-{os.getpid()}-{uuid.uuid4().hex[:8]}"]

    def session_args(self) -> dict[str, Any]:
        """`session_start` arguments: the logic session, and the folders that define sessions."""
        dirs = [str(d) for d in self.options.session_dirs()]
        return {"session": self.options.resolved_official_session, "options": [], "dirs": dirs, "verbose": False}

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
        args = self.session_args()
        responses = await asyncio.wait_for(
            self.client.execute_command(f"session_start {json.dumps(args)}"), self.options.official_timeout_s
        )
        final = responses[-1] if responses else None
        body = _body(final)
        if final is None or _kind(final) != "FINISHED" or not isinstance(body, dict) or "session_id" not in body:
            await self.close()
            raise ProverError(f"isabelle server could not start session {args['session']}: {str(body)[:300]}")
        self.session_id = body["session_id"]

    async def _ensure_started(self) -> None:
        async with self._lock:
            if self.session_id is None:
                await self.start()

    async def check(
        self,
        theory_name: str,
        text: str,
        theorem_names: Sequence[str] | None = None,
        references: Mapping[str, str] | None = None,
    ) -> Verification:
        """Check one complete theory; ACCEPTED only if it has no error, no queried theorem has an
        oracle, the theory gained no axiom from the first queried theorem on, and every theorem with
        a reference statement states exactly that (as terms, compared by Isabelle).

        `theorem_names`: the theorems whose oracles are queried (default: every named theorem or
        lemma in `text`). `references`: name -> reference statement (`theorem NAME: ...`).
        """
        start = time.monotonic()

        def done(verdict: Verdict, reason: str, **details: object) -> Verification:
            return Verification(verdict, reason, text, time.monotonic() - start, dict(details))

        names = list(theorem_names) if theorem_names is not None else find_theorem_names(text)
        if not names:
            return done(Verdict.UNCHECKED, "Isabelle server: no named theorem to query for oracles")
        nonce = new_nonce()
        try:
            checked = with_oracle_queries(text, names, nonce, references)
        except OracleQueryError as exc:
            return done(Verdict.UNCHECKED, f"Isabelle server: {exc}")
        await self._ensure_started()
        lock = self._theory_locks.setdefault(theory_name, asyncio.Lock())
        async with lock:
            with tempfile.TemporaryDirectory(prefix="llemma-isabelle-") as tmp:
                (Path(tmp) / f"{theory_name}.thy").write_text(checked)
                args = {"session_id": self.session_id, "theories": [theory_name], "master_dir": tmp}
                try:
                    responses = await asyncio.wait_for(
                        self.client.execute_command(f"use_theories {json.dumps(args)}"),
                        self.options.official_timeout_s,
                    )
                except asyncio.TimeoutError:
                    return done(Verdict.UNCHECKED, "Isabelle server check timed out")
                except (OSError, ValueError) as exc:
                    return done(Verdict.UNCHECKED, f"Isabelle server failed: {exc}")
                finally:
                    await self._purge(theory_name, tmp)
        final = responses[-1] if responses else None
        if final is None or _kind(final) != "FINISHED":
            return done(Verdict.UNCHECKED, f"Isabelle server: {str(_body(final))[:300]}")
        body = _body(final)
        errors = theory_errors(body)
        if errors or not (isinstance(body, dict) and body.get("ok", False)):
            reason = errors[0] if errors else "theory not ok"
            return done(Verdict.REJECTED, f"Isabelle server: {reason[:500]}", isabelle_server="rejected")
        reports = parse_reports(node_messages(body, theory_name), nonce)
        for name in names:
            report = reports.get(name)
            if report is None:
                return done(Verdict.REJECTED, f"Isabelle server: no oracle report for {name} (the query did not run)",
                            isabelle_server="no oracle report")
            problem = report.problem(reference_expected=bool(references) and name in references)
            if problem is not None:
                return done(Verdict.REJECTED, f"Isabelle server: {problem}", isabelle_server="oracles",
                            oracles=report.listing, statement=report.statement, new_axioms=report.new_axioms)
        return done(Verdict.ACCEPTED, "", isabelle_server="ok", oracles="none",
                    statement="same" if references else "unchecked", new_axioms=0)

    async def _purge(self, theory_name: str, master_dir: str) -> None:
        """Forget only the checked theory; the imported libraries stay loaded for the next check."""
        purge = {"session_id": self.session_id, "theories": [theory_name], "master_dir": master_dir}
        try:
            await asyncio.wait_for(self.client.execute_command(f"purge_theories {json.dumps(purge)}", asynchronous=False), 30.0)
        except (asyncio.TimeoutError, OSError, ValueError):
            log.debug("purge_theories failed; continuing")

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
