"""Where a run's metrics and image grids go: accelerate's trackers, named as their packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from accelerate import Accelerator
from PIL import Image

from .config import ConfigError, did_you_mean

# report_to values: accelerate's trackers, each named as the package it imports
TRACKERS = ("tensorboard", "wandb", "comet_ml", "aim", "mlflow", "clearml", "dvclive")


def tracker_for(report_to: str) -> str | None:
    """accelerate's ``log_with`` for ``report_to``; a ConfigError naming the key when the tracker
    is unknown or its package is missing (now, not when the first metrics are logged)."""
    if report_to == "none":
        return None
    if report_to not in TRACKERS:
        choices = [*TRACKERS, "none"]
        raise ConfigError(
            f"report_to={report_to}: must be one of {', '.join(choices)}{did_you_mean(report_to, choices)}"
        )
    if importlib.util.find_spec(report_to) is None:
        raise ConfigError(f"report_to={report_to} needs the {report_to} package: pip install {report_to}")
    return report_to


def log_grid(accelerator: Accelerator, path: Path, step: int, name: str = "samples") -> None:
    """A grid PNG just written, also to every tracker that takes images (call on every process)."""
    if not accelerator.is_main_process:
        return
    image = np.asarray(Image.open(path).convert("RGB"))
    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":  # SummaryWriter.add_images wants one 4-d array
            tracker.log_images({name: image[None]}, step=step, dataformats="NHWC")
        elif tracker.name == "aim":  # aim's takes one image per key
            tracker.log_images({name: image}, step=step)
        elif hasattr(tracker, "log_images"):  # wandb, comet_ml, clearml, …: a list of images
            tracker.log_images({name: [image]}, step=step)
