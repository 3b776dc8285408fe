"""What both stages' training scripts share beside their recipes: the run config, accelerate
set-up, resume, the resumable batch loop, checkpoints, metrics files, the final save and Hub upload."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import pickle
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
from huggingface_hub import HfApi
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import save_file
from torch.utils.data import Subset

from .atomic import atomic_directory, remove_leftovers, swap_in, write_json
from .card import write_model_card
from .config import ConfigError, dotted, load_config, to_dict, to_yaml
from .errors import UserFileNotFoundError, UserValueError
from .shipped_configs import find_config

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
# What loading a damaged checkpoint raises: safetensors' and torch's readers on a cut-short file,
# a missing file, a weights-only unpickler refusing what it finds.
UNREADABLE_CHECKPOINT = (SafetensorError, RuntimeError, EOFError, OSError, ValueError, KeyError, pickle.UnpicklingError)


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


# report_to values: accelerate's trackers, each named as the package it imports
TRACKERS = ("tensorboard", "wandb", "comet_ml", "aim", "mlflow", "clearml", "dvclive")


def tracker_for(report_to: str) -> str | None:
    """accelerate's ``log_with`` for ``report_to``; a ConfigError naming the key when the tracker
    is unknown or its package is missing (now, not when the first metrics are logged)."""
    if report_to == "none":
        return None
    if report_to not in TRACKERS:
        raise ConfigError(f"report_to={report_to}: must be one of {', '.join([*TRACKERS, 'none'])}")
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


def make_accelerator(config: RunConfig) -> Accelerator:
    """accelerate set up for a run: tensorboard under output_dir/logs, seedable data order,
    the output folder cleaned of debris from a killed run and the merged config written."""
    if config.push_to_hub and not config.hub_model_id:  # now, not after hours of training
        raise ConfigError("push_to_hub=true needs hub_model_id=<user>/<repo>")
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
        for folder in (output_dir, output_dir / "checkpoints"):
            remove_leftovers(folder)  # from a run killed while it wrote
        (output_dir / "samples").mkdir(parents=True, exist_ok=True)
        (output_dir / "config.yaml").write_text(to_yaml(config))
    return accelerator


def resume(
    accelerator: Accelerator,
    config: RunConfig,
    project: str,
    log,
    load_extra: Callable[[Path], None] | None = None,
) -> tuple[int, list[dict]]:
    """Load the checkpoint ``resume_from_checkpoint`` names (if any) and start the trackers:
    (step, metrics history up to that step). ``load_extra(folder)`` reads what the caller saved
    beside accelerate's state (``save_checkpoint(tensors=…)``). With ``latest``, a checkpoint that
    does not load (a file cut short, a disk that filled up) is passed over, with a warning, for
    the newest one that does."""
    output_dir = Path(config.output_dir)
    step, history = 0, []
    candidates = resume_candidates(output_dir, config.resume_from_checkpoint)
    failures = []
    for candidate_step, path in candidates:
        try:
            accelerator.load_state(str(path))
            if load_extra is not None:
                load_extra(path)
        except UNREADABLE_CHECKPOINT as error:
            failures.append(f"{path}: {type(error).__name__}: {' '.join(str(error).split())[:200]}")
            log.warning("%s does not load (%s): trying an older checkpoint", path, failures[-1])
            continue
        step = candidate_step
        history = [entry for entry in read_history(output_dir) if entry["step"] <= step]
        log.info("resumed from %s at step %d", path, step)
        break
    else:
        if failures:
            raise UserValueError("no checkpoint could be loaded:\n  " + "\n  ".join(failures))
    if accelerator.is_main_process:
        accelerator.init_trackers(
            project, config={k: str(v) for k, v in to_dict(config).items() if not isinstance(v, dict)}
        )
    return step, history


def save_final(model, config: RunConfig, log, *, kind: str, metrics: dict | None, grid: Path | None) -> Path:
    """``save_pretrained`` and a model card (``common.card``) into output_dir/final,
    atomically; then, with ``push_to_hub``, that folder uploaded to ``hub_model_id`` as it is.
    Call on the main process only."""
    final = Path(config.output_dir) / "final"
    repo = config.hub_model_id or str(final)
    with atomic_directory(final) as staging:
        model.eval().save_pretrained(staging)
        write_model_card(staging, kind=kind, repo=repo, config=to_dict(config), metrics=metrics, grid=grid)
    log.info("wrote %s", final)
    if config.push_to_hub:
        api = HfApi()
        url = api.create_repo(config.hub_model_id, private=config.hub_private, exist_ok=True)
        api.upload_folder(
            repo_id=config.hub_model_id, folder_path=str(final), commit_message="Upload from the VQCT toolkit"
        )
        log.info("pushed %s to %s", final, url)
    return final


def due(step: int, every: int, max_steps: int) -> bool:
    """Whether a periodic action (logging, validation, a checkpoint) runs at ``step``: every
    ``every`` steps, and at the last one."""
    return step % every == 0 or step == max_steps


def record_validation(accelerator: Accelerator, output_dir: Path, history: list[dict], entry: dict) -> None:
    """``entry`` appended to the metrics history, and output_dir/metrics.json rewritten with it."""
    history.append(entry)
    if accelerator.is_main_process:
        write_json(Path(output_dir) / "metrics.json", {"final": entry, "history": history})


def weight_fingerprint(model: torch.nn.Module) -> tuple[list[str], torch.Tensor]:
    """Names and [T, 2] float64 (sum, sum of squares) of every tensor of ``model``'s state."""
    state = model.state_dict()
    values = [t.detach().double() for t in state.values()]
    return list(state), torch.stack([torch.stack([t.sum(), t.square().sum()]) for t in values])


