"""`llemma-prove prove FILE`: find the targets, prove them in file order, report, optionally write back.

Targets are proved one after another in file order. A proof found for an earlier target becomes part
of the text the later targets are read from, so a lemma proved first is a proved lemma (not a
`sorry`) in the preamble of a theorem that uses it. With `--write` every checked proof is written
into the file at once at the end, atomically, and only if the file is unchanged since it was read
(or changed only outside the proved declarations and in nothing the prover reads before them: then
the proofs are moved to where those declarations now stand).

No found proof is lost: `on_found` is called the moment a proof passed the final check, the report
is handed out (`on_report`) before the first search starts, so a caller still has every proof found
so far after an interrupt, and a refused write is recorded in the report instead of raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import UserError
from ..types import Language
from .backends import Backends, EditorConfig, load_backends
from .session import UNSUPPORTED, ProgressCallback, TargetOutcome, prove_declaration, prove_target
from .errors import FileChanged, ReadOnlySource
from .project import ProjectChoice, choose_project
from .reanchor import reanchor
from .targets import HoleKind, Target, TextEdit, apply_edits, language_for, locate, render_steps, select_targets
from .writeback import check_writable, read_source, unified_diff, write_atomically

log = logging.getLogger(__name__)


@dataclass
class FileReport:
    """Every target's outcome, the text with all found proofs in place, and whether it was written."""

    path: Path
    language: Language
    original: str
    outcomes: list[TargetOutcome] = field(default_factory=list)
    new_text: str = ""
    written: bool = False
    elapsed_s: float = 0.0
    write_error: str = ""  # why the proofs were not written (file changed, read-only)
    interrupted: bool = False
    selected: int = 0  # how many targets were selected
    project: ProjectChoice | None = None  # Lean: the Lake project searched in, and why

    @property
    def all_proved(self) -> bool:
        return bool(self.outcomes) and all(o.proved for o in self.outcomes)

    @property
    def proved(self) -> list[TargetOutcome]:
        return [o for o in self.outcomes if o.proved]

    @property
    def partial(self) -> list[TargetOutcome]:
        """Pieces found for declarations whose other sorrys were not all found (see `session.PARTIAL`)."""
        return [o for o in self.outcomes if o.partial]

    def partial_text(self) -> str:
        """`new_text` plus the partial pieces (each lies before every later edit, so its offsets hold)."""
        edits = [o.edit for o in self.partial if o.edit is not None]
        return apply_edits(self.new_text, edits) if edits else self.new_text

    def diff(self) -> str:
        return unified_diff(self.original, self.new_text, self.path)

    def to_json(self, with_diff: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file": str(self.path),
            "language": self.language.value,
            "results": [o.to_json() for o in self.outcomes],
            "proved": len(self.proved),
            "partial": len(self.partial),
            "targets": len(self.outcomes),
            "written": self.written,
            "time_s": round(self.elapsed_s, 3),
        }
        if self.write_error:
            data["write_error"] = self.write_error
        if self.interrupted:
            data["interrupted"] = True
        if self.project is not None:
            data["lean_project"] = str(self.project.directory) if self.project.directory else None
            if self.project.advice:
                data["lean_project_advice"] = self.project.advice
        if with_diff:
            data["diff"] = self.diff()
        return data


StartCallback = Callable[[Target], None]
FoundCallback = Callable[[TargetOutcome], None]
ReportCallback = Callable[[FileReport], None]


async def prove_file(
    path: str | Path,
    config: EditorConfig,
    *,
    theorem: str | None = None,
    line: int | None = None,
    write: bool = False,
    partial: bool = False,
    backends: Backends | None = None,
    on_start: StartCallback | None = None,
    progress: ProgressCallback | None = None,
    on_found: FoundCallback | None = None,
    on_report: ReportCallback | None = None,
) -> FileReport:
    """Prove the selected targets of one file. User mistakes raise `UserError` subclasses before any
    prover or model is started; a target that cannot be searched ends as "unsupported" (or, when it
    is the only one asked for by name or line, as an `UnsupportedTarget` error). On cancellation the
    report (given to `on_report` at the start) holds every proof found so far, `interrupted` set."""
    started = time.monotonic()
    if write:
        check_writable(path)
    snapshot = read_source(path)
    language = language_for(snapshot.path)
    located = locate(snapshot.text, language)
    selected = select_targets(located, theorem=theorem, line=line, source=str(snapshot.path))
    if (theorem is not None or line is not None) and not any(t.supported for t in selected):
        selected[0].require_supported()
    # The sorrys of one declaration are searched together (the final check needs every one filled).
    chosen = {t.start for t in selected}
    for t in located.targets:
        if t.kind is HoleKind.NESTED and t.holes > 1 and any(
                s.declaration == t.declaration and s.start in chosen for s in selected):
            chosen.add(t.start)
    selected = [t for t in located.targets if t.start in chosen]
    report = FileReport(snapshot.path, language, snapshot.text, new_text=snapshot.text, selected=len(selected))
    if language is Language.LEAN4:
        report.project = choose_project(snapshot.path, config)
        config = replace(config, lean_project=report.project.directory)
    if on_report is not None:
        on_report(report)
    own_backends = backends is None
    backends = backends or load_backends(config)
    try:
        shift = 0  # how far the found proofs so far moved the later targets
        done: set[int] = set()
        for original in sorted(selected, key=lambda t: t.start):
            if original.start in done:
                continue
            target = original
            if shift:
                current = locate(report.new_text, language).target_at(original.start + shift)
                target = current if current is not None else original
            if not target.supported:
                report.outcomes.append(TargetOutcome(target, UNSUPPORTED, reason=target.reason, origin=original))
                continue
            if target.kind is HoleKind.NESTED and target.holes > 1:
                group = [o for o in selected if o.declaration == original.declaration]
                done.update(o.start for o in group)
                if on_start is not None:
                    on_start(original)
                current_targets = [t for t in locate(report.new_text, language).targets
                                   if t.declaration == target.declaration]
                outcomes = await prove_declaration(current_targets, backends, config, progress)
                origin = {o.start + shift: o for o in group}
                outcomes = [replace(o, origin=origin.get(o.target.start, o.target)) for o in outcomes]
            else:
                if on_start is not None:
                    on_start(original)
                outcomes = [replace(await prove_target(target, backends, config, progress), origin=original)]
            report.outcomes.extend(outcomes)
            edits = [o.edit for o in outcomes if o.proved and o.edit is not None]
            if edits:
                report.new_text = apply_edits(report.new_text, edits)
                shift += sum(len(e.new_text) - (e.end - e.start) for e in edits)
            for outcome in outcomes:
                if (outcome.proved or outcome.partial) and on_found is not None:
                    on_found(outcome)
    except asyncio.CancelledError:
        report.interrupted = True
        report.elapsed_s = time.monotonic() - started
        raise
    finally:
        if own_backends:
            await backends.close()
    if write and (report.proved or (partial and report.partial)):
        _write(report, snapshot, partial)
    report.elapsed_s = time.monotonic() - started
    return report


