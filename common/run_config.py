"""The run config every training run shares (where, how long, how often), read from the command
line of a train script and checked before anything runs."""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from .config import ConfigError, dotted, load_config, to_yaml
from .shipped_configs import find_config


@dataclass
class RunConfig:
    """What every training run (tokenizer, prior) is configured by: where, how long, how often."""

    output_dir: str = "outputs/run"
    seed: int = 0
    max_steps: int = 1000
    batch_size: int = 16  # per process
    gradient_accumulation_steps: int = 1
    # no | fp16 | bf16; unset: what `accelerate launch --mixed_precision` (or accelerate config) says,
    # which a value here would override
    mixed_precision: str | None = None
    lr_scheduler: str = "constant"  # any diffusers.optimization.get_scheduler name
    lr_warmup_steps: int = 0
    max_grad_norm: float = 0.0  # 0 = no clipping
    checkpointing_steps: int = 500
    checkpoints_total_limit: int | None = 3
    # checkpoints at multiples of this step survive the limit (Fig. 6 reads one per stage of a
    # run); null: the limit alone decides
    checkpoints_keep_every: int | None = None
    resume_from_checkpoint: str | None = None  # a checkpoint folder, or "latest"
    validation_steps: int = 250  # also writes a grid of images
    # validation metrics use validation_batches × batch_size items spread evenly over the split
    validation_batches: int = 8
    log_steps: int = 10
    num_workers: int = 0
    # where metrics and sample grids are logged: tensorboard (under output_dir/logs), wandb,
    # comet_ml, aim, mlflow, clearml, dvclive (each needs its package), or none
    report_to: str = "tensorboard"
    # torch.compile of the trained model's forward (nn.Module.compile: weights and checkpoints keep
    # their names); the first steps pay the compilation
    compile: bool = False
    # TF32 tensor cores for fp32 matrix products and convolutions on CUDA (Ampere and later)
    tf32: bool = True
    # After training, upload output_dir/final to the Hub repo hub_model_id (needs a login/token).
    push_to_hub: bool = False
    hub_model_id: str | None = None
    hub_private: bool = False


def config_keys(config_type: type) -> list[str]:
    """Every key of ``config_type`` as ``dotted.key: default`` (the defaults before any YAML)."""
    return [f"{key}: {value}" for key, value in dotted(config_type()).items()]


def read_run_config(config_type: type, argv: list[str] | None, description: str, stage: str):
    """A train script's command line, ``--config YAML`` and ``key=value`` overrides, as a
    ``config_type``; logging set up for the run. ``--config`` is a file, or a shipped config of
    ``stage`` by name (``common.shipped_configs``). ``--print-config`` prints the resolved config as
    YAML and exits; ``--help`` lists every key with its default."""
    epilog = "keys (key: default; set in the YAML or as key=value):\n  " + "\n  ".join(config_keys(config_type))
    parser = argparse.ArgumentParser(
        description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", help=f"YAML file, or a shipped config by name (configs/{stage}/NAME.yaml) from any folder"
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config (YAML) and exit without training"
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args(argv)
    path = None if args.config is None else find_config(args.config, stage)
    config = load_config(config_type, path, args.overrides)
    check_run_config(config)
    if args.print_config:
        print(to_yaml(config), end="")
        raise SystemExit(0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # one line per file saved otherwise
    return config


# The run keys that count or divide: the smallest value each can take.
RUN_MINIMUMS = {
    "max_steps": 1,
    "batch_size": 1,
    "gradient_accumulation_steps": 1,
    "checkpointing_steps": 1,
    "validation_steps": 1,
    "validation_batches": 1,
    "log_steps": 1,
    "num_workers": 0,
    "lr_warmup_steps": 0,
    "max_grad_norm": 0,
}


PRECISIONS = ("no", "fp16", "bf16", "fp8")


def check_run_config(config: RunConfig) -> None:
    """Every counting key in range, before anything runs: a zero period would divide by zero after
    the first step, a negative ``max_steps`` would save an untrained model. ``mixed_precision`` is
    one accelerate knows; a bare YAML ``no`` (read as false, held by the typed config as "False")
    means "no"."""
    if config.mixed_precision == "False":
        config.mixed_precision = "no"
    if config.mixed_precision not in (None, *PRECISIONS):
        raise ConfigError(f"mixed_precision={config.mixed_precision}: must be one of {', '.join(PRECISIONS)}, or unset")
    for key, smallest in RUN_MINIMUMS.items():
        value = getattr(config, key)
        if value < smallest:
            raise ConfigError(f"{key}={value}: must be at least {smallest}")
    if config.checkpoints_total_limit is not None and config.checkpoints_total_limit < 1:
        raise ConfigError(
            f"checkpoints_total_limit={config.checkpoints_total_limit}: must be at least 1 (or null: keep all)"
        )
    if config.checkpoints_keep_every is not None and config.checkpoints_keep_every < 1:
        raise ConfigError(
            f"checkpoints_keep_every={config.checkpoints_keep_every}: must be at least 1 (or null: keep none beyond the limit)"
        )