def disagreeing_tensors(names: list[str], fingerprints: torch.Tensor) -> list[str]:
    """The tensors whose fingerprint differs between processes (``fingerprints``: [P, T, 2])."""
    differs = (fingerprints != fingerprints[:1]).any(-1).any(0)
    return [name for name, differ in zip(names, differs.tolist(), strict=True) if differ]


def check_ranks_agree(accelerator: Accelerator, model: torch.nn.Module, log) -> None:
    """Every process must end with the same weights (DDP keeps them in step; a rank that did not,
    e.g. a layer updated outside the synchronised backward, would mean the saved model is only
    rank 0's). Exact comparison of per-tensor fingerprints, gathered from every process."""
    if accelerator.num_processes == 1:
        return
    names, fingerprint = weight_fingerprint(model)
    gathered = accelerator.gather(fingerprint.to(accelerator.device)[None]).cpu()
    differing = disagreeing_tensors(names, gathered)
    if differing:
        raise RuntimeError(
            f"the {accelerator.num_processes} processes ended with different weights in {len(differing)} "
            f"tensors ({', '.join(differing[:5])}): a bug in distributed training, please report it"
        )
    if accelerator.is_main_process:
        log.info("all %d processes hold the same final weights (%d tensors compared)", len(gathered), len(names))


def finish(accelerator: Accelerator, model, config: RunConfig, log, *, kind: str, history: list[dict]) -> Path:
    """After the loop: once every process is done and they are checked to hold the same weights,
    the final model saved by the main one (``save_final``, with the last validation's metrics and
    grid); the trackers closed."""
    accelerator.wait_for_everyone()
    check_ranks_agree(accelerator, model, log)
    final = Path(config.output_dir) / "final"
    if accelerator.is_main_process:
        metrics = history[-1] if history else None
        save_final(model, config, log, kind=kind, metrics=metrics, grid=latest_grid(Path(config.output_dir)))
    accelerator.end_training()
    return final


def latest_grid(output_dir: Path) -> Path | None:
    """The newest image grid under output_dir/samples (for the model card)."""
    grids = sorted((Path(output_dir) / "samples").glob("*.png"))
    return grids[-1] if grids else None


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


def resume_candidates(output_dir: Path, resume: str | None) -> list[tuple[int, Path]]:
    """The checkpoints to try, in order: every one newest first for ``latest`` (none yet: an empty
    list), or the one folder named."""
    if resume is None:
        return []
    if resume == "latest":
        return checkpoints(output_dir)[::-1]
    path = Path(resume)
    match = CHECKPOINT_PATTERN.match(path.name)
    if not path.is_dir() or not match:
        raise UserFileNotFoundError(
            f"resume_from_checkpoint: {path} is not a checkpoint-<step> folder (or use 'latest')"
        )
    return [(int(match.group(1)), path)]


