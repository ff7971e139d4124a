"""No leakage: the split a model is evaluated on can never have been its training data.

Two places enforce it:
- building a dataset refuses runs of the held-out split (default `test`: the miniF2F test split is never
  training data for a test evaluation);
- evaluation (`minif2f --model DIR`) reads the training record `train` writes into every model directory
  (`TRAINING_FILE`, with the statement sets, splits and theorem names of all the data behind the model,
  its base model's included) and refuses the model when that data overlaps the evaluated statements.

Overlap means any of: a trained theorem name among the evaluated ones (miniF2F names identify the problem
in every formalisation); the same split of any two miniF2F statement sets (they formalise the same
problems); the same statement file (equal sha256) and split. Names are compared, not statement texts: a
user set that restates a miniF2F problem under another name is not caught (docs/learning.md says so).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import UserError

DEFAULT_HOLDOUT = "test"
TRAINING_FILE = "llemma_prove_training.json"
TRAINING_FORMAT = "llemma-prove-training/1"
ISABELLE_MINIF2F_SET = "isabelle"


class LeakageError(UserError):
    """Training data and evaluation statements overlap."""


def minif2f_sets() -> set[str]:
    from ..data.minif2f import STATEMENT_SETS

    return set(STATEMENT_SETS) | {ISABELLE_MINIF2F_SET}


def refuse_holdout_run(config: Any, run_dir: Path, holdout: str = DEFAULT_HOLDOUT) -> None:
    """A run of the held-out split cannot give training examples."""
    if holdout and config.split == holdout:
        raise LeakageError(
            f"{run_dir} searched the {holdout} split: its theorems can never be training data for a {holdout} "
            f"evaluation; build training data from other splits (e.g. valid) or your own statements"
        )


def refuse_holdout_split(split: str, holdout: str = DEFAULT_HOLDOUT) -> None:
    if holdout and split == holdout:
        raise LeakageError(
            f"--split {split}: the {holdout} split can never be training data for a {holdout} evaluation; "
            f"train on valid or on your own statements (--data FILE)"
        )


def read_training_record(model_dir: Path) -> dict[str, Any] | None:
    """The training record of a model directory; None when it has none (not trained by llemma-prove)."""
    path = Path(model_dir) / TRAINING_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LeakageError(f"{path} is unreadable ({exc}); cannot tell what the model was trained on") from None
    if not isinstance(data, dict) or data.get("format") != TRAINING_FORMAT or not isinstance(data.get("sources"), list):
        raise LeakageError(f"{path} is not a {TRAINING_FORMAT} record; cannot tell what the model was trained on")
    return data


def training_sources(model: str | Path) -> list[Mapping[str, Any]]:
    """Every data source recorded for a model (its base models' included); [] for a model id or a
    directory without a record."""
    path = Path(model)
    if not path.is_dir():
        return []
    record = read_training_record(path)
    return list(record["sources"]) if record else []


def overlap(
    sources: Iterable[Mapping[str, Any]], split: str, statements: Mapping[str, Any], names: Iterable[str]
) -> list[str]:
    """Why the training sources overlap the evaluated statements (empty: they do not)."""
    names = set(names)
    family = minif2f_sets()
    evaluated_set = statements.get("statement_set")
    reasons: list[str] = []
    for source in sources:
        trained = set(source.get("theorems") or ())
        shared = sorted(trained & names)
        src_statements = source.get("statements") or {}
        src_set = src_statements.get("statement_set")
        where = f"{source.get('run', '?')} ({src_set}, split {source.get('split')})"
        if shared:
            shown = ", ".join(shared[:3]) + (" ..." if len(shared) > 3 else "")
            reasons.append(f"{len(shared)} evaluated theorem(s) were training data ({shown}) from {where}")
        elif source.get("split") == split and src_set in family and evaluated_set in family:
            reasons.append(f"the miniF2F {split} split is evaluated and {where} trained on it")
        elif (source.get("split") == split and src_statements.get("sha256")
              and src_statements.get("sha256") == statements.get("sha256")):
            reasons.append(f"the same statement file and split {split} were training data in {where}")
    return reasons


def refuse_leaky_model(model: str | Path, split: str, statements: Any, theorems: Sequence[Any]) -> None:
    """Evaluation pre-flight: refuse a model whose recorded training data overlaps what is evaluated."""
    sources = training_sources(model)
    if not sources:
        return
    stmt = statements.to_json() if hasattr(statements, "to_json") else dict(statements)
    names = [getattr(t, "name", t) for t in theorems]
    reasons = overlap(sources, split, stmt, names)
    if reasons:
        raise LeakageError(
            f"refusing to evaluate {model}: its training data overlaps the evaluated statements: {reasons[0]}"
            + (f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else "")
        )
