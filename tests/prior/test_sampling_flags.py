"""The sampling flags: one per ``SamplingConfig`` key, named as the key; 0.1's spellings still work."""

import argparse
import logging
import re

import pytest

from vqct.common.config import ConfigError
from vqct.prior import PriorConfig, SamplingConfig, VQCTPrior
from vqct.prior.sampling_flags import add_sampling_flags, flag, sampling_from_flags


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_sampling_flags(parser)
    return parser.parse_args(argv)


def test_every_sampling_key_has_its_flag():
    options = {action.dest for action in argparse.ArgumentParser()._actions}
    parser = argparse.ArgumentParser()
    add_sampling_flags(parser)
    named = {option for action in parser._actions for option in action.option_strings} - options
    for key in SamplingConfig.__dataclass_fields__:
        assert flag(key) in named, key


@pytest.mark.parametrize(
    "old, new, key, value",
    [
        (["--guidance", "2.5"], "--guidance-scale", "guidance_scale", 2.5),
        (["--no-cache"], "--no-use-cache", "use_cache", False),
    ],
)
def test_old_flag_spellings_set_their_key_and_name_the_new_flag(old, new, key, value, caplog):
    with caplog.at_level(logging.WARNING):
        args = parse(*old)
    assert getattr(args, key) == value
    assert any(old[0] in record.getMessage() and new in record.getMessage() for record in caplog.records)


def test_a_flag_left_out_keeps_the_priors_own_value():
    args = parse("--top-k", "5")
    assert args.top_k == 5 and args.temperature is None and args.use_cache is None


class StandIn:
    """What sampling_from_flags reads of a VQCTPrior: its sampling defaults and its kind."""

    def __init__(self, kind="autoregressive"):
        self.sampling = SamplingConfig()
        self.prior_config = PriorConfig(kind=kind)

    sampling_with = VQCTPrior.sampling_with


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--top-k", "-3"], "--top-k=-3"),
        (["--top-p", "1.5"], "--top-p=1.5"),
        (["--guidance-scale", "nan"], "--guidance-scale=nan: must be a finite number"),
        (["--guidance", "nan"], "--guidance-scale=nan"),
        (["--temperature", "-1"], "--temperature=-1"),
    ],
)
def test_a_nonsense_flag_value_is_refused_naming_the_flag(argv, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        sampling_from_flags(StandIn(), parse(*argv))


def test_top_k_0_turns_top_k_off():
    assert sampling_from_flags(StandIn(), parse("--top-k", "0")).top_k is None


@pytest.mark.parametrize("value", ["-1", str(2**63), "1.5", "x"])
def test_a_seed_the_generator_cannot_take_is_one_usage_line(value, capsys):
    with pytest.raises(SystemExit) as done:
        parse("--seed", value)
    assert done.value.code == 2
    assert "argument --seed: must be" in capsys.readouterr().err
    assert parse("--seed", str(2**63 - 1)).seed == 2**63 - 1