def _original_edits(report: FileReport, partial: bool) -> list[tuple[TargetOutcome, TextEdit]]:
    """Each proof's edit in the coordinates of the text that was read: its offset from its `sorry`
    is the same in every version of the text, and `origin` is that `sorry` as read."""
    out = []
    for outcome in report.outcomes:
        edit = outcome.edit
        if edit is None or not (outcome.proved or (partial and outcome.partial)):
            continue
        target, origin = outcome.target, outcome.origin or outcome.target
        out.append((outcome, TextEdit(origin.start + edit.start - target.start, origin.end + edit.end - target.end,
                                      edit.new_text)))
    return out


def _write(report: FileReport, snapshot: Any, partial: bool = False) -> None:
    """Write the proofs; when the file changed meanwhile, move them to where their declarations now
    stand if the prover reads those declarations and everything before them exactly as it did (else
    nothing is written and the proofs stay in the report)."""
    try:
        write_atomically(snapshot, report.partial_text() if partial else report.new_text)
        report.written = True
        return
    except ReadOnlySource as exc:
        report.write_error = str(exc)
        return
    except FileChanged as exc:
        first_error = str(exc)
    try:
        current = read_source(snapshot.path)
    except UserError as exc:
        report.write_error = f"{first_error} ({exc})"
        return
    moved = []
    for outcome, edit in _original_edits(report, partial):
        target = outcome.origin or outcome.target
        new_edit = reanchor(edit, target, report.original, current.text, same_context_only=True)
        if new_edit is None:
            report.write_error = (f"{first_error}: {outcome.label} or the text before it changed, so its proof "
                                  "was checked in a different context")
            return
        moved.append(new_edit)
    try:
        write_atomically(current, apply_edits(current.text, moved))
        report.written = True
    except (FileChanged, ReadOnlySource) as exc:
        report.write_error = str(exc)


def _comment(language: Language, text: str) -> str:
    return f"-- {text}" if language is Language.LEAN4 else f"(* {text} *)"


def format_proof(language: Language, outcome: TargetOutcome, labelled: bool) -> str:
    """One proof for stdout, under a comment line naming its target when several are printed."""
    body = render_steps(outcome.steps, "", "\n")
    if outcome.partial:
        body = _comment(language, outcome.label + " (partial: the declaration keeps another sorry)") + "\n" + body
    elif labelled:
        body = _comment(language, outcome.label) + "\n" + body
    return body


def format_proofs(report: FileReport) -> str:
    """The proofs for stdout: just the proof for one target, each under a comment line for several."""
    many = len(report.outcomes) > 1
    chunks = [format_proof(report.language, outcome, many) for outcome in report.proved]
    return "\n\n".join(chunks) + ("\n" if chunks else "")


def format_failures(report: FileReport) -> list[str]:
    lines = []
    for outcome in report.outcomes:
        if outcome.proved:
            continue
        if outcome.partial:
            lines.append(f"{outcome.label}: partial: {outcome.reason} (--partial writes it)")
            continue
        status = "cannot be searched" if outcome.status == UNSUPPORTED else f"not proved ({outcome.status})"
        lines.append(f"{outcome.label}: {status}: {outcome.reason}")
        if outcome.best_path is not None:
            goals = " ".join(outcome.best_path.goals.split())
            lines.append(f"  best partial path: {' ; '.join(outcome.best_path.steps)} (leaves: {goals[:200]})")
    return lines


def report_json(report: FileReport, with_diff: bool) -> str:
    return json.dumps(report.to_json(with_diff=with_diff), ensure_ascii=False, indent=2)


def selected_targets(path: str | Path, theorem: str | None = None, line: int | None = None) -> Sequence[Target]:
    """The targets `prove` would work on (no prover, no model): for tools that list them first."""
    snapshot = read_source(path)
    located = locate(snapshot.text, language_for(snapshot.path))
    return select_targets(located, theorem=theorem, line=line, source=str(snapshot.path))


__all__ = ["FileReport", "format_failures", "format_proof", "format_proofs", "prove_file", "report_json", "selected_targets"]
