"""What ``prior.sample``, ``prior.evaluate`` and the app share to sample a trained prior: its
sampling flags, and the validation maps of the data set it was trained on."""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from common.device import default_device
from common.errors import UserError, UserValueError
from tokenizer import DataConfig, build_dataset

from .config import SamplingConfig
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


def validation_examples(model: VQCTPrior, num: int, *, built_in_only: bool = False) -> dict[str, torch.Tensor]:
    """The first ``num`` validation items ("image", and "label" where there are maps) of the data
    set the prior was trained on (``validation_set``)."""
    dataset = validation_set(model, built_in_only=built_in_only, at_least=num)
    if len(dataset) < num:
        raise UserValueError(f"the validation split has {len(dataset)} items, fewer than --num {num}")
    items = [dataset[i] for i in range(num)]
    return {key: torch.stack([item[key] for item in items]) for key in ("image", "label") if key in items[0]}


def add_sampling_flags(parser: argparse.ArgumentParser) -> None:
    """The sampling flags ``prior.sample`` and ``prior.evaluate`` share; a sampling option left out
    keeps the prior's own (``VQCTPrior.sampling``, from its train config)."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=default_device(), help="cpu, cuda, cuda:N or mps (default: %(default)s)")
    parser.add_argument("--temperature", type=float, help="default: the prior's")
    parser.add_argument("--top-k", type=int, help="autoregressive priors, 0 = off (default: the prior's)")
    parser.add_argument(
        "--guidance", type=float, help="classifier-free guidance scale, 1 = none (default: the prior's)"
    )
    parser.add_argument("--batch-size", type=int, help="images sampled at once (default: the prior's)")


def sampling_from_flags(model: VQCTPrior, args: argparse.Namespace, **more) -> SamplingConfig:
    sampling = model.sampling_with(
        temperature=args.temperature, top_k=args.top_k, guidance_scale=args.guidance, batch_size=args.batch_size, **more
    )
    return replace(sampling, top_k=None) if args.top_k == 0 else sampling