def rotated_out(found: list[tuple[int, Path]], limit: int | None, keep_every: int | None) -> list[Path]:
    """The checkpoints (``found``: (step, folder), oldest first) that rotation removes: all but the
    newest ``limit``, except those whose step is a multiple of ``keep_every``."""
    if limit is None:
        return []
    return [folder for step, folder in found[:-limit] if not (keep_every and step % keep_every == 0)]


def save_checkpoint(
    accelerator,
    output_dir: Path,
    step: int,
    limit: int | None,
    tensors: dict[str, dict[str, torch.Tensor]] | None = None,
    *,
    keep_every: int | None = None,
) -> Path:
    """accelerate's full state (models, optimizers, schedulers, RNGs) and ``tensors`` (name →
    tensors, each written as <name>.safetensors, e.g. an EMA), written atomically, then the oldest
    checkpoints beyond ``limit`` removed (not those at multiples of ``keep_every``). Call on every
    process.

    Extra state goes in as safetensors, never through ``register_for_checkpointing``: accelerate
    reads registered objects back with pickle (``weights_only=False``), so a planted file would
    run code on resume."""
    target = output_dir / "checkpoints" / f"checkpoint-{step}"
    # Every process writes into one staging folder (each adds its own random_states_<rank>.pkl);
    # only when all have finished does the main process move it into place whole.
    staging = target.parent / f".{target.name}.tmp-all-ranks"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for name, named_tensors in (tensors or {}).items():
            save_file(
                {key: value.contiguous() for key, value in named_tensors.items()}, str(staging / f"{name}.safetensors")
            )
        swap_in(staging, target)
        for old in rotated_out(checkpoints(output_dir), limit, keep_every):
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return target


def read_history(output_dir: Path) -> list[dict]:
    path = output_dir / "metrics.json"
    return json.loads(path.read_text()).get("history", []) if path.is_file() else []


def steps_per_epoch(batches: int, accumulation: int) -> int:
    return max(math.floor(batches / accumulation), 1)


def resumable_batches(
    accelerator: Accelerator,
    loader,
    *,
    steps_done: Callable[[], int],
    max_steps: int,
    accumulation: int,
    on_epoch: Callable[[int], None] | None = None,
) -> Iterator:
    """Training batches from where ``steps_done()`` optimizer steps left off, epoch after epoch,
    while fewer than ``max_steps`` are done: the batches an uninterrupted run would see, in its
    order (the sampler is seeded per epoch; a resumed epoch skips what was already seen).
    ``on_epoch(epoch)`` runs before each epoch, e.g. a data set's own augmentation epoch."""
    if len(loader) == 0:  # drop_last with fewer items than a batch: no step would ever be taken
        items, batch = len(loader.dataset), loader.total_batch_size
        raise ConfigError(
            f"the training set has {items} items, fewer than one batch of {batch} (batch_size × processes): "
            "add data or lower batch_size"
        )
    epoch_steps = steps_per_epoch(len(loader), accumulation)
    while steps_done() < max_steps:
        epoch, done_in_epoch = divmod(steps_done(), epoch_steps)
        loader.set_epoch(epoch)  # the sampler's shuffle
        if on_epoch is not None:
            on_epoch(epoch)
        yield from accelerator.skip_first_batches(loader, done_in_epoch * accumulation) if done_in_epoch else loader


def loader_options(config: RunConfig, accelerator: Accelerator, *, persistent: bool = False) -> dict:
    """DataLoader keywords that keep the accelerator fed: ``num_workers`` workers, pinned host
    memory on CUDA (so copies to the GPU run asynchronously), and workers kept alive across
    epochs where ``persistent`` (only for data sets whose items do not depend on the epoch: a
    persistent worker keeps the copy of the data set it started with)."""
    workers = config.num_workers
    cuda = accelerator.device.type == "cuda"
    return {"num_workers": workers, "pin_memory": cuda, "persistent_workers": persistent and workers > 0}


def spread_sample(dataset, count: int) -> Subset:
    """``count`` items spread evenly over the whole of ``dataset`` (all of it when it is smaller):
    the same items at every validation and in every process. A prefix would see only what sorts
    first, e.g. one photograph of a folder sorted by name."""
    size = len(dataset)
    if count >= size:
        return Subset(dataset, range(size))
    return Subset(dataset, [i * size // count for i in range(count)])
