"""A real LSP client for the tests: pygls' `BaseLanguageClient` talking to the server process over stdio.

The server process is started through `llemma_prove.processes.ChildProcess` (own process group, killed
with the test), and the client keeps what an editor would: the documents it opened (applying the
server's `workspace/applyEdit` to them and reporting the change back), progress notifications,
messages and diagnostics. Positions are converted here independently of the server (UTF-16 code units,
as LSP specifies by default), so a wrong conversion on either side shows up as a wrong edit.
"""

from __future__ import annotations

import asyncio
import os
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types as lsp
from pygls.io_ import run_async
from pygls.lsp.client import BaseLanguageClient
from pygls.protocol import LanguageServerProtocol

from llemma_prove.processes import ChildProcess, ProcessSpec
from tests.conftest import PLUGIN_DIST, ROOT

log = logging.getLogger(__name__)


def utf16_offset(text: str, line: int, character: int) -> int:
    """Code-point offset of an LSP position (lines end at \\n, \\r\\n or \\r; UTF-16 columns)."""
    offset = 0
    for _ in range(line):
        nl = min((i for i in (text.find("\n", offset), text.find("\r", offset)) if i >= 0), default=-1)
        if nl < 0:
            return len(text)
        offset = nl + (2 if text.startswith("\r\n", nl) else 1)
    units = 0
    while offset < len(text) and units < character and text[offset] not in "\r\n":
        units += 2 if ord(text[offset]) > 0xFFFF else 1
        offset += 1
    return offset


def utf16_position(text: str, offset: int) -> lsp.Position:
    before = text[:offset]
    line = before.count("\n") + before.count("\r") - before.count("\r\n")
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return lsp.Position(line, sum(2 if ord(c) > 0xFFFF else 1 for c in before[start:]))


@dataclass
class Document:
    uri: str
    version: int
    text: str


class _ClientProtocol(LanguageServerProtocol):
    """lsprotocol's converter turns a `CodeAction` that carries a `command` into a `Command` (it picks
    the first member of `Command | CodeAction`); code action answers are kept raw and read here."""

    def get_result_type(self, method: str) -> Any:
        if method == lsp.TEXT_DOCUMENT_CODE_ACTION:
            return None
        return super().get_result_type(method)


class EditorClient(BaseLanguageClient):
    def __init__(self) -> None:
        super().__init__("llemma-prove-tests", "0", protocol_cls=_ClientProtocol)
        self.child: ChildProcess | None = None
        self.documents: dict[str, Document] = {}
        self.progress: list[tuple[Any, dict[str, Any]]] = []
        self.created_tokens: list[Any] = []
        self.messages: list[lsp.ShowMessageParams] = []
        self.diagnostics: dict[str, list[lsp.Diagnostic]] = {}
        self.applied: list[lsp.ApplyWorkspaceEditParams] = []
        self.stderr = bytearray()
        self.refuse_edits = ""  # non-empty: refuse every workspace edit with this reason
        self._tasks: list[asyncio.Task[Any]] = []

        @self.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create_token(params: lsp.WorkDoneProgressCreateParams) -> None:
            self.created_tokens.append(params.token)

        @self.feature(lsp.PROGRESS)
        def progress(params: lsp.ProgressParams) -> None:
            value = params.value if isinstance(params.value, dict) else {}
            self.progress.append((params.token, value))

        @self.feature(lsp.WINDOW_SHOW_MESSAGE)
        def show_message(params: lsp.ShowMessageParams) -> None:
            self.messages.append(params)

        @self.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = list(params.diagnostics)

        @self.feature(lsp.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
            return self._apply(params)

    # -- process ----------------------------------------------------------------------------------

    async def start(self, *module_args: str, env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", *module_args]
        self.child = ChildProcess(ProcessSpec(argv, cwd=str(ROOT), extra_env={"PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN_DIST)]), **(env or {})}))
        await self.child.start()
        proc = self.child.proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self.protocol.set_writer(proc.stdin)
        self._tasks.append(asyncio.create_task(run_async(
            stop_event=self._stop_event, reader=proc.stdout, protocol=self.protocol, logger=log)))
        self._tasks.append(asyncio.create_task(self._drain(proc.stderr)))

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr.extend(chunk)

    async def initialize(self, options: dict[str, Any] | None, root: Path,
                         disabled_support: bool = True) -> lsp.InitializeResult:
        capabilities = lsp.ClientCapabilities(
            window=lsp.WindowClientCapabilities(work_done_progress=True),
            workspace=lsp.WorkspaceClientCapabilities(
                workspace_edit=lsp.WorkspaceEditClientCapabilities(document_changes=True), apply_edit=True),
            text_document=lsp.TextDocumentClientCapabilities(code_action=lsp.CodeActionClientCapabilities(
                disabled_support=disabled_support,
                code_action_literal_support=lsp.ClientCodeActionLiteralOptions(
                    code_action_kind=lsp.ClientCodeActionKindOptions(value_set=[lsp.CodeActionKind.QuickFix])))),
        )
        result = await asyncio.wait_for(self.initialize_async(lsp.InitializeParams(
            capabilities=capabilities, process_id=None, root_uri=root.as_uri(), initialization_options=options)), 30)
        self.initialized(lsp.InitializedParams())
        return result

    async def close(self) -> int | None:
        """shutdown + exit, then wait for the server to end (killing its group if it does not)."""
        code = None
        try:
            if self.child is not None and self.child.running:
                await asyncio.wait_for(self.shutdown_async(None), 20)
                self.exit(None)
                assert self.child.proc is not None
                code = await asyncio.wait_for(self.child.proc.wait(), 20)
        finally:
            self._stop_event.set()
            if self.child is not None:
                await self.child.stop()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        return code

    # -- documents --------------------------------------------------------------------------------

    def open(self, path: Path, text: str, language_id: str = "lean4") -> Document:
        doc = Document(path.as_uri(), 1, text)
        self.documents[doc.uri] = doc
        self.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=doc.uri, language_id=language_id, version=1, text=text)))
        return doc

    def change(self, doc: Document, text: str) -> None:
        doc.version += 1
        doc.text = text
        self.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=doc.uri, version=doc.version),
            content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))

    def _apply(self, params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        self.applied.append(params)
        if self.refuse_edits:
            return lsp.ApplyWorkspaceEditResult(applied=False, failure_reason=self.refuse_edits)
        for change in params.edit.document_changes or []:
            assert isinstance(change, lsp.TextDocumentEdit)
            doc = self.documents[change.text_document.uri]
            if change.text_document.version != doc.version:  # what VS Code does with a stale edit
                return lsp.ApplyWorkspaceEditResult(applied=False, failure_reason="document version changed")
            text = doc.text
            for edit in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
                assert isinstance(edit, lsp.TextEdit)
                start = utf16_offset(text, edit.range.start.line, edit.range.start.character)
                end = utf16_offset(text, edit.range.end.line, edit.range.end.character)
                text = text[:start] + edit.new_text + text[end:]
            self.change(doc, text)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    async def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        raw = await self.protocol.send_request_async(lsp.TEXT_DOCUMENT_CODE_ACTION, params)
        return [self.protocol._converter.structure(item, lsp.CodeAction) for item in raw or []]

    # -- waiting ----------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; server stderr:\n{self.stderr.decode(errors='replace')}")
            await asyncio.sleep(0.02)
