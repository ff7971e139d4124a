"""Expert iteration: search the training statements, learn from the proofs found, search again.

One directory holds the whole loop:
- `iterate.json`: the loop's configuration (resuming requires the same; `--rounds` may grow);
- `state.json`: the finished phases, each with what it produced, rewritten atomically after a phase ends
  (a phase without its marker is redone: searches resume from their results file, datasets are rebuilt,
  training resumes from its last checkpoint);
- `round-0/search/`: the base model's search (a minif2f run directory);
- `round-K/dataset/`, `round-K/model/`, `round-K/search/` for K >= 1: the data from every earlier
  search (accumulated, deduplicated), the model fine-tuned from the base model on it, and its search;
- `rounds.json`, `rounds.md`, `success.png`: success rate, data size and checkpoint per round.

The search itself is passed in (`SearchFn`), so this module knows nothing of the command line; the
`iterate` command gives it the minif2f command's whole pipeline.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from ..errors import UserError
from ..store import load_run, lock_run_dir, supersede, write_atomic
from .dataset import build_dataset
from .leakage import DEFAULT_HOLDOUT, refuse_holdout_split
from .train import TrainConfig, train

log = logging.getLogger(__name__)

CONFIG_FILE = "iterate.json"
STATE_FILE = "state.json"
ROUNDS_JSON = "rounds.json"
ROUNDS_MD = "rounds.md"
PLOT_FILE = "success.png"
FORMAT = "llemma-prove-iterate/1"

# (round, model id or directory, run directory) -> awaitable that finishes that search
SearchFn = Callable[[int, str, Path], Awaitable[Any]]


@dataclass(frozen=True)
class IterateConfig:
    """What the loop's results depend on (`identity`), plus how far to go (`rounds`)."""

    base_model: str
    split: str
    statements: str  # a statement set name or a data file's path, for the record
    search: Mapping[str, Any]  # the search settings, as the search command records them
    train: TrainConfig = field(default_factory=TrainConfig)
    rounds: int = 1
    negatives: bool = False
    holdout: str = DEFAULT_HOLDOUT
    prompt: str | None = None

    def identity(self) -> dict[str, Any]:
        return {"format": FORMAT, "base_model": self.base_model, "split": self.split, "statements": self.statements,
                "search": dict(self.search), "train": self.train.to_json(), "negatives": self.negatives,
                "holdout": self.holdout, "prompt": self.prompt}


class IterationDir:
    """The loop's directory, locked while open."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def round_dir(self, k: int) -> Path:
        return self.path / f"round-{k}"

    def search_dir(self, k: int) -> Path:
        return self.round_dir(k) / "search"

    def dataset_dir(self, k: int) -> Path:
        return self.round_dir(k) / "dataset"

    def model_dir(self, k: int) -> Path:
        return self.round_dir(k) / "model"

    def read_state(self) -> dict[str, Any]:
        path = self.path / STATE_FILE
        if not path.exists():
            return {"phases": {}}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:  # written atomically, so only a hand edit gets here
            raise UserError(f"{path} is unreadable ({exc})") from None
        data.setdefault("phases", {})
        return data

    def mark(self, state: dict[str, Any], key: str, info: dict[str, Any]) -> None:
        state["phases"][key] = info
        write_atomic(self.path / STATE_FILE, (json.dumps(state, indent=2) + "\n").encode())


def check_config(path: Path, config: IterateConfig, force: bool) -> None:
    """Refuse to continue a loop made with other settings (unless `force`, which moves it aside)."""
    saved = path / CONFIG_FILE
    if saved.exists():
        try:
            old = json.loads(saved.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if old.get("identity") != config.identity():
            if not force:
                raise UserError(f"{path} holds a loop with other settings; use --force to start over there "
                                "(old files are kept) or choose another --run-dir")
            supersede(path)
    path.mkdir(parents=True, exist_ok=True)
    write_atomic(saved, (json.dumps({"identity": config.identity(), "rounds": config.rounds}, indent=2) + "\n").encode())


def _search_info(run_dir: Path) -> dict[str, Any]:
    config, records = load_run(run_dir)
    total = len(config.selection) or len(records)
    proved = sum(r.proved for r in records)
    return {"run_dir": str(run_dir), "proved": proved, "finished": len(records), "total": total,
            "rate": round(proved / total, 6) if total else 0.0}


def _remove_stale(target: Path) -> None:
    """Leftovers of a killed dataset build (temporary siblings) and an unmarked result."""
    for stale in target.parent.glob(f".{target.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    if target.exists():
        shutil.rmtree(target)


async def run_loop(
    path: Path,
    config: IterateConfig,
    search: SearchFn,
    *,
    device: str = "auto",
    progress: bool = True,
    force: bool = False,
    echo: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Run (or resume) the loop to `config.rounds` rounds; returns the rounds summary."""
    refuse_holdout_split(config.split, config.holdout)
    if config.rounds < 1:
        raise UserError(f"--rounds must be at least 1, got {config.rounds}")
    config.train.validate()
    loop = IterationDir(path)
    loop.path.mkdir(parents=True, exist_ok=True)
    fd = lock_run_dir(loop.path)
    try:
        check_config(loop.path, config, force)
        state = loop.read_state()
        phases = state["phases"]
        model = config.base_model
        for k in range(config.rounds + 1):
            if k >= 1:
                key = f"{k}:dataset"
                if key not in phases:
                    echo(f"round {k}: building training data from rounds 0..{k - 1}")
                    target = loop.dataset_dir(k)
                    _remove_stale(target)
                    info = await build_dataset([loop.search_dir(j) for j in range(k)], target,
                                               prompt=Path(config.prompt) if config.prompt else None,
                                               negatives=config.negatives, holdout=config.holdout, force=True)
                    loop.mark(state, key, {"path": str(target), "positive": info.positive, "negative": info.negative})
                if phases[key]["positive"] == 0:
                    state["stopped"] = f"round {k}: no proof found so far, nothing to learn from"
                    loop.mark(state, key, phases[key])
                    echo(state["stopped"])
                    break
                key = f"{k}:train"
                if key not in phases:
                    echo(f"round {k}: fine-tuning {config.base_model} on {phases[f'{k}:dataset']['positive']} examples")
                    outcome = train(loop.dataset_dir(k), config.base_model, loop.model_dir(k), config.train,
                                    device=device, progress=progress, force=True)
                    loop.mark(state, key, {"model_dir": str(outcome.model_dir), "steps": outcome.steps,
                                           "train_loss": outcome.train_loss, "examples": outcome.examples,
                                           "resumed_from": outcome.resumed_from})
                model = str(Path(phases[key]["model_dir"]).resolve())
            key = f"{k}:search"
            if key not in phases:
                echo(f"round {k}: searching the {config.split} statements with {model}")
                await search(k, model, loop.search_dir(k))
                loop.mark(state, key, {**_search_info(loop.search_dir(k)), "model": model})
        summary = write_rounds(loop, state, config)
        return summary
    finally:
        os.close(fd)


