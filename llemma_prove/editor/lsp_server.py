"""`llemma-prove lsp`: a language server (pygls, stdio) that proves the `sorry` under the cursor.

It runs beside the editor's Lean or Isabelle extension and offers one thing: the code action
"Prove with LLEMMA" on a `sorry` (or `oops`) in a `.lean` or `.thy` document. Choosing it runs the
command `llemma.prove`, which
- reports `$/progress` (expansions done out of the budget) on a server-created work-done token;
- stops the search when the client cancels that token (`window/workDoneProgress/cancel`) or the
  request (`$/cancelRequest`);
- on a checked proof, asks the client to apply a versioned `workspace/applyEdit` that replaces the
  `sorry` (moved along if the document changed meanwhile; withheld, with the proof in a message, if
  the declaration changed or the text before it now reads differently to the prover);
- otherwise says why in a `window/showMessage` and an information diagnostic on the `sorry`.

Configuration comes from `initializationOptions` (see `EditorConfig.from_mapping`: model,
modelBackend, endpoint, device, dtype, prompt, leanProject, workers, expansions, candidates,
timeLimit). The provers and the model are built on the first request and kept for later ones.

The initialization option `backends` names an editor-backends plug-in that supplies provers and model
together (see `llemma_prove.plugins`); an embedding program may pass `backends_factory` instead.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Callable
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument

from .. import __version__
from ..errors import UserError
from ..types import Language
from .backends import Backends, EditorConfig, load_backends
from .session import TargetOutcome, prove_target
from .targets import LocatedFile, Target, TextEdit, context_tokens, locate

log = logging.getLogger(__name__)

COMMAND = "llemma.prove"
TITLE = "Prove with LLEMMA"
SOURCE = "llemma-prove"

BackendsFactory = Callable[[EditorConfig], Backends]


def document_language(uri: str, language_id: str | None) -> Language | None:
    path = unquote(urlparse(uri).path)
    suffix = PurePath(path).suffix.lower()
    if suffix == ".lean":
        return Language.LEAN4
    if suffix == ".thy":
        return Language.ISABELLE
    if language_id in ("lean", "lean4"):
        return Language.LEAN4
    if language_id == "isabelle":
        return Language.ISABELLE
    return None


@dataclass(eq=False)
class Job:
    """One running `llemma.prove` command, so that either kind of cancellation can stop it."""

    task: asyncio.Task[Any]
    token: str | None = None  # the work-done progress token, once the client accepted it
    request_id: Any = None
    cancel_reason: str = ""
    progress_ended: bool = False

    def cancel(self, reason: str) -> None:
        if not self.task.done():
            self.cancel_reason = reason
            self.task.cancel()


@dataclass
class _DocCache:
    version: int | None
    text: str
    located: LocatedFile | None
    error: str = ""


class _Protocol(LanguageServerProtocol):
    """pygls' protocol, plus: `$/cancelRequest` also cancels the search task of a prove command
    (pygls runs a command's coroutine as a separate task that the cancellation would not reach)."""

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        server = self._server
        if isinstance(server, LlemmaServer):
            server.cancel_request(msg_id)


class LlemmaServer(LanguageServer):
    def __init__(self, backends_factory: BackendsFactory | None = None) -> None:
        super().__init__(SOURCE, __version__, protocol_cls=_Protocol)
        self.config = EditorConfig()
        self.config_error = ""
        self._factory = backends_factory
        self._backends: Backends | None = None
        self._jobs: set[Job] = set()
        self._cancelled_requests: set[Any] = set()
        self._docs: dict[str, _DocCache] = {}
        self._diagnostics: dict[str, dict[int, lsp.Diagnostic]] = {}

    # -- state ------------------------------------------------------------------------------------

    def backends(self) -> Backends:
        """Built once, on first use, and kept: the model and warm provers serve every request."""
        if self._backends is None:
            self._backends = self._factory(self.config) if self._factory else load_backends(self.config)
        return self._backends

    async def close_backends(self) -> None:
        backends, self._backends = self._backends, None
        if backends is not None:
            await backends.close()

    def located(self, doc: TextDocument) -> _DocCache:
        cached = self._docs.get(doc.uri)
        text = doc.source
        if cached is not None and cached.version == doc.version and cached.text == text:
            return cached
        language = document_language(doc.uri, doc.language_id)
        entry = _DocCache(doc.version, text, None)
        if language is not None:
            try:
                entry.located = locate(text, language)
            except UserError as exc:
                entry.error = str(exc)
        self._docs[doc.uri] = entry
        return entry

    def cancel_request(self, request_id: Any) -> None:
        for job in list(self._jobs):
            if job.request_id == request_id:
                job.cancel("the request was cancelled")
                return
        # Cancelled before its task started: remembered, so the task stops as soon as it starts.
        self._cancelled_requests.add(request_id)
        while len(self._cancelled_requests) > 256:
            self._cancelled_requests.pop()

    def cancel_token(self, token: Any) -> None:
        for job in list(self._jobs):
            if job.token is not None and job.token == token:
                job.cancel("cancelled")

    async def stop_jobs(self) -> None:
        jobs = list(self._jobs)
        for job in jobs:
            job.cancel("the server is shutting down")
        if jobs:
            await asyncio.wait([j.task for j in jobs], timeout=30)

    # -- client-facing helpers --------------------------------------------------------------------

    def message(self, kind: lsp.MessageType, text: str) -> None:
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=text))

    def _range(self, doc: TextDocument, start: int, end: int) -> lsp.Range:
        return lsp.Range(doc.client_position_at_offset(start), doc.client_position_at_offset(end))

    def publish(self, uri: str) -> None:
        diags = list(self._diagnostics.get(uri, {}).values())
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diags))

    def set_diagnostic(self, doc: TextDocument, target: Target, message: str | None) -> None:
        per_doc = self._diagnostics.setdefault(doc.uri, {})
        if message is None:
            if per_doc.pop(target.start, None) is None:
                return
        else:
            per_doc[target.start] = lsp.Diagnostic(
                range=self._range(doc, target.start, target.end),
                message=message,
                severity=lsp.DiagnosticSeverity.Information,
                source=SOURCE,
            )
        self.publish(doc.uri)

    def clear_diagnostics(self, uri: str) -> None:
        if self._diagnostics.pop(uri, None):
            self.publish(uri)

    def supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)

    def supports_disabled_actions(self) -> bool:
        doc = self.client_capabilities.text_document
        action = doc.code_action if doc else None
        return bool(action and action.disabled_support)

    def supports_document_changes(self) -> bool:
        ws = self.client_capabilities.workspace
        edit = ws.workspace_edit if ws else None
        return bool(edit and edit.document_changes)

    # -- features ---------------------------------------------------------------------------------

    def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        doc = self.workspace.get_text_document(params.text_document.uri)
        entry = self.located(doc)
        if entry.located is None:
            return []
        lo = doc.offset_at_position(params.range.start)
        hi = doc.offset_at_position(params.range.end)
        actions = []
        for target in entry.located.targets:
            if target.end < lo or target.start > hi:
                continue
            position = doc.client_position_at_offset(target.start)
            arguments = [{"uri": doc.uri, "version": doc.version, "line": position.line,
                          "character": position.character}]
            if target.supported:
                actions.append(lsp.CodeAction(
                    title=TITLE, kind=lsp.CodeActionKind.QuickFix,
                    command=lsp.Command(title=TITLE, command=COMMAND, arguments=arguments),
                ))
            elif self.supports_disabled_actions():
                actions.append(lsp.CodeAction(
                    title=TITLE, kind=lsp.CodeActionKind.QuickFix,
                    disabled=lsp.CodeActionDisabled(reason=target.reason),
                ))
        return actions

    async def prove(self, args: dict[str, Any]) -> dict[str, Any]:
        """The `llemma.prove` command: search, then apply the proof or say why there is none."""
        if self.config_error:
            self.message(lsp.MessageType.Error, f"LLEMMA: {self.config_error}")
            return {"status": "error", "reason": self.config_error}
        uri = args.get("uri") if isinstance(args, dict) else None
        if not isinstance(uri, str):
            raise ValueError("llemma.prove expects {uri, line, character}")
        doc = self.workspace.get_text_document(uri)
        entry = self.located(doc)
        if entry.located is None:
            reason = entry.error or "not a Lean or Isabelle document"
            self.message(lsp.MessageType.Warning, f"LLEMMA: {reason}")
            return {"status": "error", "reason": reason}
        offset = doc.offset_at_position(lsp.Position(int(args.get("line", 0)), int(args.get("character", 0))))
        target = entry.located.target_at(offset)
        if target is None:
            self.message(lsp.MessageType.Warning, "LLEMMA: there is no sorry at that position")
            return {"status": "no-target"}
        if not target.supported:
            self.message(lsp.MessageType.Warning, f"LLEMMA: cannot prove {target.label}: {target.reason}")
            return {"status": "unsupported", "reason": target.reason}

        task = asyncio.current_task()
        assert task is not None
        job = Job(task, request_id=self.protocol.msg_id)
        if job.request_id is not None and job.request_id in self._cancelled_requests:
            self._cancelled_requests.discard(job.request_id)
            return {"status": "cancelled", "reason": "the request was cancelled"}
        self._jobs.add(job)
        try:
            await self._begin_progress(job, target)
            return await self._search(doc, entry.text, target, job)
        except asyncio.CancelledError:
            # Answer normally: the task ends here, sessions are closed by the search's own cleanup.
            self._end_progress(job, "cancelled")
            self.message(lsp.MessageType.Info, f"LLEMMA: search for {target.label} cancelled")
            return {"status": "cancelled", "reason": job.cancel_reason or "cancelled"}
        finally:
            self._jobs.discard(job)

    async def _begin_progress(self, job: Job, target: Target) -> None:
        """A server-created work-done progress (if the client supports it), cancellable."""
        if not self.supports_progress():
            return
        token = f"llemma-prove/{uuid.uuid4()}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception as exc:  # a client that refuses the token still gets the proof
            log.warning("progress token refused: %s", exc)
            return
        job.token = token
        self.work_done_progress.begin(token, lsp.WorkDoneProgressBegin(
            title=f"LLEMMA: proving {target.name}", cancellable=True, message="starting", percentage=0))

    def _report(self, job: Job, done: int, budget: int) -> None:
        if job.token is None or job.progress_ended:
            return
        percent = min(100, int(100 * done / max(1, budget)))
        self.work_done_progress.report(job.token, lsp.WorkDoneProgressReport(
            message=f"expansion {done} of {budget}", percentage=percent, cancellable=True))

    def _end_progress(self, job: Job, message: str) -> None:
        if job.token is None or job.progress_ended:
            return
        job.progress_ended = True
        self.work_done_progress.end(job.token, lsp.WorkDoneProgressEnd(message=message))
        self.work_done_progress.tokens.pop(job.token, None)

    async def _search(self, doc: TextDocument, text: str, target: Target, job: Job) -> dict[str, Any]:
        try:
            outcome = await prove_target(target, self.backends(), self.config,
                                         progress=lambda done, budget: self._report(job, done, budget))
        except UserError as exc:  # e.g. Lean or Isabelle not installed: say what to install
            self._end_progress(job, "failed")
            self.message(lsp.MessageType.Error, f"LLEMMA: {exc}")
            return {"status": "error", "reason": str(exc)}
        if not outcome.proved or outcome.edit is None:
            self._end_progress(job, f"no proof: {outcome.reason}")
            self.message(lsp.MessageType.Warning, f"LLEMMA: no proof for {target.label}: {outcome.reason}")
            self.set_diagnostic(doc, target, f"LLEMMA found no proof ({outcome.status}): {outcome.reason}")
            return {"status": outcome.status, "reason": outcome.reason}
        self._end_progress(job, "proof found")
        return await self._apply(doc, text, target, outcome)

    async def _apply(self, doc: TextDocument, text: str, target: Target, outcome: TargetOutcome) -> dict[str, Any]:
        assert outcome.edit is not None
        current = self.workspace.get_text_document(doc.uri)
        edit = _reanchor(outcome.edit, target, text, current.source)
        result: dict[str, Any] = {"status": "proved", "proof": outcome.edit.new_text, "steps": list(outcome.steps)}
        if edit is None:
            self.message(lsp.MessageType.Warning,
                         f"LLEMMA: proof of {target.label} found, but the sorry or the text before it changed "
                         f"meanwhile; not inserted. "
                         f"Proof: {outcome.edit.new_text}")
            result["applied"] = False
            return result
        text_edit = lsp.TextEdit(range=self._range(current, edit.start, edit.end), new_text=edit.new_text)
        if self.supports_document_changes():
            workspace_edit = lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=current.uri, version=current.version),
                edits=[text_edit])])
        else:
            workspace_edit = lsp.WorkspaceEdit(changes={current.uri: [text_edit]})
        answer = await self.workspace_apply_edit_async(
            lsp.ApplyWorkspaceEditParams(edit=workspace_edit, label=f"LLEMMA: proof of {target.name}"))
        applied = bool(answer and answer.applied)
        result["applied"] = applied
        if applied:
            self.set_diagnostic(current, target, None)
        else:
            why = (answer.failure_reason if answer else None) or "the editor refused the edit"
            self.message(lsp.MessageType.Warning, f"LLEMMA: proof of {target.label} not inserted ({why}). "
                                                  f"Proof: {outcome.edit.new_text}")
        return result


