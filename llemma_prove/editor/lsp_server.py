"""`llemma-prove lsp`: a language server (pygls, stdio) that proves the `sorry` under the cursor.

It runs beside the editor's Lean or Isabelle extension and offers one thing: the code action
"Prove with LLEMMA" on a `sorry` (or `oops`) in a `.lean` or `.thy` document. Choosing it runs the
command `llemma.prove`, which
- reports `$/progress` (expansions done out of the budget) on a server-created work-done token;
- stops the search when the client cancels that token (`window/workDoneProgress/cancel`) or the
  request (`$/cancelRequest`);
- on a checked proof, asks the client to apply a versioned `workspace/applyEdit` that replaces the
  `sorry`. If the document changed meanwhile (another proof inserted above, the user typing), the
  target is found again in the current text (`reanchor.find_again`): moved along when its
  declaration and the text before it read as before, otherwise the final check runs again on the
  current text first. A proof that cannot be applied is never dropped: it is shown in a message and
  kept as a diagnostic on its `sorry` with the quick fix "Insert LLEMMA proof" (checked again first).
  The proofs of every `sorry` of one declaration take the same path together: re-anchored, checked
  again as a whole when needed, applied as one edit, or kept as a diagnostic on the declaration with
  the quick fix "Insert LLEMMA proofs of NAME". When only some sorrys of a declaration are proved, the
  pieces are never applied unasked: they stay as a diagnostic on the declaration with the quick fix
  "Insert the k proved sorrys of NAME (m remain)", which takes that same path, and whose check (when
  the text changed) is the one `prove --write --partial` writes with (`session.check_partial`:
  Lean elaborates the declaration with them and the other sorrys left open; weaker than the final
  check, which cannot pass while a sorry stays);
- otherwise says why in a `window/showMessage` and an information diagnostic on the `sorry`.

A `sorry` that cannot be searched gets a disabled code action with the reason; for clients that
hide disabled actions (Neovim before 0.11, Emacs) the reason is a hint diagnostic instead.

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
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Any, Callable
from urllib.parse import unquote, urlparse

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.workspace import TextDocument

from .. import __version__
from ..errors import ProposerError, ProverError, UserError
from ..types import Language
from .backends import Backends, EditorConfig, load_backends
from .project import choose_project
from .reanchor import find_again
from .session import (
    Suggestion,
    TargetOutcome,
    prove_declaration,
    prove_target,
    recheck,
    recheck_declaration,
    suggest_steps,
)
from .lean_targets import lean_may_decide
from .lean_view import LeanView, lean_view
from .targets import HoleKind, LocatedFile, Target, locate, proof_edit

log = logging.getLogger(__name__)

COMMAND = "llemma.prove"
INSERT_COMMAND = "llemma.insertProof"
SUGGEST_COMMAND = "llemma.suggest"
APPLY_STEPS_COMMAND = "llemma.applySteps"
SUGGEST_TITLE = "Suggest next steps (LLEMMA)"
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


@dataclass(frozen=True)
class Piece:
    """The steps found for one `sorry`."""

    target: Target
    steps: tuple[str, ...]


@dataclass
class PendingProof:
    """A checked proof that could not be applied yet, and the text it was found (or last checked) in.

    One piece per `sorry`: a lone `sorry`'s proof, or the proofs of every `sorry` of one declaration,
    which go in together (the final check accepted them together, never one without the others), or
    a partial result: the pieces found for some `sorry`s of a declaration, `remaining` others staying
    `sorry` (checked only as `prove --write --partial` checks: `session.check_partial`)."""

    id: str
    pieces: tuple[Piece, ...]
    text: str
    why: str
    remaining: int = 0  # a partial result: how many other sorrys of the declaration stay

    @property
    def target(self) -> Target:
        return self.pieces[0].target

    @property
    def partial(self) -> bool:
        return self.remaining > 0

    @property
    def of_declaration(self) -> bool:
        """Shown on its declaration and checked again as a declaration (several pieces, or partial)."""
        return len(self.pieces) > 1 or self.partial

    @property
    def what(self) -> str:
        name = self.target.name
        if self.partial:
            others = f"{self.remaining} other {_remain(self.remaining)}"
            return f"the {_count(len(self.pieces), 'proved sorry')} of {name} ({others})"
        if self.of_declaration:
            return f"proofs of the {len(self.pieces)} sorrys of {name}"
        return f"proof of {self.target.label}"

    @property
    def proof_text(self) -> str:
        if not self.of_declaration:
            return " ; ".join(self.pieces[0].steps)
        return ", ".join(f"line {p.target.line}: {' ; '.join(p.steps)}" for p in self.pieces)

    def retargeted(self, targets: list[Target], text: str, why: str) -> "PendingProof":
        """The same proofs for the targets found again in `text`."""
        pieces = tuple(Piece(t, p.steps) for t, p in zip(targets, self.pieces))
        return replace(self, pieces=pieces, text=text, why=why)


@dataclass
class StoredSuggestion:
    """Steps Lean accepted at a target's goal, offered as code actions on that `sorry`."""

    id: str
    target: Target
    text: str
    suggestion: Suggestion
    origin: str  # "suggested" | "best partial path"

    @property
    def title(self) -> str:
        steps = " ; ".join(self.suggestion.steps)
        if self.suggestion.closes:
            return f"LLEMMA: {steps}  (closes the goal)"
        goals = " ".join(self.suggestion.goals.split())
        short = goals if len(goals) <= 60 else goals[:57] + "..."
        prefix = "best partial path: " if self.origin != "suggested" else ""
        return f"LLEMMA: {prefix}{steps}  → {short}"