def rounds_table(state: Mapping[str, Any], config: IterateConfig) -> list[dict[str, Any]]:
    phases = state["phases"]
    rows = []
    for k in range(config.rounds + 1):
        search = phases.get(f"{k}:search")
        if search is None:
            break
        dataset = phases.get(f"{k}:dataset") or {}
        trained = phases.get(f"{k}:train") or {}
        rows.append({
            "round": k,
            "model": search["model"],
            "checkpoint": trained.get("model_dir"),
            "train_examples": dataset.get("positive", 0),
            "negative_examples": dataset.get("negative", 0),
            "train_steps": trained.get("steps"),
            "train_loss": trained.get("train_loss"),
            "proved": search["proved"],
            "total": search["total"],
            "success_rate": search["rate"],
            "search_run": search["run_dir"],
        })
    return rows


def write_rounds(loop: IterationDir, state: Mapping[str, Any], config: IterateConfig) -> dict[str, Any]:
    rows = rounds_table(state, config)
    summary = {"split": config.split, "statements": config.statements, "base_model": config.base_model,
               "rounds": rows, "stopped": state.get("stopped")}
    write_atomic(loop.path / ROUNDS_JSON, (json.dumps(summary, indent=2) + "\n").encode())
    lines = [
        f"# Expert iteration on {config.statements} ({config.split})", "",
        f"Base model: `{config.base_model}`. Success rate is on the training statements themselves "
        "(data collection, not an evaluation).", "",
        "| round | proved / total | success | training examples | checkpoint |",
        "|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(f"| {row['round']} | {row['proved']}/{row['total']} | {100 * row['success_rate']:.1f}% | "
                     f"{row['train_examples']} | {row['checkpoint'] or '(base model)'} |")
    if state.get("stopped"):
        lines += ["", f"Stopped: {state['stopped']}."]
    write_atomic(loop.path / ROUNDS_MD, ("\n".join(lines) + "\n").encode())
    plot_rounds(rows, loop.path / PLOT_FILE)
    return summary


def plot_rounds(rows: list[Mapping[str, Any]], target: Path) -> bool:
    """Success rate per round as a PNG (matplotlib, Agg backend); False when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plot (pip install 'llemma-prove[plot]')")
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    xs = [r["round"] for r in rows]
    ax.plot(xs, [100 * r["success_rate"] for r in rows], marker="o")
    ax.set_xlabel("round (0: base model)")
    ax.set_ylabel("proved (%)")
    ax.set_xticks(xs)
    ax.set_ylim(0, 100)
    ax.set_title("Success on the training statements per round")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, target)
    return True
