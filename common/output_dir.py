"""A run's output folder, checked before anything is written into it: nothing in the way (a file
where a folder goes), the checkpoint to resume from there, and no other run's config overwritten.
A refused run leaves the folder as it found it."""

from __future__ import annotations

import logging
from pathlib import Path

from .checkpoints import resume_candidates
from .config import ConfigError, dotted, load_config

log = logging.getLogger(__name__)
CONFIG_FILE = "config.yaml"
# Keys a run may change when it continues in its folder: how long it runs and how often it
# logs, checkpoints and validates, none of which changes what is trained.
CHANGEABLE_KEYS = (
    "output_dir",
    "max_steps",
    "resume_from_checkpoint",
    "resume_without_random_state",
    "log_steps",
    "validation_steps",
    "validation_batches",
    "fid_steps",
    "num_samples",
    "checkpointing_steps",
    "checkpoints_total_limit",
    "checkpoints_keep_every",
    "num_workers",
    "report_to",
    "push_to_hub",
    "hub_model_id",
    "hub_private",
)


def check_output_dir(config) -> None:
    """Refuse, before any file is written, a run whose ``output_dir`` cannot be its own."""
    output_dir = Path(config.output_dir)
    for folder in (output_dir, *output_dir.parents):
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"output_dir={config.output_dir}: {folder} is a file, not a folder")
    resume_candidates(output_dir, config.resume_from_checkpoint)  # a named checkpoint that is not there
    saved = output_dir / CONFIG_FILE
    if not saved.is_file():
        return
    try:
        before = dotted(load_config(type(config), saved))
    except ConfigError as error:
        raise ConfigError(
            f"output_dir={config.output_dir} holds a run whose {CONFIG_FILE} does not load ({error}); "
            "use another output_dir"
        ) from None
    now = dotted(config)
    changed = sorted(key for key in before.keys() | now.keys() if before.get(key) != now.get(key))
    fixed = [key for key in changed if key.split(".")[0] not in CHANGEABLE_KEYS]
    if fixed:
        shown = ", ".join(f"{key}: {before.get(key)!r} → {now.get(key)!r}" for key in fixed[:8])
        more = f" and {len(fixed) - 8} more" if len(fixed) > 8 else ""
        raise ConfigError(
            f"output_dir={config.output_dir} holds a run trained with another config ({shown}{more}); "
            f"use another output_dir, or the run's own config ({saved})"
        )
    if changed:
        log.info("continuing the run in %s with changed %s", output_dir, ", ".join(changed))
