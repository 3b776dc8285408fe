"""The run config every training run shares (where, how long, how often), read from the command
line of a train script and checked before anything runs."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from dataclasses import dataclass

from .config import ConfigError, check_values, chosen, did_you_mean, dotted, load_config, ranged, to_yaml
from .flag_overrides import flags_as_overrides
from .help_format import PlainHelpFormatter
from .shipped_configs import find_config

# diffusers.optimization.SchedulerType's names (a test keeps the two equal): importing diffusers
# here would cost every command that reads a config 4 s
LR_SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "piecewise_constant",
)


@dataclass
class RunConfig:
    """What every training run (tokenizer, prior) is configured by: where, how long, how often.
    Counting keys have their smallest value in the field (``ranged``): a zero period would divide
    by zero after the first step, a negative ``max_steps`` would save an untrained model."""

    output_dir: str = "outputs/run"
    seed: int = ranged(0, 0)
    max_steps: int = ranged(1000, 1)
    batch_size: int = ranged(16, 1)  # per process
    gradient_accumulation_steps: int = ranged(1, 1)
    # no | fp16 | bf16 | fp8 (needs transformer_engine); unset: what `accelerate launch
    # --mixed_precision` (or accelerate config) says, which a value here would override
    mixed_precision: str | None = None
    lr_scheduler: str = chosen("constant", LR_SCHEDULERS)  # diffusers.optimization.get_scheduler's
    lr_warmup_steps: int = ranged(0, 0)
    max_grad_norm: float = ranged(0.0, 0)  # 0 = no clipping
    # An exponential moving average of the trained weights (diffusers' EMAModel with its warm-up):
    # validation, sample grids and the final model use it; checkpoints keep it.
    use_ema: bool = False
    ema_decay: float = ranged(0.999, 0, 1, low_open=True, high_open=True)
    checkpointing_steps: int = ranged(500, 1)
    checkpoints_total_limit: int | None = ranged(3, 1)  # null: keep all
    # checkpoints at multiples of this step survive the limit (Fig. 6 reads one per stage of a
    # run); null: the limit alone decides
    checkpoints_keep_every: int | None = ranged(None, 1)
    resume_from_checkpoint: str | None = None  # a checkpoint folder, or "latest"
    # resume from a checkpoint whose random state file is missing or unreadable (else refused), with
    # a warning: the data order, dropout and noise then differ from the uninterrupted run's
    resume_without_random_state: bool = False
    validation_steps: int = ranged(250, 1)  # also writes a grid of images
    # validation metrics use validation_batches × batch_size items spread evenly over the split
    validation_batches: int = ranged(8, 1)
    log_steps: int = ranged(10, 1)
    num_workers: int = ranged(0, 0)
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
    """A train script's command line, ``--config YAML`` and overrides (``key=value``, or as flags:
    ``common.flag_overrides``), as a ``config_type``; logging set up for the run. ``--config`` is a file, or a shipped config of
    ``stage`` by name (``common.shipped_configs``). ``--print-config`` prints the resolved config as
    YAML and exits; ``--help`` lists every key with its default."""
    epilog = "keys (key: default; set in the YAML, or as key=value, --key value or --key=value):\n  " + "\n  ".join(
        config_keys(config_type)
    )
    parser = argparse.ArgumentParser(description=description, epilog=epilog, formatter_class=PlainHelpFormatter)
    parser.add_argument(
        "--config", help=f"YAML file, or a shipped config by name (configs/{stage}/NAME.yaml) from any folder"
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config (YAML) and exit without training"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="a config key's value (dotted keys: data.resolution=64)"
    )
    argv = sys.argv[1:] if argv is None else argv
    overrides = flags_as_overrides(argv, dotted(config_type()), ("--config", "--print-config", "--help"))
    args = parser.parse_intermixed_args(overrides)  # key=value before and after --config alike
    path = None if args.config is None else find_config(args.config, stage)
    config = load_config(config_type, path, args.overrides)
    check_run_config(config)
    if args.print_config:
        print(to_yaml(config), end="")
        raise SystemExit(0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # one line per file saved otherwise
    return config


PRECISIONS = ("no", "fp16", "bf16", "fp8")


# what accelerate's fp8 needs, one of them: NVIDIA's Transformer Engine, MS-AMP or torchao
FP8_BACKENDS = ("transformer_engine", "msamp", "torchao")


def check_run_config(config: RunConfig) -> None:
    """Every key in range (``check_values``), before anything runs. ``mixed_precision`` is one
    accelerate knows, with what it needs installed; a bare YAML ``no`` (read as false, held by
    the typed config as "False") means "no"."""
    if config.mixed_precision == "False":
        config.mixed_precision = "no"
    if config.mixed_precision not in (None, *PRECISIONS):
        raise ConfigError(
            f"mixed_precision={config.mixed_precision}: must be one of {', '.join(PRECISIONS)}, or unset"
            + did_you_mean(config.mixed_precision, PRECISIONS)
        )
    if config.mixed_precision == "fp8" and not any(importlib.util.find_spec(name) for name in FP8_BACKENDS):
        raise ConfigError(
            "mixed_precision=fp8 needs NVIDIA's transformer_engine (pip install 'transformer_engine[pytorch]') "
            "or MS-AMP or torchao, and a GPU with fp8; or use bf16"
        )
    check_values(config)
