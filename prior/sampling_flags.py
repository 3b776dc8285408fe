"""The sampling options as command-line flags, each named as its key (``--guidance-scale`` for
``sampling.guidance_scale``), shared by ``vqct-sample`` and ``vqct-evaluate prior``. A flag left out
keeps the prior's own option (``VQCTPrior.sampling``, from its train config); every value is checked
by the same rule as the config key (``common.config.check_values``) before any sampling."""

from __future__ import annotations

import argparse
import logging
import typing
from dataclasses import fields

from vqct.common.config import check_values
from vqct.common.device import add_device_flag

from .config import SamplingConfig
from .pretrained import VQCTPrior

log = logging.getLogger(__name__)

HELP = {
    "temperature": "0 = greedy (a masked prior: with --choice-temperature 0, also its fill order)",
    "top_k": "autoregressive priors; 0 = off",
    "top_p": "autoregressive priors: nucleus sampling",
    "guidance_scale": "classifier-free guidance scale; 1 = none",
    "use_cache": "autoregressive priors: the KV cache",
    "steps": "masked priors: MaskGIT rounds",
    "choice_temperature": "masked priors",
    "batch_size": "images sampled at once",
}
# spellings of an earlier release, still taken with a notice: old flag → (key, value it sets or None)
RENAMED_FLAGS = {"--guidance": ("guidance_scale", None), "--no-cache": ("use_cache", False)}


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


class Renamed(argparse.Action):
    """An old flag: sets its key as the new flag would, and says what it is called now."""

    def __init__(self, option_strings, dest, constant=None, **kwargs):
        self.constant = constant
        super().__init__(option_strings, dest, nargs=0 if constant is not None else None, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        new = flag(self.dest)
        log.warning(
            "%s is now %s%s; the old spelling works for this release",
            option_string,
            new,
            "" if self.constant is None else f" false (--no-{new[2:]})",
        )
        setattr(namespace, self.dest, self.constant if self.constant is not None else values)


# the seeds taken (the app's too): what torch.Generator.manual_seed takes, without the negative
# ones it folds onto others
SEED_LIMIT = 2**63


def seed(text: str) -> int:
    """``--seed``: a whole number in 0 .. 2**63 - 1, refused by argparse (one usage line) before
    anything is written."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be from 0 to {SEED_LIMIT - 1}, got {value}")
    return value


def add_sampling_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=seed, default=0, help="random seed of the sampling (default 0)")
    add_device_flag(parser)
    hints = typing.get_type_hints(SamplingConfig)
    for field in fields(SamplingConfig):
        kind = hints[field.name]
        if kind is bool:
            parser.add_argument(flag(field.name), action=argparse.BooleanOptionalAction, help=HELP[field.name])
            continue
        number = float if float in typing.get_args(kind) or kind is float else int
        parser.add_argument(flag(field.name), type=number, help=f"{HELP[field.name]} (default: the prior's)")
    for old, (key, constant) in RENAMED_FLAGS.items():
        parser.add_argument(
            old,
            dest=key,
            action=Renamed,
            constant=constant,
            type=None if constant is not None else float,
            help=argparse.SUPPRESS,
        )


def sampling_from_flags(model: VQCTPrior, args: argparse.Namespace) -> SamplingConfig:
    """The prior's sampling options with the flags given applied, checked as the config keys are."""
    given = {field.name: getattr(args, field.name) for field in fields(SamplingConfig)}
    off = given["top_k"] == 0  # the flag's "off", which the config spells null
    sampling = model.sampling_with(**{**given, "top_k": None if off else given["top_k"]})
    if off:
        sampling.top_k = None
    check_values(sampling, name=flag)
    sampling.options(model.prior_config.kind)  # an option of the other prior kind: one error naming it
    return sampling
