"""Fine-tuning on a dataset from `llemma-prove dataset`: transformers' Trainer, PEFT LoRA by default.

The loss is on the completion only (the prompt's labels are masked), and prompt and completion are
tokenized apart, the prompt exactly as the proposer tokenizes it at inference. The output directory is a
plain model directory (`--model DIR` loads it: a LoRA adapter is merged into the weights) plus the
training record (`leakage.TRAINING_FILE`, written last: a directory without it is unfinished) and
`checkpoints/` (the Trainer's, so an interrupted run resumes from the last one).

Defaults suit a 7B model on one GPU: bf16, gradient checkpointing, LoRA r=16 on every linear layer,
batch 4 x 8 accumulation steps; on a CPU they run a tiny model in float32.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable

from ..config import package_versions
from ..errors import ModelLoadError, UserError
from ..store import write_atomic
from .dataset import POSITIVE, read_examples, read_metadata
from .leakage import TRAINING_FILE, TRAINING_FORMAT, read_training_record

log = logging.getLogger(__name__)

CHECKPOINTS_DIR = "checkpoints"
TRAIN_CONFIG_FILE = "train-config.json"
METHODS = ("lora", "full")


@dataclass(frozen=True)
class TrainConfig:
    """How to fine-tune (`identity` of a training run: resuming requires the same values)."""

    method: str = "lora"  # lora | full
    epochs: float = 1.0
    max_steps: int | None = None  # overrides epochs when set
    learning_rate: float | None = None  # None: 2e-4 for LoRA, 1e-5 for full fine-tuning
    batch_size: int = 4
    grad_accum: int = 8
    max_length: int = 2048  # longer examples (prompt + completion tokens) are skipped, never cut
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    save_steps: int = 200
    seed: int = 0
    dtype: str = "auto"  # auto: bf16 on a GPU that has it, else float32
    gradient_checkpointing: bool | None = None  # None: on for a GPU, off on a CPU

    def validate(self) -> None:
        if self.method not in METHODS:
            raise UserError(f"unknown training method {self.method!r} (choose {', '.join(METHODS)})")
        for name in ("batch_size", "grad_accum", "max_length", "lora_r", "save_steps"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise UserError(f"--max-steps must be at least 1, got {self.max_steps}")
        if not self.epochs > 0:
            raise UserError(f"--epochs must be positive, got {self.epochs:g}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise UserError(f"--learning-rate must be positive, got {self.learning_rate:g}")
        if self.dtype not in ("auto", "bfloat16", "float16", "float32"):
            raise UserError(f"unknown dtype {self.dtype!r} (choose auto, bfloat16, float16, float32)")

    @property
    def lr(self) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        return 2e-4 if self.method == "lora" else 1e-5

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class TrainOutcome:
    model_dir: Path
    examples: int
    skipped_too_long: int
    steps: int
    train_loss: float | None
    resumed_from: str | None


def _torch_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"device {device!r} was asked for but PyTorch sees no CUDA GPU; use --device cpu")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise UserError(f"training runs on cpu or cuda, not {device!r}")
    return device


def _dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def tokenize_examples(tokenizer: Any, rows: list[dict[str, Any]], max_length: int) -> tuple[list[dict[str, list[int]]], int]:
    """input_ids / labels per example: the prompt as the proposer tokenizes it (special tokens included),
    then the completion; labels are -100 on the prompt. Examples longer than `max_length` are skipped."""
    out, skipped = [], 0
    for row in rows:
        prompt_ids = tokenizer(row["prompt"])["input_ids"]
        completion_ids = tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
        if len(prompt_ids) + len(completion_ids) > max_length or not completion_ids:
            skipped += 1
            continue
        out.append({"input_ids": prompt_ids + completion_ids, "labels": [-100] * len(prompt_ids) + completion_ids})
    return out, skipped


def make_collator(pad_id: int) -> Callable[[list[dict[str, list[int]]]], dict[str, Any]]:
    """Right-pad a batch; padding is masked out of attention and loss."""
    import torch

    def collate(batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def _warmup(arguments: Any, ratio: float) -> dict[str, Any]:
    """transformers 4 names the warmup ratio `warmup_ratio`; 5 takes a ratio as a float `warmup_steps`."""
    from dataclasses import fields as dc_fields

    names = {f.name for f in dc_fields(arguments)}
    return {"warmup_ratio": ratio} if "warmup_ratio" in names else {"warmup_steps": ratio}


def _checkpointing(arguments: Any, enabled: bool) -> dict[str, Any]:
    """Gradient checkpointing under the name the installed transformers uses (5 renamed it)."""
    from dataclasses import fields as dc_fields

    prefix = "activation" if "activation_checkpointing" in {f.name for f in dc_fields(arguments)} else "gradient"
    return {f"{prefix}_checkpointing": enabled,
            f"{prefix}_checkpointing_kwargs": {"use_reentrant": False} if enabled else None}


def _last_checkpoint(folder: Path) -> str | None:
    """The newest complete checkpoint. The Trainer writes `trainer_state.json` last, so a checkpoint
    without a readable one was cut short by a kill; it (and anything newer) is removed, never resumed."""
    if not folder.is_dir():
        return None
    found = []
    for entry in folder.iterdir():
        prefix, _, step = entry.name.partition("-")
        if entry.is_dir() and prefix == "checkpoint" and step.isdigit():
            found.append((int(step), entry))
    best = None
    for step, entry in sorted(found):
        try:
            json.loads((entry / "trainer_state.json").read_text(encoding="utf-8"))["global_step"]
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("removing the incomplete checkpoint %s (left by an interrupted run)", entry)
            shutil.rmtree(entry, ignore_errors=True)
            continue
        best = entry
    return str(best) if best is not None else None


def check_out_dir(out: Path, base_model: str, dataset_dir: Path, config: TrainConfig, force: bool) -> str:
    """"new", "resume" or "done" for `out`; refuses a different training in the same directory."""
    out = Path(out)
    if not out.exists():
        return "new"
    saved = out / TRAIN_CONFIG_FILE
    if not saved.exists():
        if any(out.iterdir()) and not force:
            raise UserError(f"{out} is not empty and holds no llemma-prove training; choose another --out")
        return "new"
    try:
        previous = json.loads(saved.read_text(encoding="utf-8"))
    except ValueError:
        previous = {}
    same = previous == _identity(base_model, dataset_dir, config)
    if not same and not force:
        raise UserError(f"{out} holds a training run with other settings (base model, dataset or hyperparameters); "
                        "use --force to start it over or choose another --out")
    if not same:
        return "restart"
    return "done" if (out / TRAINING_FILE).exists() else "resume"


def _identity(base_model: str, dataset_dir: Path, config: TrainConfig) -> dict[str, Any]:
    metadata = read_metadata(dataset_dir)
    return {"base_model": str(base_model), "dataset_sha256": metadata.get("examples_sha256"), "train": config.to_json()}


def train(
    dataset_dir: Path,
    base_model: str,
    out: Path,
    config: TrainConfig = TrainConfig(),
    *,
    device: str = "auto",
    progress: bool = True,
    force: bool = False,
    extra_callbacks: tuple[Any, ...] = (),
) -> TrainOutcome:
    """Fine-tune `base_model` on the positive examples of `dataset_dir` into the model directory `out`."""
    config.validate()
    dataset_dir, out = Path(dataset_dir), Path(out)
    metadata = read_metadata(dataset_dir)  # cheap checks before torch
    rows = [r for r in read_examples(dataset_dir) if r.get("label") == POSITIVE]
    if not rows:
        raise UserError(f"{dataset_dir} has no positive examples to train on")
    base_record = read_training_record(Path(base_model)) if Path(base_model).is_dir() else None
    state = check_out_dir(out, base_model, dataset_dir, config, force)
    if state == "done":
        log.info("%s is already trained (its %s exists)", out, TRAINING_FILE)
        record = read_training_record(out) or {}
        return TrainOutcome(out, int(record.get("examples", 0)), int(record.get("skipped_too_long", 0)),
                            int(record.get("steps", 0)), record.get("train_loss"), None)
    if state == "restart":
        for name in (CHECKPOINTS_DIR, TRAINING_FILE):
            target = out / name
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / TRAIN_CONFIG_FILE, (json.dumps(_identity(base_model, dataset_dir, config), indent=2) + "\n").encode())

    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments
    except ImportError as exc:  # pragma: no cover - core dependencies
        raise UserError(f"training needs torch and transformers ({exc})") from None
    torch_device = _torch_device(device)
    dtype = _dtype(config.dtype, torch_device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base_model)
        dtype_kw = "dtype" if tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56) else "torch_dtype"
        model = AutoModelForCausalLM.from_pretrained(base_model, **{dtype_kw: dtype})
    except Exception as exc:
        raise ModelLoadError(f"cannot load the base model {base_model}: {exc}") from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    features, skipped = tokenize_examples(tokenizer, rows, config.max_length)
    if not features:
        raise UserError(f"every example of {dataset_dir} is longer than --max-length {config.max_length} tokens")
    if skipped:
        log.warning("skipped %d examples longer than %d tokens", skipped, config.max_length)

    checkpointing = config.gradient_checkpointing
    if checkpointing is None:
        checkpointing = torch_device.startswith("cuda")
    if config.method == "lora":
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise UserError("LoRA training needs the `peft` package: pip install 'llemma-prove[train]' "
                            "(or train with --method full)") from None
        model = get_peft_model(model, LoraConfig(
            r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules="all-linear", task_type="CAUSAL_LM",
        ))
    mixed = dtype in (torch.bfloat16, torch.float16) and torch_device.startswith("cuda")
    args = TrainingArguments(
        output_dir=str(out / CHECKPOINTS_DIR),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps if config.max_steps is not None else -1,
        **_warmup(TrainingArguments, config.warmup_ratio),
        weight_decay=config.weight_decay,
        lr_scheduler_type="cosine",
        logging_steps=max(1, min(10, config.save_steps)),
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        bf16=mixed and dtype == torch.bfloat16,
        fp16=mixed and dtype == torch.float16,
        **_checkpointing(TrainingArguments, checkpointing),
        use_cpu=torch_device == "cpu",
        seed=config.seed,
        data_seed=config.seed,
        report_to=[],
        disable_tqdm=not progress,
        remove_unused_columns=False,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=features, data_collator=make_collator(tokenizer.pad_token_id),
                      callbacks=list(extra_callbacks))
    resume = _last_checkpoint(out / CHECKPOINTS_DIR)
    if resume:
        log.info("resuming training from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    final = trainer.model
    if config.method == "lora":
        final = final.merge_and_unload()
    final.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    loss = float(result.training_loss) if result.training_loss is not None and math.isfinite(result.training_loss) else None
    sources = list(base_record["sources"]) if base_record else []
    sources.extend(metadata.get("sources") or [])
    record = {
        "format": TRAINING_FORMAT,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "base_model": str(base_model),
        "method": config.method,
        "merged": config.method == "lora",
        "dataset": {"path": str(dataset_dir.resolve()), "examples_sha256": metadata.get("examples_sha256"),
                    "prompt": metadata.get("prompt"), "holdout_split": metadata.get("holdout_split")},
        "sources": sources,
        "examples": len(features),
        "skipped_too_long": skipped,
        "steps": int(result.global_step),
        "train_loss": loss,
        "train": config.to_json(),
        "device": torch_device,
        "dtype": str(dtype).replace("torch.", ""),
        "versions": package_versions(),
    }
    write_atomic(out / TRAINING_FILE, (json.dumps(record, indent=2) + "\n").encode())
    log.info("trained %s: %d steps, loss %s -> %s", base_model, result.global_step, loss, out)
    return TrainOutcome(out, len(features), skipped, int(result.global_step), loss, resume)
