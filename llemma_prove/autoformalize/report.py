"""Summary of an autoformalization run: rates overall, per split and per miniF2F family.

Rates are over finished problems. Statement mode reports, per problem: the first candidate well
formed, any candidate well formed, any exact (normalised) match and any candidate proved equivalent to
the reference; plus the share of all candidates that are well formed. DSP reports problems proved (the
assembled proof accepted by the final check) and how the holes were closed.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from ..types import FAMILIES
from .config import AutoformalizeConfig, Mode
from .store import ProblemRecord

PAPER_NOTE = (
    "Published reference (LLEMMA paper, Isabelle informal-to-formal on miniF2F, one greedy sketch, holes "
    "closed by Sledgehammer with the DSP heuristics), valid/test: Llemma-7b 20.6%/22.1%, Llemma-34b "
    "21.0%/21.3%; DSP with human informal proofs 42.6%/39.3%. Only comparable with the same statements, "
    "prompt and model."
)


def _pct(num: int, den: int) -> str:
    return "-" if den == 0 else f"{100 * num / den:.1f}% ({num}/{den})"


def _statement_flags(record: ProblemRecord) -> dict[str, bool | None]:
    data = record.statement or {}
    return {
        "well_formed_first": bool(data.get("well_formed_first")),
        "well_formed_any": bool(data.get("well_formed_any")),
        "exact_any": data.get("exact_any"),
        "equivalent_any": data.get("equivalent_any"),
    }


STATEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("well_formed_first", "well-formed@1"),
    ("well_formed_any", "well-formed (any)"),
    ("exact_any", "exact match"),
    ("equivalent_any", "proved equivalent"),
)


def _statement_row(records: Sequence[ProblemRecord]) -> dict[str, Any]:
    row: dict[str, Any] = {"problems": len(records)}
    flags = [_statement_flags(r) for r in records]
    for key, _ in STATEMENT_COLUMNS:
        known = [f[key] for f in flags if f[key] is not None]
        row[key] = {"count": sum(bool(v) for v in known), "of": len(known)}
    cands = [c for r in records for c in (r.statement or {}).get("candidates", [])]
    row["candidates"] = {"count": sum(bool(c.get("well_formed")) for c in cands), "of": len(cands)}
    return row


def _dsp_row(records: Sequence[ProblemRecord]) -> dict[str, Any]:
    proved = sum(r.verdict == "proved" for r in records)
    holes_total = holes_closed = 0
    for r in records:
        for sketch in (r.dsp or {}).get("sketches", []):
            holes_total += sketch.get("holes_total", 0)
            holes_closed += sketch.get("holes_closed", 0)
    return {
        "problems": len(records),
        "proved": {"count": proved, "of": len(records)},
        "holes": {"count": holes_closed, "of": holes_total},
    }


def _groups(records: Sequence[ProblemRecord], key: Callable[[ProblemRecord], str], order: Iterable[str] = ()) -> dict[str, list[ProblemRecord]]:
    out: dict[str, list[ProblemRecord]] = {k: [] for k in order}
    for r in records:
        out.setdefault(key(r), []).append(r)
    return {k: v for k, v in out.items() if v}


def hole_methods(records: Sequence[ProblemRecord]) -> dict[str, int]:
    """How many holes each method closed (`tactic:norm_num`, `hammer`, `search`) and how many stayed open."""
    counts: Counter[str] = Counter()
    for r in records:
        for sketch in (r.dsp or {}).get("sketches", []):
            for hole in sketch.get("holes", []):
                if not hole.get("closed"):
                    counts["open"] += 1
                elif hole.get("method") == "tactic":
                    counts[f"tactic: {hole['steps'][0]}"] += 1
                else:
                    counts[str(hole.get("method"))] += 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def summarise(config: AutoformalizeConfig, records: Sequence[ProblemRecord], total: int | None = None,
              excluded: Sequence[dict[str, str]] = (), extra: dict[str, Any] | None = None) -> dict[str, Any]:
    row = _statement_row if config.mode is Mode.STATEMENT else _dsp_row
    finished = [r for r in records if r.verdict != "error"]
    summary: dict[str, Any] = {
        "settings": config.to_json(),
        "run": extra or {},
        "finished": len(records),
        "total": total if total is not None else len(records),
        "errors": [{"name": r.name, "error": r.error} for r in records if r.verdict == "error"],
        "excluded": list(excluded),
        "overall": row(finished),
        "by_split": {k: row(v) for k, v in _groups(finished, lambda r: r.split or "-").items()},
        "by_family": {k: row(v) for k, v in _groups(finished, lambda r: r.family, FAMILIES).items()},
        "verdicts": dict(Counter(r.verdict for r in records)),
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if config.mode is Mode.DSP:
        summary["hole_methods"] = hole_methods(finished)
    return summary


def _cell(value: dict[str, int]) -> str:
    return _pct(value["count"], value["of"])


def to_markdown(summary: dict[str, Any]) -> str:
    settings = summary["settings"]
    mode = settings["mode"]
    lines = [
        f"# Autoformalization run: {settings['target']}, {mode} mode",
        "",
        f"Finished {summary['finished']} of {summary['total']} problems"
        + (f"; {len(summary['errors'])} ended in an error" if summary["errors"] else "")
        + ".",
        "",
    ]
    if mode == Mode.STATEMENT.value:
        head = ["group", "problems"] + [label for _, label in STATEMENT_COLUMNS] + ["candidates well-formed"]
        keys = [k for k, _ in STATEMENT_COLUMNS] + ["candidates"]
        lines.append(f"Candidates per problem: {settings['candidates']}; equivalence attempts: "
                     f"{'on' if settings['check_equivalence'] else 'off'}.")
    else:
        head = ["group", "problems", "proved", "holes closed"]
        keys = ["proved", "holes"]
        lines.append(f"Sketches per problem: {settings['sketches']}"
                     + (" (greedy, the paper's setting)." if settings["sketches"] == 1 else " (sampled)."))
    lines.append("")

    def table(title: str, rows: dict[str, dict[str, Any]]) -> None:
        lines.extend([f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)])
        for name, row in rows.items():
            lines.append("| " + " | ".join([name, str(row["problems"])] + [_cell(row[k]) for k in keys]) + " |")
        lines.append("")

    table("Overall", {"all": summary["overall"]})
    table("By split", summary["by_split"])
    table("By family", summary["by_family"])
    if mode == Mode.DSP.value and summary.get("hole_methods"):
        lines.extend(["## How holes were closed", "", "| method | holes |", "|---|---|"])
        lines.extend(f"| {k} | {v} |" for k, v in summary["hole_methods"].items())
        lines.append("")
    if summary["excluded"]:
        lines.append("Excluded because the few-shot prompt contains them: "
                     + ", ".join(e["name"] for e in summary["excluded"]) + ".")
        lines.append("")
    if summary["errors"]:
        lines.extend(["## Errors", ""])
        lines.extend(f"- {e['name']}: {e['error']}" for e in summary["errors"][:50])
        lines.append("")
    if mode == Mode.DSP.value and settings["target"] == "isabelle" and settings["sketches"] == 1:
        lines.extend([PAPER_NOTE, ""])
    return "\n".join(lines)