@dataclass
class _DocCache:
    version: int | None
    text: str
    located: LocatedFile | None
    error: str = ""
    view: Any = None  # the Lean view it was located with (`lean_view.LeanView`), None: the scanner's


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
        self._backends: dict[str, Backends] = {}  # per Lake project (see `project.choose_project`)
        self._advised: set[str] = set()
        self._jobs: set[Job] = set()
        self._cancelled_requests: set[Any] = set()
        self._docs: dict[str, _DocCache] = {}
        self._views: dict[str, LeanView] = {}  # Lean's view of each document's sorrys (`lean_view`)
        self._diagnostics: dict[str, dict[int, lsp.Diagnostic]] = {}
        self._unsupported: dict[str, list[lsp.Diagnostic]] = {}
        self._pending: dict[str, dict[str, PendingProof]] = {}
        self._suggestions: dict[str, dict[str, StoredSuggestion]] = {}
        self._published: dict[str, int] = {}  # diagnostics last published per document

    # -- state ------------------------------------------------------------------------------------

    def backends(self, uri: str | None = None) -> Backends:
        """Built once per Lake project, on first use, and kept: the model and warm provers serve every
        request. A Lean document gets the project that encloses it (its own toolchain and modules)."""
        config = self.config
        if uri is not None and document_language(uri, None) is Language.LEAN4:
            choice = choose_project(Path(unquote(urlparse(uri).path)), config, self._workspace_root())
            config = replace(config, lean_project=choice.directory)
            if choice.advice and choice.advice not in self._advised:
                self._advised.add(choice.advice)
                self.message(lsp.MessageType.Info, f"LLEMMA: {choice.advice}")
        key = str(config.lean_project)
        backends = self._backends.get(key)
        if backends is None:
            backends = self._factory(config) if self._factory else load_backends(config)
            self._backends[key] = backends
        return backends

    def _workspace_root(self) -> Path | None:
        try:
            root = self.workspace.root_path
        except Exception:  # no workspace yet
            return None
        return Path(root) if root else None

    async def close_backends(self) -> None:
        backends, self._backends = list(self._backends.values()), {}
        for item in backends:
            try:
                await item.close()
            except Exception:  # closing one must not keep the others open
                log.exception("closing backends failed")

    def located(self, doc: TextDocument) -> _DocCache:
        cached = self._docs.get(doc.uri)
        text = doc.source
        view = self._views.get(doc.uri)
        if cached is not None and cached.version == doc.version and cached.text == text and cached.view is view:
            return cached
        language = document_language(doc.uri, doc.language_id)
        entry = _DocCache(doc.version, text, None, view=view)
        if language is not None:
            try:
                entry.located = locate(text, language, view if language is Language.LEAN4 else None)
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
        diags = list(self._diagnostics.get(uri, {}).values()) + self._unsupported.get(uri, [])
        diags += self._pending_diagnostics(uri)
        if not diags and not self._published.get(uri):
            return  # nothing shown, nothing to show: no message on every keystroke
        self._published[uri] = len(diags)
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
        if self._diagnostics.pop(uri, None) or self._pending.get(uri) or self._unsupported.get(uri):
            self.publish(uri)

    def refresh(self, uri: str) -> None:
        """After a change: search diagnostics are dropped (their ranges no longer hold), pending proofs
        follow their targets, and the reasons of unsupported sorries are recomputed."""
        self._diagnostics.pop(uri, None)
        doc = self.workspace.get_text_document(uri)
        self._unsupported[uri] = self._unsupported_diagnostics(doc)
        self.publish(uri)

    def _unsupported_diagnostics(self, doc: TextDocument) -> list[lsp.Diagnostic]:
        if self.supports_disabled_actions():
            return []  # the disabled code action carries the reason
        entry = self.located(doc)
        if entry.located is None:
            return []
        return [lsp.Diagnostic(range=self._range(doc, t.start, t.end), severity=lsp.DiagnosticSeverity.Hint,
                               source=SOURCE, message=f"LLEMMA cannot search this {t.keyword}: {t.reason}")
                for t in entry.located.targets if not t.supported]

    def _pending_diagnostics(self, uri: str) -> list[lsp.Diagnostic]:
        pending = self._pending.get(uri)
        if not pending:
            return []
        doc = self.workspace.get_text_document(uri)
        out = []
        for item in pending.values():
            span = self._pending_span(doc, item)
            if span is None:
                continue
            if item.partial:
                total = len(item.pieces) + item.remaining
                message = (f"LLEMMA proved {len(item.pieces)} of the {total} sorrys of {item.target.name}, not "
                           f"inserted ({item.why}): {item.proof_text}. {PARTIAL_CHECK}. Quick fix: {_insert_title(item)}")
            elif item.of_declaration:
                message = (f"LLEMMA found proofs of all {len(item.pieces)} sorrys of {item.target.name} that are not "
                           f"inserted ({item.why}): {item.proof_text}. Quick fix: {_insert_title(item)}")
            else:
                message = (f"LLEMMA found a proof of {item.target.name} that is not inserted ({item.why}): "
                           f"{item.proof_text}. Quick fix: Insert LLEMMA proof")
            out.append(lsp.Diagnostic(
                range=self._range(doc, *span), severity=lsp.DiagnosticSeverity.Information, source=SOURCE,
                code="llemma-proof", data={"pending": item.id}, message=message))
        return out

    def _pending_span(self, doc: TextDocument, item: PendingProof) -> tuple[int, int] | None:
        """Where a pending proof is shown in the current text: its `sorry`; for the proofs of a whole
        declaration, the declaration's first line. None when its targets are not all found again."""
        found = [find_again(p.target, item.text, doc.source, self._views.get(doc.uri)) for p in item.pieces]
        if any(f is None for f in found):
            return None
        first = found[0].target  # type: ignore[union-attr]
        if not item.of_declaration or first.declaration is None:
            return first.start, first.end
        start = first.declaration.keyword_start
        line_end = doc.source.find("\n", start)
        end = min(first.declaration.end, line_end if line_end >= 0 else len(doc.source))
        return start, len(doc.source[:end].rstrip())

    def _pending_action_span(self, doc: TextDocument, item: PendingProof) -> tuple[int, int] | None:
        """Where the quick fix is offered: the `sorry`, or anywhere in the declaration."""
        span = self._pending_span(doc, item)
        if span is None or not item.of_declaration:
            return span
        found = find_again(item.target, item.text, doc.source, self._views.get(doc.uri))
        decl = found.target.declaration if found is not None else None
        return (decl.start, decl.end) if decl is not None else span
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
            if target.supported or self._lean_may_decide(doc, entry, target):
                actions.append(lsp.CodeAction(
                    title=TITLE, kind=lsp.CodeActionKind.QuickFix,
                    command=lsp.Command(title=TITLE, command=COMMAND, arguments=arguments),
                ))
            elif self.supports_disabled_actions():
                actions.append(lsp.CodeAction(
                    title=TITLE, kind=lsp.CodeActionKind.QuickFix,
                    disabled=lsp.CodeActionDisabled(reason=target.reason),
                ))
            if target.supported:
                actions.append(lsp.CodeAction(
                    title=SUGGEST_TITLE, kind=lsp.CodeActionKind.QuickFix,
                    command=lsp.Command(title=SUGGEST_TITLE, command=SUGGEST_COMMAND, arguments=arguments)))
        for stored in self._suggestions.get(doc.uri, {}).values():
            found = find_again(stored.target, stored.text, doc.source, self._views.get(doc.uri))
            if found is None or found.target.end < lo or found.target.start > hi:
                continue
            actions.append(lsp.CodeAction(
                title=stored.title, kind=lsp.CodeActionKind.QuickFix,
                command=lsp.Command(title=stored.title, command=APPLY_STEPS_COMMAND,
                                    arguments=[{"uri": doc.uri, "id": stored.id}])))
        for item in self._pending.get(doc.uri, {}).values():
            span = self._pending_action_span(doc, item)
            if span is None or span[1] < lo or span[0] > hi:
                continue
            title = _insert_title(item)
            actions.insert(0, lsp.CodeAction(
                title=title, kind=lsp.CodeActionKind.QuickFix, is_preferred=True,
                command=lsp.Command(title=title, command=INSERT_COMMAND, arguments=[{"uri": doc.uri, "id": item.id}])))
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
        if target is not None and self._lean_may_decide(doc, entry, target):
            entry = await self._ask_lean(doc, entry)
            target = entry.located.target_at(offset) if entry.located is not None else None
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
            if target.kind is HoleKind.NESTED and target.holes > 1:
                group = [t for t in entry.located.targets if t.declaration == target.declaration]
                return await self._search_declaration(doc, entry.text, target, group, job)
            return await self._search(doc, entry.text, target, job)
        except asyncio.CancelledError:
            # Answer normally: the task ends here, sessions are closed by the search's own cleanup.
            self._end_progress(job, "cancelled")
            self.message(lsp.MessageType.Info, f"LLEMMA: search for {target.label} cancelled")
            return {"status": "cancelled", "reason": job.cancel_reason or "cancelled"}
        finally:
            self._jobs.discard(job)

    def _lean_may_decide(self, doc: TextDocument, entry: _DocCache, target: Target) -> bool:
        """Lean, not the scanner, should say whether this sorry is a tactic, and has not said yet."""
        if target.language is not Language.LEAN4 or target.declaration is None:
            return False
        view = self._views.get(doc.uri)
        decl = target.declaration
        if view is not None and view.role(entry.text[decl.start: decl.end], target.start - decl.start) is not None:
            return False
        return lean_may_decide(target, entry.text)

    async def _ask_lean(self, doc: TextDocument, entry: _DocCache) -> _DocCache:
        """Elaborate the document once on the Lean REPL and locate its sorrys with Lean's view (the
        scanner's reading stays where no Lean REPL is available)."""
        if entry.located is None:
            return entry
        view = await lean_view(entry.text, entry.located.header, self.backends(doc.uri))
        if view is None:
            return entry
        self._views[doc.uri] = view
        current = self.workspace.get_text_document(doc.uri)
        if current.source != entry.text:  # the document changed meanwhile: the view is for declarations
            return self.located(current)  # that kept their text
        return self.located(doc)

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
            outcome = await prove_target(target, self.backends(doc.uri), self.config,
                                         progress=lambda done, budget: self._report(job, done, budget))
        except UserError as exc:  # e.g. Lean or Isabelle not installed: say what to install
            self._end_progress(job, "failed")
            self.message(lsp.MessageType.Error, f"LLEMMA: {exc}")
            return {"status": "error", "reason": str(exc)}
        if not outcome.proved or outcome.edit is None:
            self._end_progress(job, f"no proof: {outcome.reason}")
            best = ""
            if outcome.best_path is not None:
                self._store_suggestions(doc.uri, target, text, [outcome.best_path], "best partial path")
                best = (f" Best partial path: {' ; '.join(outcome.best_path.steps)} (leaves: "
                        f"{' '.join(outcome.best_path.goals.split())[:200]}); it is offered as a code action.")
            self.message(lsp.MessageType.Warning, f"LLEMMA: no proof for {target.label}: {outcome.reason}.{best}")
            self.set_diagnostic(doc, target, f"LLEMMA found no proof ({outcome.status}): {outcome.reason}")
            return {"status": outcome.status, "reason": outcome.reason}
        self._end_progress(job, "proof found")
        return await self._apply(doc, text, target, outcome)

    def _store_suggestions(self, uri: str, target: Target, text: str, suggestions: list[Suggestion],
                           origin: str) -> list[StoredSuggestion]:
        per_doc = self._suggestions.setdefault(uri, {})
        for key in [k for k, v in per_doc.items() if v.target.start == target.start and v.text == text]:
            per_doc.pop(key)  # a new list replaces the old one for this sorry
        stored = [StoredSuggestion(uuid.uuid4().hex, target, text, s, origin) for s in suggestions]
        per_doc.update((s.id, s) for s in stored)
        return stored

    async def suggest(self, args: dict[str, Any]) -> dict[str, Any]:
        """The `llemma.suggest` command: the model's top next steps at the cursor's goal that Lean
        accepts, each with the goals it leaves; offered afterwards as code actions on the `sorry`."""
        if self.config_error:
            self.message(lsp.MessageType.Error, f"LLEMMA: {self.config_error}")
            return {"status": "error", "reason": self.config_error}
        uri = args.get("uri")
        if not isinstance(uri, str):
            raise ValueError("llemma.suggest expects {uri, line, character}")
        doc = self.workspace.get_text_document(uri)
        entry = self.located(doc)
        if entry.located is None:
            return {"status": "error", "reason": entry.error or "not a Lean or Isabelle document"}
        offset = doc.offset_at_position(lsp.Position(int(args.get("line", 0)), int(args.get("character", 0))))
        target = entry.located.target_at(offset)
        if target is None or not target.supported:
            reason = target.reason if target is not None else "there is no sorry at that position"
            self.message(lsp.MessageType.Warning, f"LLEMMA: {reason}")
            return {"status": "unsupported" if target is not None else "no-target", "reason": reason}
        try:
            suggestions = await suggest_steps(target, self.backends(doc.uri), self.config)
        except (UserError, ProverError, ProposerError) as exc:
            self.message(lsp.MessageType.Warning, f"LLEMMA: no suggestions for {target.label}: {exc}")
            return {"status": "error", "reason": str(exc)}
        stored = self._store_suggestions(doc.uri, target, entry.text, suggestions, "suggested")
        if stored:
            self.message(lsp.MessageType.Info, f"LLEMMA: {len(stored)} next step(s) for {target.label} that Lean "
                                               "accepts; they are in the code actions on the sorry: "
                                               + " | ".join(s.title.removeprefix("LLEMMA: ") for s in stored))
        else:
            self.message(lsp.MessageType.Info, f"LLEMMA: none of the model's steps for {target.label} is accepted")
        return {"status": "ok", "suggestions": [dict(s.suggestion.to_json(), id=s.id) for s in stored]}

    async def apply_steps(self, args: dict[str, Any]) -> dict[str, Any]:
        """Apply a stored suggestion: its steps replace the `sorry`, followed by a new `sorry` for the
        goals they leave; a step that closes the goal goes in only after the final check passes."""
        uri, key = args.get("uri"), args.get("id")
        stored = self._suggestions.get(uri, {}).get(key) if isinstance(uri, str) and isinstance(key, str) else None
        if stored is None:
            return {"status": "no-target", "reason": "that suggestion is gone"}
        current = self.workspace.get_text_document(uri)
        found = find_again(stored.target, stored.text, current.source, self._views.get(current.uri))
        if found is None:
            return {"status": "no-target", "reason": "its sorry is no longer in the document"}
        steps = stored.suggestion.steps
        if stored.suggestion.closes:
            checked = await recheck(found.target, steps, self.backends(uri))
            if not checked.proved or checked.edit is None:
                self.message(lsp.MessageType.Warning, f"LLEMMA: not inserted: {checked.reason}")
                return {"status": checked.status, "reason": checked.reason}
            edit = checked.edit
        else:
            edit = proof_edit(found.target, tuple(steps) + ("sorry",))
        text_edit = lsp.TextEdit(range=self._range(current, edit.start, edit.end), new_text=edit.new_text)
        workspace_edit = lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(
            text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=current.uri, version=current.version),
            edits=[text_edit])]) if self.supports_document_changes() else lsp.WorkspaceEdit(
            changes={current.uri: [text_edit]})
        answer = await self.workspace_apply_edit_async(
            lsp.ApplyWorkspaceEditParams(edit=workspace_edit, label="LLEMMA: next steps"))
        applied = bool(answer and answer.applied)
        if applied:
            self._suggestions.get(uri, {}).pop(key, None)
        return {"status": "ok", "applied": applied, "text": edit.new_text}

    async def _search_declaration(self, doc: TextDocument, text: str, target: Target, group: list[Target],
                                  job: Job) -> dict[str, Any]:
        """A sorry with siblings in its declaration: all of them are searched (each from its goal) and
        inserted together once the final check of the whole declaration passed."""
        try:
            outcomes = await prove_declaration(group, self.backends(doc.uri), self.config,
                                               progress=lambda done, budget: self._report(job, done, budget))
        except UserError as exc:
            self._end_progress(job, "failed")
            self.message(lsp.MessageType.Error, f"LLEMMA: {exc}")
            return {"status": "error", "reason": str(exc)}
        mine = next(o for o in outcomes if o.target.start == target.start)
        if not all(o.proved and o.edit is not None for o in outcomes):
            self._end_progress(job, "no proof")
            partial = [o for o in outcomes if o.partial]
            pieces = [f"line {o.target.line}: {' ; '.join(o.steps)}" for o in partial]
            found = f" Found pieces (the declaration keeps another sorry): {', '.join(pieces)}." if pieces else ""
            for o in outcomes:
                if not o.proved and not o.partial:
                    self.set_diagnostic(doc, o.target, f"LLEMMA found no proof ({o.status}): {o.reason}")
            result = {"status": mine.status, "reason": mine.reason,
                      "partial": [{"line": o.target.line, "steps": list(o.steps)} for o in partial]}
            if partial:
                # Kept, never applied unasked (as the CLI writes them only with --partial): a diagnostic on
                # the declaration whose quick fix takes the same path as a whole declaration's proofs.
                item = PendingProof(uuid.uuid4().hex, tuple(Piece(o.target, o.steps) for o in partial), text,
                                    "the others were not proved; a partial result goes in only on request",
                                    remaining=len(outcomes) - len(partial))
                self._keep_partial(doc.uri, item)
                found += f" {PARTIAL_CHECK}; the quick fix {_insert_title(item)} inserts them."
                result["pending"] = item.id
            self.message(lsp.MessageType.Warning,
                         f"LLEMMA: no proof for all {len(group)} sorrys of {target.name}: {mine.reason}.{found}")
            return result
        self._end_progress(job, "proof found")
        # The same path as one proof: re-anchored in the current text (checked again there when the
        # declaration or the text before it changed), applied as one edit, else kept pending.
        item = PendingProof(uuid.uuid4().hex, tuple(Piece(o.target, o.steps) for o in outcomes), text, "")
        log.info("proofs of %s: %s", target.name, item.proof_text)
        applied, why = await self._place(doc.uri, item)
        result: dict[str, Any] = {"status": "proved", "applied": applied,
                                  "proof": mine.edit.new_text if mine.edit else None, "steps": list(mine.steps),
                                  "proofs": [o.edit.new_text for o in outcomes if o.edit is not None]}
        if not applied:
            result["reason"] = why
        return result

    def _keep_partial(self, uri: str, item: PendingProof) -> None:
        """A partial result of a declaration, pending; it replaces an earlier partial result for the same
        declaration in the same text (a new search of it)."""
        per_doc = self._pending.setdefault(uri, {})
        for key in [k for k, v in per_doc.items() if v.partial and v.text == item.text
                    and v.target.declaration == item.target.declaration]:
            per_doc.pop(key)
        per_doc[item.id] = item
        self.publish(uri)

    async def _apply(self, doc: TextDocument, text: str, target: Target, outcome: TargetOutcome) -> dict[str, Any]:
        assert outcome.edit is not None
        result: dict[str, Any] = {"status": "proved", "proof": outcome.edit.new_text, "steps": list(outcome.steps)}
        item = PendingProof(uuid.uuid4().hex, (Piece(target, tuple(outcome.steps)),), text, "")
        applied, why = await self._place(doc.uri, item)
        result["applied"] = applied
        if not applied:
            result["reason"] = why
        return result

    async def insert_pending(self, args: dict[str, Any]) -> dict[str, Any]:
        """The quick fix of a pending proof: found again, checked again if needed, applied."""
        uri, key = args.get("uri"), args.get("id")
        item = self._pending.get(uri, {}).get(key) if isinstance(uri, str) and isinstance(key, str) else None
        if item is None:
            return {"status": "no-target", "reason": "that proof is no longer pending"}
        applied, why = await self._place(uri, item)
        return {"status": "partial" if item.partial else "proved", "applied": applied, "reason": why or None}

    async def _place(self, uri: str, item: PendingProof) -> tuple[bool, str]:
        """Put a checked proof where its target now stands (for a whole declaration: every piece at its
        `sorry`, in one edit), checking it again when the text the prover reads before it (or the
        declaration) changed. If it cannot be applied, it stays pending: a message with the proof, and a
        diagnostic (on the `sorry`, or on the declaration) with the quick fix to insert it.

        A partial result takes the same path; its check (when the text changed) is the one `prove
        --write --partial` writes with (`session.check_partial`), and its other sorrys must still be
        there."""
        proof_text = item.proof_text
        what = item.what
        current = self.workspace.get_text_document(uri)
        text_now = current.source
        found = [find_again(p.target, item.text, text_now, self._views.get(uri)) for p in item.pieces]
        if any(f is None for f in found):
            why = ("a sorry of the declaration, or the declaration, is no longer in the document"
                   if item.of_declaration else "its sorry or declaration is no longer in the document")
            self._pending.setdefault(uri, {})[item.id] = replace(item, why=why)
            self.message(lsp.MessageType.Warning,
                         f"LLEMMA: {what} found, but the sorry or the text before it changed "
                         f"meanwhile; not inserted. Proof: {proof_text}")
            self.publish(uri)
            return False, why
        targets = [f.target for f in found if f is not None]
        if all(f is not None and f.unchanged for f in found):
            edits = [proof_edit(t, p.steps) for t, p in zip(targets, item.pieces)]
        else:
            reason = ""
            try:
                if item.of_declaration:
                    checked = await recheck_declaration(targets, [p.steps for p in item.pieces], self.backends(uri),
                                                        remaining=item.remaining)
                else:
                    checked = [await recheck(targets[0], item.pieces[0].steps, self.backends(uri))]
            except UserError as exc:
                checked = []
                reason = str(exc)
            passed = [c.edit is not None and (c.partial if item.partial else c.proved) for c in checked]
            if not checked or not all(passed):
                reason = reason or next((c.reason for c, ok in zip(checked, passed) if not ok), "")
                why = f"the text changed and the proof does not check in it now: {reason}"
                self._pending.setdefault(uri, {})[item.id] = item.retargeted(targets, text_now, why)
                self.message(lsp.MessageType.Warning, f"LLEMMA: {what} not inserted ({why}). Proof: {proof_text}")
                self.publish(uri)
                return False, why
            edits = [c.edit for c in checked if c.edit is not None]
            current = self.workspace.get_text_document(uri)
            if current.source != text_now:  # changed again during the check: try once more later
                self._pending.setdefault(uri, {})[item.id] = item.retargeted(
                    targets, text_now, "the document changed during the check")
                self.publish(uri)
                return await self._place(uri, self._pending[uri][item.id])
        text_edits = [lsp.TextEdit(range=self._range(current, e.start, e.end), new_text=e.new_text) for e in edits]
        if self.supports_document_changes():
            workspace_edit = lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=current.uri, version=current.version),
                edits=text_edits)])
        else:
            workspace_edit = lsp.WorkspaceEdit(changes={current.uri: text_edits})
        label = (f"LLEMMA: proved sorrys of {item.target.name}" if item.partial
                 else f"LLEMMA: proofs of {item.target.name}" if item.of_declaration
                 else f"LLEMMA: proof of {item.target.name}")
        answer = await self.workspace_apply_edit_async(lsp.ApplyWorkspaceEditParams(edit=workspace_edit, label=label))
        if answer and answer.applied:
            self._pending.get(uri, {}).pop(item.id, None)
            per_doc = self._diagnostics.get(uri, {})
            for t in targets:
                per_doc.pop(t.start, None)
            self.publish(uri)
            return True, ""
        why = (answer.failure_reason if answer else None) or "the editor refused the edit"
        self._pending.setdefault(uri, {})[item.id] = item.retargeted(targets, text_now, why)
        self.message(lsp.MessageType.Warning, f"LLEMMA: {what} not inserted ({why}). Proof: {proof_text}")
        self.publish(uri)
        return False, why


