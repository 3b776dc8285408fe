"""Overrides as diffusers' scripts write them (--key value, --key=value, a bare --flag for a
boolean) give the config key=value gives, for any key; a flag that is no key names the nearest."""

import pytest

from vqct.common.config import ConfigError, to_dict
from vqct.common.run_config import read_run_config
from vqct.prior import PriorTrainConfig
from vqct.tokenizer import TokenizerTrainConfig


def read(config_type, *argv):
    return to_dict(read_run_config(config_type, list(argv), "test", "tokenizer"))


@pytest.mark.parametrize(
    ("flags", "overrides"),
    [
        (["--max_steps", "5"], ["max_steps=5"]),
        (["--max_steps=5"], ["max_steps=5"]),
        (["--max-steps", "5"], ["max_steps=5"]),
        (["--push_to_hub", "--hub_model_id", "me/tok"], ["push_to_hub=true", "hub_model_id=me/tok"]),
        (["--use_ema", "false"], ["use_ema=false"]),
        (["--data.resolution", "16", "--model.quantizer.beta=0.5"], ["data.resolution=16", "model.quantizer.beta=0.5"]),
        (["--learning_rate", "2e-4", "seed=3"], ["learning_rate=2e-4", "seed=3"]),
    ],
)
def test_flags_give_the_config_key_value_gives(flags, overrides):
    expected = read(TokenizerTrainConfig, "--config", "shapes", *overrides)
    assert read(TokenizerTrainConfig, "--config", "shapes", *flags) == expected
    assert read(TokenizerTrainConfig, *flags, "--config=shapes") == expected  # before --config too


def test_flags_and_key_value_mix_for_the_prior_too():
    config = read_run_config(PriorTrainConfig, ["seed=4", "--max_steps", "3", "tokenizer=t"], "test", "prior")
    assert (config.seed, config.max_steps, config.tokenizer) == (4, 3, "t")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max_step", "5"], "--max_step: not a config key; nearest keys: max_steps (overrides are key=value"),
        (["--bogus"], "--bogus: not a config key (overrides are key=value, --key value or --key=value"),
        (["--max_steps"], "--max_steps: needs a value (--max_steps VALUE, --max_steps=VALUE or max_steps=VALUE)"),
    ],
)
def test_a_flag_that_is_no_key_or_lacks_its_value_is_one_error(argv, message):
    with pytest.raises(ConfigError) as error:
        read_run_config(TokenizerTrainConfig, argv, "test", "tokenizer")
    assert str(error.value).startswith(message)
