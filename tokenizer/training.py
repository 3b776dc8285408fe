"""What ``tokenizer/train.py`` needs beside the recipe: its config, checkpoints, metrics, grids."""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

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


class CodeHistogram:
    """Counts of every code over many batches, per code group, for usage % and perplexity."""

    def __init__(self, codebook_sizes: tuple[int, ...], device):
        self.counts = [torch.zeros(size, dtype=torch.long, device=device) for size in codebook_sizes]

    def update(self, indices: torch.Tensor) -> None:
        for group, counts in enumerate(self.counts):
            counts += torch.bincount(indices[:, group].flatten(), minlength=counts.numel())

    def metrics(self, names: tuple[str, ...]) -> dict[str, float]:
        result = {}
        for name, counts in zip(names, self.counts):
            total = counts.sum().clamp(min=1)
            p = counts.double() / total
            entropy = -(p[p > 0] * p[p > 0].log()).sum()
            result[f"usage/{name}_percent"] = 100.0 * float((counts > 0).sum()) / counts.numel()
            result[f"usage/{name}_perplexity"] = float(entropy.exp())
        return result


def group_names(kind: str, groups: int) -> tuple[str, ...]:
    return ("adjective", "noun") if kind == "dual" else ("codebook",) if groups == 1 else tuple(f"group{i}" for i in range(groups))


def psnr(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image, on [0, 1] pixel values (inputs are in [-1, 1])."""
    error = ((images.float() - reconstructions.float().clamp(-1, 1)) / 2).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / error.clamp(min=1e-10))


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
