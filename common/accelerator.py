"""accelerate set up for a run: seeds, trackers, the output folder."""

from __future__ import annotations

from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed

from .atomic import remove_leftovers
from .config import ConfigError, to_yaml
from .output_dir import CONFIG_FILE, check_output_dir
from .run_config import RunConfig
from .run_lock import hold_output_dir
from .trackers import tracker_for


def make_accelerator(config: RunConfig) -> Accelerator:
    """accelerate set up for a run: tensorboard under output_dir/logs, seedable data order,
    the output folder checked (``common.output_dir``) and locked (``common.run_lock``), cleaned of debris from a killed run and the
    merged config written."""
    if config.push_to_hub and not config.hub_model_id:  # now, not after hours of training
        raise ConfigError("push_to_hub=true needs hub_model_id=<user>/<repo>")
    check_output_dir(config)
    output_dir = Path(config.output_dir)
    accelerator = Accelerator(
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        log_with=tracker_for(config.report_to),
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(config.seed)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = config.tf32
    if accelerator.is_main_process:
        hold_output_dir(output_dir)  # one run per folder, from before its first file to its final model
        for folder in (output_dir, output_dir / "checkpoints"):
            remove_leftovers(folder)  # from a run killed while it wrote
        (output_dir / "samples").mkdir(parents=True, exist_ok=True)
        (output_dir / CONFIG_FILE).write_text(to_yaml(config))
    return accelerator
