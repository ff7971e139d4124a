"""Summary of an autoformalization run: rates overall, per split and per miniF2F family.

Every attempted problem is in every denominator: a problem that ended in an error counts as a
failure in each rate and has a column of its own (run it again with `--retry-errors`).

Statement mode reports the typecheck rate (first candidate, any candidate: the statement elaborates
in the prover's statement check) and the BEq rate (a candidate exact up to names and spacing, or
proved equivalent in both directions with each direction using the other statement; BEq is Liu et
al., ICLR 2025), with the counts behind them: exact, proved equivalent, not equivalent, could not
decide (a crash or time limit). The BEq columns count problems that have a reference statement.

DSP reports problems proved (the final check accepted a proof of the reference statement, or of a
statement proved equivalent to it, resting on no oracle), and in columns of their own those proved
only for a statement not shown equivalent to the reference, and those proved only with an oracle.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from ..types import FAMILIES
from .config import AutoformalizeConfig, Mode
from .store import ProblemRecord

BEQ_NOTE = (
    "BEq: bidirectional extended definitional equivalence (Liu et al., \"Rethinking and improving "
    "autoformalization: towards a faithful metric and a dependency retrieval-based approach\", ICLR 2025). "
    "Here each direction must be proved by the configured tactics within the time limit, and a direction "
    "whose target the same tactics prove with its hypothesis replaced by True does not count. A lower "
    "bound: a failed proof is \"not equivalent\" only for these tactics."
)
PUBLISHED_NOTES = (
    "Published numbers (miniF2F, Isabelle, valid/test), and what each was:",
    "- LLEMMA (Azerbayev et al. 2023): Llemma-7b 20.6%/22.1%, Llemma-34b 21.0%/21.3%. One greedy proof per "
    "problem, given the human informal statement and proof (DSP's) and the formal statement; a fixed prompt "
    "of 6 or 7 examples chosen by whether the statement contains \"numbertheory\"; generation stopped at "
    "three newlines; `sledgehammer` and `sorry` replaced by DSP's heuristics (`by eval` among them) then "
    "Sledgehammer; one fixed theory header (HOL-Library.Sum_of_Squares, Symmetric_Polynomials.Vieta, ...); "
    "checked with PISA on Isabelle2022 (wellecks/lm-evaluation-harness@b62c9d0, lm_eval/tasks/minif2f_isabelle.py "
    "and unsafe_score_minif2f_isabelle.py). "
    "Reproduced by `--paper llemma`.",
    "- Draft, Sketch, Prove (Jiang et al., ICLR 2023): 42.6%/39.3% with human informal proofs. Codex "
    "(code-davinci-002), 100 attempts per problem, each prompt 3 examples drawn at random from the "
    "problem's category (seed 213, theorem names stripped), the same heuristics then Sledgehammer "
    "(albertqjiang/draft_sketch_prove). Its sampling is reproduced by `--paper dsp`; its model is not.",
    "Each is comparable with this run only with the same statements, prompt, informal proofs, number of "
    "attempts and checker.",
)


def _pct(num: int, den: int) -> str:
    return "-" if den == 0 else f"{100 * num / den:.1f}% ({num}/{den})"


STATEMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("well_formed_first", "typecheck@1"),
    ("well_formed_any", "typecheck (any)"),
    ("exact_any", "exact"),
    ("equivalent_any", "BEq"),
    ("not_equivalent", "not equivalent"),
    ("undecided", "could not decide"),
    ("errors", "errors"),
)
DSP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("proved", "proved"),
    ("unverified", "proved, statement unverified"),
    ("oracle", "proved with an oracle"),
    ("not_proved", "not proved"),
    ("errors", "errors"),
    ("holes", "holes closed"),
)


def _count(records: Sequence[ProblemRecord], test: Callable[[ProblemRecord], bool]) -> dict[str, int]:
    return {"count": sum(1 for r in records if test(r)), "of": len(records)}


def _statement_row(records: Sequence[ProblemRecord]) -> dict[str, Any]:
    def flag(key: str) -> Callable[[ProblemRecord], bool]:
        return lambda r: bool((r.statement or {}).get(key))

    with_ref = [r for r in records if r.has_reference]
    row: dict[str, Any] = {"problems": len(records)}
    row["well_formed_first"] = _count(records, flag("well_formed_first"))
    row["well_formed_any"] = _count(records, flag("well_formed_any"))
    row["exact_any"] = _count(with_ref, flag("exact_any"))
    row["equivalent_any"] = _count(with_ref, lambda r: r.verdict == "equivalent")
    row["not_equivalent"] = _count(with_ref, lambda r: r.verdict == "not-equivalent")
    row["undecided"] = _count(with_ref, lambda r: r.verdict == "could-not-decide")
    row["errors"] = _count(records, lambda r: r.is_error)
    cands = [c for r in records for c in (r.statement or {}).get("candidates", [])]
    row["candidates"] = {"count": sum(bool(c.get("well_formed")) for c in cands), "of": len(cands)}
    # how the equivalence directions ended (proved, target-alone, not-proved, could-not-decide)
    row["directions"] = dict(Counter(d["status"] for c in cands for d in (c.get("forward"), c.get("backward")) if d))
    return row


def _dsp_row(records: Sequence[ProblemRecord]) -> dict[str, Any]:
    holes_total = holes_closed = 0
    for r in records:
        for sketch in (r.dsp or {}).get("sketches", []):
            holes_total += sketch.get("holes_total", 0)
            holes_closed += sketch.get("holes_closed", 0)
    return {
        "problems": len(records),
        "proved": _count(records, lambda r: r.verdict == "proved"),
        "unverified": _count(records, lambda r: r.verdict == "proved-statement-unverified"),
        "oracle": _count(records, lambda r: r.verdict == "proved-with-oracle"),
        "not_proved": _count(records, lambda r: r.verdict == "not-proved"),
        "errors": _count(records, lambda r: r.is_error),
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
    """Rates over every attempted problem (errors included, as failures with a column of their own)."""
    row = _statement_row if config.mode is Mode.STATEMENT else _dsp_row
    summary: dict[str, Any] = {
        "settings": config.to_json(),
        "run": extra or {},
        "attempted": len(records),
        "finished": sum(1 for r in records if not r.is_error),
        "total": total if total is not None else len(records),
        "errors": [{"name": r.name, "error": r.error} for r in records if r.is_error],
        "excluded": list(excluded),
        "overall": row(records),
        "by_split": {k: row(v) for k, v in _groups(records, lambda r: r.split or "-").items()},
        "by_family": {k: row(v) for k, v in _groups(records, lambda r: r.family, FAMILIES).items()},
        "verdicts": dict(Counter(r.verdict for r in records)),
        "models": sorted({r.model for r in records}),
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if config.mode is Mode.DSP:
        summary["hole_methods"] = hole_methods(records)
    return summary


def _cell(value: dict[str, int]) -> str:
    return _pct(value["count"], value["of"])


def run_note(settings: dict[str, Any]) -> str:
    """What this run was, in the terms the published numbers are described in."""
    paper = settings.get("paper", "none")
    attempts = settings["sketches"] if settings["mode"] == Mode.DSP.value else settings["candidates"]
    what = "sketches" if settings["mode"] == Mode.DSP.value else "statement candidates"
    decoding = "greedy" if attempts == 1 else f"sampled at temperature {settings['temperature']:g}"
    proofs = ("drafted by the model" if settings.get("always_draft")
              else "as given in the input (drafted by the model where none is given)")
    mode = {"none": "the project's own setting", "llemma": "LLEMMA's setting (--paper llemma)",
            "dsp": "DSP's prompt sampling (--paper dsp)"}.get(paper, paper)
    return (f"This run: model {settings.get('model') or '?'}, {attempts} {what} per problem ({decoding}), "
            f"informal proofs {proofs}, {mode}; prompt sha256 {str(settings.get('prompt_sha256'))[:12]}; "
            f"oracle proofs {'counted apart' if settings.get('allow_oracles') else 'rejected'}.")


def to_markdown(summary: dict[str, Any]) -> str:
    settings = summary["settings"]
    mode = settings["mode"]
    errors = summary["errors"]
    lines = [
        f"# Autoformalization run: {settings['target']}, {mode} mode",
        "",
        f"Attempted {summary['attempted']} of {summary['total']} problems"
        + (f"; {len(errors)} ended in an error (counted as failures; run again with --retry-errors)" if errors else "")
        + ".",
        "",
        run_note(settings),
        "",
    ]
    if mode == Mode.STATEMENT.value:
        columns = STATEMENT_COLUMNS + (("candidates", "candidates typecheck"),)
        lines.append(f"Candidates per problem: {settings['candidates']}; equivalence attempts: "
                     f"{'on' if settings['check_equivalence'] else 'off'}. Typecheck: the statement elaborates. "
                     "BEq columns: problems with a reference statement.")
        lines.extend(["", BEQ_NOTE])
    else:
        columns = DSP_COLUMNS
        lines.append(f"Sketches per problem: {settings['sketches']}"
                     + (" (greedy)." if settings["sketches"] == 1 else " (sampled)."))
    lines.append("")
    head = ["group", "problems"] + [label for _, label in columns]
    keys = [k for k, _ in columns]

    def table(title: str, rows: dict[str, dict[str, Any]]) -> None:
        lines.extend([f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)])
        for name, row in rows.items():
            lines.append("| " + " | ".join([name, str(row["problems"])] + [_cell(row[k]) for k in keys]) + " |")
        lines.append("")

    table("Overall", {"all": summary["overall"]})
    table("By split", summary["by_split"])
    table("By family", summary["by_family"])
    directions = summary["overall"].get("directions")
    if directions:
        lines.append("Equivalence directions: " + ", ".join(f"{k} {v}" for k, v in sorted(directions.items()))
                     + " (target-alone: the target holds without the other statement, so it does not count).")
        lines.append("")
    if mode == Mode.DSP.value and summary.get("hole_methods"):
        lines.extend(["## How holes were closed", "", "| method | holes |", "|---|---|"])
        lines.extend(f"| {k} | {v} |" for k, v in summary["hole_methods"].items())
        lines.append("")
    if summary["excluded"]:
        lines.append("Excluded because the few-shot prompt contains them: "
                     + ", ".join(e["name"] for e in summary["excluded"]) + ".")
        lines.append("")
    if errors:
        lines.extend(["## Errors", ""])
        lines.extend(f"- {e['name']}: {e['error']}" for e in errors[:50])
        lines.append("")
    if mode == Mode.DSP.value and settings["target"] == "isabelle":
        lines.extend([*PUBLISHED_NOTES, ""])
    return "\n".join(lines)
