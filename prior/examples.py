"""Example label maps: the validation split of the data set a prior was trained on, where the
commands and the app take maps when the user gives none."""

from __future__ import annotations

from dataclasses import replace

import torch

from vqct.common.errors import UserError, UserValueError
from vqct.tokenizer import DataConfig, build_dataset

from .pretrained import VQCTPrior

# The data sets that ship with the toolkit: reading them touches no file of the user's.
BUILT_IN_KINDS = ("shapes", "photos")


def validation_set(model: VQCTPrior, *, built_in_only: bool = False, at_least: int = 0):
    """The validation split of the data set the prior was trained on (the procedural shapes made
    ``at_least`` long). ``built_in_only`` (the app): only a built-in data set, from its built-in
    source, so that a downloaded model cannot point at a folder of the user's."""
    data = DataConfig(**model.data).evaluation_view()
    if built_in_only:
        if data.kind not in BUILT_IN_KINDS:
            raise UserValueError(
                f"the prior was trained on data.kind={data.kind}: examples come from the built-in data sets only"
            )
        data = replace(data, root=None)
    if data.kind == "shapes":
        data.validation_length = max(data.validation_length, at_least)
    try:
        return build_dataset(data)
    except UserError as error:
        raise UserValueError(
            f"the prior's data set (data.kind={data.kind}) cannot be read here ({error}); pass --cond MAP.png"
        ) from None


def validation_size(model: VQCTPrior) -> int:
    """How many items the prior's validation split holds (``--num all``)."""
    return len(validation_set(model))


def validation_examples(
    model: VQCTPrior, num: int, *, start: int = 0, built_in_only: bool = False
) -> dict[str, torch.Tensor]:
    """``num`` validation items from item ``start`` on ("image", and "label" where there are maps)
    of the data set the prior was trained on (``validation_set``)."""
    dataset = validation_set(model, built_in_only=built_in_only, at_least=start + num)
    if len(dataset) < start + num:
        raise UserValueError(f"the validation split has {len(dataset)} items, fewer than --num {start + num}")
    items = [dataset[i] for i in range(start, start + num)]
    return {key: torch.stack([item[key] for item in items]) for key in ("image", "label") if key in items[0]}