def _reanchor(edit: TextEdit, target: Target, old: str, new: str) -> TextEdit | None:
    """The edit moved to where the same declaration stands in the current text, or None.

    Unchanged text: the edit as is. Otherwise the declaration's text (which holds the `sorry`) must
    occur exactly once in the new text, unchanged, and everything before it must still read the same
    to the prover (comments and layout may differ): the proof was checked in that context.
    """
    if old == new:
        return edit
    decl = target.declaration
    if decl is None:
        return None
    chunk = old[decl.start: decl.end]
    at = new.find(chunk)
    if at < 0 or new.find(chunk, at + 1) >= 0:
        return None
    before = context_tokens(old[: decl.start], target.language)
    if before is None or before != context_tokens(new[:at], target.language):
        return None
    shift = at - decl.start
    return TextEdit(edit.start + shift, edit.end + shift, edit.new_text)


def build_server(backends_factory: BackendsFactory | None = None) -> LlemmaServer:
    server = LlemmaServer(backends_factory)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: LlemmaServer, params: lsp.InitializeParams) -> None:
        try:
            ls.config = EditorConfig.from_mapping(params.initialization_options)
        except UserError as exc:
            ls.config_error = f"bad initialization options: {exc}"

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: LlemmaServer, params: lsp.InitializedParams) -> None:
        if ls.config_error:
            ls.message(lsp.MessageType.Error, f"LLEMMA: {ls.config_error}")

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                    lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
    def code_action(ls: LlemmaServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return ls.code_actions(params)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LlemmaServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.clear_diagnostics(params.text_document.uri)  # their ranges no longer hold

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LlemmaServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls._docs.pop(params.text_document.uri, None)
        ls.clear_diagnostics(params.text_document.uri)

    @server.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancel(ls: LlemmaServer, params: lsp.WorkDoneProgressCancelParams) -> None:
        ls.cancel_token(params.token)

    @server.feature(lsp.SHUTDOWN)
    async def shutdown(ls: LlemmaServer, *args: Any) -> None:
        await ls.stop_jobs()
        await ls.close_backends()

    @server.command(COMMAND)
    async def prove(ls: LlemmaServer, *args: Any) -> dict[str, Any]:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise ValueError("llemma.prove expects one argument {uri, line, character}")
        return await ls.prove(args[0])

    return server


def serve() -> None:
    """Run the server on stdin/stdout until the client says `exit`."""
    build_server().start_io()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    serve()
