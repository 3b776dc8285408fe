"""What ``tokenizer/train.py`` needs beside the recipe: its config, checkpoints, metrics, grids."""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path


from .atomic import atomic_directory
from .codebook.build import CodebookPriorConfig
from .data import DataConfig
from .losses import LossConfig
from .model import TokenizerModelConfig

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class TrainConfig:
    output_dir: str = "outputs/tokenizer"
    seed: int = 0
    max_steps: int = 1000
    batch_size: int = 16  # per process
    gradient_accumulation_steps: int = 1
    mixed_precision: str = "no"  # no | fp16 | bf16
    # Base learning rate per sample; with scale_lr the optimizers use
    # learning_rate × batch_size × gradient_accumulation_steps × processes (taming's rule).
    learning_rate: float = 4.5e-6
    scale_lr: bool = True
    lr_scheduler: str = "constant"  # any diffusers.optimization.get_scheduler name
    lr_warmup_steps: int = 0
    adam_beta1: float = 0.5
    adam_beta2: float = 0.9
    max_grad_norm: float = 0.0  # 0 = no clipping
    checkpointing_steps: int = 500
    checkpoints_total_limit: int | None = 3
    resume_from_checkpoint: str | None = None  # a checkpoint folder, or "latest"
    validation_steps: int = 250  # also writes a reconstruction grid
    validation_batches: int = 8
    # FID of validation reconstructions against the originals (whole validation split) every
    # fid_steps steps (multiple of validation_steps); 0 = off. Needs Inception weights (tokenizer/fid.py).
    fid_steps: int = 0
    log_steps: int = 10
    num_workers: int = 0
    # A built codebook prior's folder; when None, one is built from ``codebook`` into
    # output_dir/codebook_prior (language quantizers only).
    codebook_prior: str | None = None
    codebook: CodebookPriorConfig = field(default_factory=CodebookPriorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: TokenizerModelConfig = field(default_factory=TokenizerModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)


def checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint, oldest first."""
    folder = output_dir / "checkpoints"
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = CHECKPOINT_PATTERN.match(path.name)
            if match and path.is_dir():
                found.append((int(match.group(1)), path))
    return sorted(found)


def resolve_resume(output_dir: Path, resume: str | None) -> tuple[int, Path] | None:
    """The checkpoint to resume from: ``latest`` (None when there is none yet) or a folder."""
    if resume is None:
        return None
    if resume == "latest":
        found = checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume)
    match = CHECKPOINT_PATTERN.match(path.name)
    if not path.is_dir() or not match:
        raise FileNotFoundError(f"resume_from_checkpoint: {path} is not a checkpoint-<step> folder (or use 'latest')")
    return int(match.group(1)), path


def save_checkpoint(accelerator, output_dir: Path, step: int, limit: int | None) -> Path:
    """accelerate's full state (models, optimizers, schedulers, RNGs), written atomically, then
    the oldest checkpoints beyond ``limit`` removed. Call on every process."""
    target = output_dir / "checkpoints" / f"checkpoint-{step}"
    if accelerator.is_main_process:
        with atomic_directory(target) as staging:
            accelerator.save_state(str(staging))
        if limit is not None:
            for _, old in checkpoints(output_dir)[:-limit]:
                shutil.rmtree(old, ignore_errors=True)
    else:
        accelerator.save_state(str(target))  # non-main ranks only add their own RNG files
    accelerator.wait_for_everyone()
    return target


def read_history(output_dir: Path) -> list[dict]:
    path = output_dir / "metrics.json"
    return json.loads(path.read_text()).get("history", []) if path.is_file() else []


def write_json(path: Path, data: dict) -> None:
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_text(json.dumps(data, indent=1, default=float))
    staging.replace(path)


def scaled_learning_rate(config: TrainConfig, processes: int) -> float:
    if not config.scale_lr:
        return config.learning_rate
    return config.learning_rate * config.batch_size * config.gradient_accumulation_steps * processes


def steps_per_epoch(batches: int, accumulation: int) -> int:
    return max(math.floor(batches / accumulation), 1)
