"""`llemma-prove prove FILE`: find the targets, prove them in file order, report, optionally write back.

Targets are proved one after another in file order. A proof found for an earlier target becomes part
of the text the later targets are read from, so a lemma proved first is a proved lemma (not a
`sorry`) in the preamble of a theorem that uses it. With `--write` every checked proof is written
into the file at once at the end, atomically, and only if the file is unchanged since it was read.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..types import Language
from .backends import Backends, EditorConfig, load_backends
from .session import UNSUPPORTED, ProgressCallback, TargetOutcome, prove_target
from .targets import Target, apply_edits, language_for, locate, render_steps, select_targets
from .writeback import read_source, unified_diff, write_atomically

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

    @property
    def all_proved(self) -> bool:
        return bool(self.outcomes) and all(o.proved for o in self.outcomes)

    @property
    def proved(self) -> list[TargetOutcome]:
        return [o for o in self.outcomes if o.proved]

    def diff(self) -> str:
        return unified_diff(self.original, self.new_text, self.path)

    def to_json(self, with_diff: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file": str(self.path),
            "language": self.language.value,
            "results": [o.to_json() for o in self.outcomes],
            "proved": len(self.proved),
            "targets": len(self.outcomes),
            "written": self.written,
            "time_s": round(self.elapsed_s, 3),
        }
        if with_diff:
            data["diff"] = self.diff()
        return data


StartCallback = Callable[[Target], None]


async def prove_file(
    path: str | Path,
    config: EditorConfig,
    *,
    theorem: str | None = None,
    line: int | None = None,
    write: bool = False,
    backends: Backends | None = None,
    on_start: StartCallback | None = None,
    progress: ProgressCallback | None = None,
) -> FileReport:
    """Prove the selected targets of one file. User mistakes raise `UserError` subclasses before any
    prover or model is started; a target that cannot be searched ends as "unsupported" (or, when it
    is the only one asked for by name or line, as an `UnsupportedTarget` error)."""
    started = time.monotonic()
    snapshot = read_source(path)
    language = language_for(snapshot.path)
    located = locate(snapshot.text, language)
    selected = select_targets(located, theorem=theorem, line=line, source=str(snapshot.path))
    if (theorem is not None or line is not None) and not any(t.supported for t in selected):
        selected[0].require_supported()
    report = FileReport(snapshot.path, language, snapshot.text, new_text=snapshot.text)
    own_backends = backends is None
    backends = backends or load_backends(config)
    try:
        shift = 0  # how far the found proofs so far moved the later targets
        for original in sorted(selected, key=lambda t: t.start):
            target = original
            if shift:
                current = locate(report.new_text, language).target_at(original.start + shift)
                target = current if current is not None else original
            if not target.supported:
                report.outcomes.append(TargetOutcome(target, UNSUPPORTED, reason=target.reason))
                continue
            if on_start is not None:
                on_start(target)
            outcome = await prove_target(target, backends, config, progress)
            report.outcomes.append(outcome)
            if outcome.edit is not None:
                edit = outcome.edit
                report.new_text = apply_edits(report.new_text, [edit])
                shift += len(edit.new_text) - (edit.end - edit.start)
    finally:
        if own_backends:
            await backends.close()
    if write and report.proved:
        write_atomically(snapshot, report.new_text)
        report.written = True
    report.elapsed_s = time.monotonic() - started
    return report


def _comment(language: Language, text: str) -> str:
    return f"-- {text}" if language is Language.LEAN4 else f"(* {text} *)"


def format_proofs(report: FileReport) -> str:
    """The proofs for stdout: just the proof for one target, each under a comment line for several."""
    many = len(report.outcomes) > 1
    chunks = []
    for outcome in report.proved:
        body = render_steps(outcome.steps, "", "\n")
        if many:
            body = _comment(report.language, outcome.target.label) + "\n" + body
        chunks.append(body)
    return "\n\n".join(chunks) + ("\n" if chunks else "")


def format_failures(report: FileReport) -> list[str]:
    lines = []
    for outcome in report.outcomes:
        if outcome.proved:
            continue
        status = "cannot be searched" if outcome.status == UNSUPPORTED else f"not proved ({outcome.status})"
        lines.append(f"{outcome.target.label}: {status}: {outcome.reason}")
    return lines


def report_json(report: FileReport, with_diff: bool) -> str:
    return json.dumps(report.to_json(with_diff=with_diff), ensure_ascii=False, indent=2)


def selected_targets(path: str | Path, theorem: str | None = None, line: int | None = None) -> Sequence[Target]:
    """The targets `prove` would work on (no prover, no model): for tools that list them first."""
    snapshot = read_source(path)
    located = locate(snapshot.text, language_for(snapshot.path))
    return select_targets(located, theorem=theorem, line=line, source=str(snapshot.path))


__all__ = ["FileReport", "format_failures", "format_proofs", "prove_file", "report_json", "selected_targets"]
