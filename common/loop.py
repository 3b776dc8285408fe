"""The batch loop both train scripts share: the batches an uninterrupted run would see from any
step on, periodic actions, and data loader options."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from accelerate import Accelerator
from torch.utils.data import Subset

from .config import ConfigError
from .run_config import RunConfig


def due(step: int, every: int, max_steps: int) -> bool:
    """Whether a periodic action (logging, validation, a checkpoint) runs at ``step``: every
    ``every`` steps, and at the last one."""
    return step % every == 0 or step == max_steps


def steps_per_epoch(batches: int, accumulation: int) -> int:
    return max(math.floor(batches / accumulation), 1)


def resumable_batches(
    accelerator: Accelerator,
    loader,
    *,
    start_step: int,
    max_steps: int,
    accumulation: int,
    on_epoch: Callable[[int], None] | None = None,
) -> Iterator:
    """Training batches from optimizer step ``start_step`` while fewer than ``max_steps`` steps are
    done: the batches an uninterrupted run would see, in its order (the sampler is seeded per
    epoch; a resumed epoch skips what was already seen). The caller trains on each batch inside
    ``accelerator.accumulate`` before asking for the next; a step counts where accelerate synced
    the gradients. ``on_epoch(epoch)`` runs before each epoch, e.g. a data set's augmentation epoch."""
    if len(loader) == 0:  # drop_last with fewer items than a batch: no step would ever be taken
        items, batch = len(loader.dataset), loader.total_batch_size
        raise ConfigError(
            f"the training set has {items} items, fewer than one batch of {batch} (batch_size × processes): "
            "add data or lower batch_size"
        )
    epoch_steps = steps_per_epoch(len(loader), accumulation)
    step = start_step
    while step < max_steps:
        epoch, done_in_epoch = divmod(step, epoch_steps)
        loader.set_epoch(epoch)  # the sampler's shuffle
        if on_epoch is not None:
            on_epoch(epoch)
        for batch in accelerator.skip_first_batches(loader, done_in_epoch * accumulation) if done_in_epoch else loader:
            yield batch
            # back here once the caller is done with the batch: accelerate synced the gradients (the
            # caller's optimizer step) at every ``accumulation``-th batch and at the epoch's end
            if accelerator.sync_gradients:
                step += 1


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