# What a partial result's pieces are checked with (the CLI's `--partial`), said wherever they are offered.
PARTIAL_CHECK = ("Checked as `prove --write --partial` checks: Lean elaborates the declaration with them in place "
                 "and the other sorrys left open; the final check has not run, the declaration is not proved")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _remain(n: int) -> str:
    return "remains" if n == 1 else "remain"


def _insert_title(item: PendingProof) -> str:
    if item.partial:
        return (f"Insert the {_count(len(item.pieces), 'proved sorry')} of {item.target.name} "
                f"({item.remaining} {_remain(item.remaining)})")
    if item.of_declaration:
        return f"Insert LLEMMA proofs of {item.target.name} ({len(item.pieces)} sorrys)"
    return f"Insert LLEMMA proof of {item.target.name}"


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

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LlemmaServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LlemmaServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LlemmaServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls._docs.pop(uri, None)
        ls._unsupported.pop(uri, None)
        ls._diagnostics.pop(uri, None)  # pending proofs stay: they show again when the file is reopened
        ls._published.pop(uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

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

    @server.command(SUGGEST_COMMAND)
    async def suggest(ls: LlemmaServer, *args: Any) -> dict[str, Any]:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise ValueError("llemma.suggest expects one argument {uri, line, character}")
        return await ls.suggest(args[0])

    @server.command(APPLY_STEPS_COMMAND)
    async def apply_steps(ls: LlemmaServer, *args: Any) -> dict[str, Any]:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise ValueError("llemma.applySteps expects one argument {uri, id}")
        return await ls.apply_steps(args[0])

    @server.command(INSERT_COMMAND)
    async def insert_proof(ls: LlemmaServer, *args: Any) -> dict[str, Any]:
        if len(args) != 1 or not isinstance(args[0], dict):
            raise ValueError("llemma.insertProof expects one argument {uri, id}")
        return await ls.insert_pending(args[0])

    return server


def serve() -> None:
    """Run the server on stdin/stdout until the client says `exit`."""
    build_server().start_io()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    serve()
