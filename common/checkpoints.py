"""Checkpoints: written atomically and rotated, found again, and resumed from (past a damaged one)."""

from __future__ import annotations

import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import load as accelerate_load
from safetensors import SafetensorError
from safetensors.torch import save_file

from .atomic import raise_if_disk_full, swap_in, tensor_bytes
from .config import to_dict
from .errors import UserFileNotFoundError, UserValueError
from .history import read_history
from .run_config import RunConfig

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
# accelerate's per-process random state file, and what it must hold for the state to be restored
RANDOM_STATE_FILE = "random_states_{}.pkl"
RANDOM_STATE_KEYS = ("random_state", "numpy_random_seed", "torch_manual_seed")
# What loading a damaged checkpoint raises: safetensors' and torch's readers on a cut-short file,
# a missing file, a weights-only unpickler refusing what it finds.
UNREADABLE_CHECKPOINT = (SafetensorError, RuntimeError, EOFError, OSError, ValueError, KeyError, pickle.UnpicklingError)


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
            check_random_states(path, accelerator.num_processes, config.resume_without_random_state, log)
            accelerator.load_state(str(path))
            if load_extra is not None:
                load_extra(path)
        except UNREADABLE_CHECKPOINT as error:
            named = isinstance(error, UserValueError)  # check_random_states' message names the file already
            failures.append(
                str(error) if named else f"{path}: {type(error).__name__}: {' '.join(str(error).split())[:200]}"
            )
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


def check_random_states(folder: Path, num_processes: int, allow_missing: bool, log) -> None:
    """Refuse a checkpoint whose random state files (one a process) are not all there and
    readable: accelerate only logs such a file's failure (at INFO) and trains on from a fresh
    random state, so the run silently diverges from the uninterrupted one. Every process checks
    every file, so all make the same choice. ``allow_missing`` (``resume_without_random_state``)
    resumes anyway, with a warning that says what is lost."""
    problems = []
    for rank in range(num_processes):
        path = folder / RANDOM_STATE_FILE.format(rank)
        try:
            states = accelerate_load(path)
            lacking = [key for key in RANDOM_STATE_KEYS if key not in states]
            if lacking:
                problems.append(f"{path.name} lacks {', '.join(lacking)}")
        except FileNotFoundError:
            problems.append(f"{path.name} is missing")
        except (*UNREADABLE_CHECKPOINT, TypeError) as error:
            problems.append(f"{path.name} is unreadable ({type(error).__name__}: {' '.join(str(error).split())[:120]})")
    if not problems:
        return
    if not allow_missing:
        raise UserValueError(
            f"{folder}: {'; '.join(problems)}: resuming would restart the random state and diverge from the "
            "uninterrupted run; resume from another checkpoint, or set resume_without_random_state=true"
        )
    log.warning(
        "%s: %s; resuming anyway (resume_without_random_state=true): the random state starts afresh, so the data "
        "order, crops, flips, dropout and noise differ from the uninterrupted run's from here on",
        folder,
        "; ".join(problems),
    )


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
    try:
        accelerator.save_state(str(staging))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            for name, named_tensors in (tensors or {}).items():
                save_file(
                    {key: value.contiguous() for key, value in named_tensors.items()},
                    str(staging / f"{name}.safetensors"),
                )
    except (OSError, RuntimeError, SafetensorError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        states = [model.state_dict() for model in accelerator._models] + [
            o.state_dict() for o in accelerator._optimizers
        ]
        raise_if_disk_full(error, target, tensor_bytes([states, tensors]))
        raise
    if accelerator.is_main_process:
        swap_in(staging, target)
        for old in rotated_out(checkpoints(output_dir), limit, keep_every):
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return target
