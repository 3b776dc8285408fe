"""What both train scripts share: the run keys checked before anything runs, and a training set
too small for one batch stopped at once instead of looping forever."""

import pytest
from accelerate import Accelerator
from torch.utils.data import DataLoader

from common.config import ConfigError
from common.runs import RUN_MINIMUMS, RunConfig, check_run_config, read_run_config, resumable_batches


@pytest.mark.parametrize("key", sorted(RUN_MINIMUMS))
def test_every_counting_key_is_checked(key):
    config = RunConfig()
    check_run_config(config)  # the defaults pass
    setattr(config, key, RUN_MINIMUMS[key] - 1)
    with pytest.raises(ConfigError, match=f"^{key}="):
        check_run_config(config)


def test_a_zero_period_from_the_command_line_is_refused_before_the_run(tmp_path):
    with pytest.raises(ConfigError, match="validation_steps=0: must be at least 1"):
        read_run_config(RunConfig, [f"output_dir={tmp_path}", "validation_steps=0"], "test", "configs/")
    with pytest.raises(ConfigError, match="max_steps=-5"):
        read_run_config(RunConfig, ["max_steps=-5"], "test", "configs/")


def test_fewer_items_than_a_batch_is_an_error_not_a_hang():
    accelerator = Accelerator(cpu=True)
    loader = accelerator.prepare(DataLoader(list(range(2)), batch_size=4, drop_last=True))
    batches = resumable_batches(accelerator, loader, steps_done=lambda: 0, max_steps=10, accumulation=1)
    with pytest.raises(ConfigError, match="2 items, fewer than one batch of 4"):
        next(batches)
