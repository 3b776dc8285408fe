"""What both train scripts share: the run keys checked before anything runs, a training set too
small for one batch stopped at once instead of looping forever, and resuming past a damaged
checkpoint."""

import logging

import pytest
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

from tests import ROOT
from vqct.common.checkpoints import checkpoints, resume, save_checkpoint
from vqct.common.config import ConfigError
from vqct.common.errors import UserValueError
from vqct.common.final import disagreeing_tensors, weight_fingerprint
from vqct.common.loop import resumable_batches
from vqct.common.run_config import LR_SCHEDULERS, RunConfig, check_run_config, read_run_config
from vqct.common.trackers import tracker_for

# the run keys that count or divide, each with the smallest value it can take
RUN_MINIMUMS = {
    "max_steps": 1,
    "batch_size": 1,
    "gradient_accumulation_steps": 1,
    "checkpointing_steps": 1,
    "checkpoints_total_limit": 1,
    "checkpoints_keep_every": 1,
    "validation_steps": 1,
    "validation_batches": 1,
    "log_steps": 1,
    "num_workers": 0,
    "lr_warmup_steps": 0,
    "max_grad_norm": 0,
    "seed": 0,
}


@pytest.mark.parametrize("key", sorted(RUN_MINIMUMS))
def test_every_counting_key_is_checked(key):
    config = RunConfig()
    check_run_config(config)  # the defaults pass
    setattr(config, key, RUN_MINIMUMS[key])
    check_run_config(config)  # the smallest allowed value passes
    setattr(config, key, RUN_MINIMUMS[key] - 1)
    with pytest.raises(ConfigError, match=f"^{key}=-?[0-9.]+: must be at least {RUN_MINIMUMS[key]}$"):
        check_run_config(config)


@pytest.mark.parametrize("stage", ["tokenizer", "prior"])
@pytest.mark.parametrize("key", ["lr_warmup_steps", "max_grad_norm"])
def test_each_stage_keeps_the_range_of_a_run_key_whose_default_it_changes(stage, key):
    from vqct.prior import PriorTrainConfig
    from vqct.tokenizer import TokenizerTrainConfig

    config = {"tokenizer": TokenizerTrainConfig, "prior": PriorTrainConfig}[stage]()
    setattr(config, key, -1)
    with pytest.raises(ConfigError, match=f"^{key}=-1: must be at least 0$"):
        check_run_config(config)


def test_the_scheduler_names_are_diffusers_own():
    from diffusers.optimization import SchedulerType

    assert set(LR_SCHEDULERS) == {kind.value for kind in SchedulerType}


@pytest.mark.parametrize(
    "override, message",
    [
        ("lr_scheduler=cosin", "lr_scheduler='cosin': must be one of linear, cosine, .*; did you mean 'cosine'\\?"),
        (
            "mixed_precision=bf61",
            "mixed_precision=bf61: must be one of no, fp16, bf16, fp8, or unset; did you mean 'bf16'\\?",
        ),
        ("model.quantizer.kind=duel", "model.quantizer.kind='duel': must be one of .*; did you mean 'dual'\\?"),
        ("data.kind=shapse", "data.kind='shapse': must be one of .*; did you mean 'shapes'\\?"),
    ],
)
def test_a_misspelt_choice_is_refused_with_a_suggestion_before_anything_is_written(tmp_path, override, message):
    from vqct.tokenizer import TokenizerTrainConfig

    output_dir = tmp_path / "run"
    with pytest.raises(ConfigError, match=f"^{message}$"):
        read_run_config(TokenizerTrainConfig, [f"output_dir={output_dir}", override], "test", "tokenizer")
    assert not output_dir.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1.5", "0"])
def test_ema_decay_is_a_finite_number_between_0_and_1(value, tmp_path):
    with pytest.raises(ConfigError, match=f"^ema_decay={float(value)}: must be"):
        read_run_config(RunConfig, [f"output_dir={tmp_path}", f"ema_decay={value}"], "test", "tokenizer")


def test_fp8_without_its_backend_is_named(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="mixed_precision=fp8 needs NVIDIA's transformer_engine"):
        check_run_config(RunConfig(mixed_precision="fp8"))


def test_a_zero_period_from_the_command_line_is_refused_before_the_run(tmp_path):
    with pytest.raises(ConfigError, match="validation_steps=0: must be at least 1"):
        read_run_config(RunConfig, [f"output_dir={tmp_path}", "validation_steps=0"], "test", "tokenizer")
    with pytest.raises(ConfigError, match="max_steps=-5"):
        read_run_config(RunConfig, ["max_steps=-5"], "test", "tokenizer")


def test_fewer_items_than_a_batch_is_an_error_not_a_hang():
    accelerator = Accelerator(cpu=True)
    loader = accelerator.prepare(DataLoader(list(range(2)), batch_size=4, drop_last=True))
    batches = resumable_batches(accelerator, loader, start_step=0, max_steps=10, accumulation=1)
    with pytest.raises(ConfigError, match="2 items, fewer than one batch of 4"):
        next(batches)


def saved_run(tmp_path, steps, limit=None, keep_every=None):
    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(3, 3))
    for step in steps:
        with torch.no_grad():
            model.weight.fill_(float(step))
        save_checkpoint(accelerator, tmp_path, step, limit, keep_every=keep_every)
    return accelerator, model


@pytest.mark.parametrize("keep_every, kept", [(None, [8, 10]), (4, [4, 8, 10]), (5, [5, 8, 10])])
def test_rotation_keeps_the_newest_and_every_kept_step(tmp_path, keep_every, kept):
    saved_run(tmp_path, [2, 4, 5, 6, 8, 10], limit=2, keep_every=keep_every)
    assert [step for step, _ in checkpoints(tmp_path)] == kept


def test_a_zero_keep_every_is_a_config_error():
    with pytest.raises(ConfigError, match="checkpoints_keep_every=0"):
        check_run_config(RunConfig(checkpoints_keep_every=0))


def test_ranks_that_disagree_are_named():
    names, fingerprint = weight_fingerprint(torch.nn.Linear(3, 2))
    assert names == ["weight", "bias"]
    same = torch.stack([fingerprint, fingerprint])
    assert disagreeing_tensors(names, same) == []
    drifted = same.clone()
    drifted[1, 1, 0] += 1e-12  # rank 1's bias off in the last bits
    assert disagreeing_tensors(names, drifted) == ["bias"]


def test_latest_passes_over_a_damaged_checkpoint_for_the_newest_that_loads(tmp_path, caplog):
    accelerator, model = saved_run(tmp_path, [1, 2])
    damaged = tmp_path / "checkpoints" / "checkpoint-2" / "model.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:50])  # cut short, as by a full disk
    config = RunConfig(output_dir=str(tmp_path), resume_from_checkpoint="latest")
    with caplog.at_level(logging.WARNING):
        step, _ = resume(accelerator, config, "test", logging.getLogger("test"))
    assert step == 1 and torch.all(model.weight == 1.0)
    assert "checkpoint-2 does not load" in caplog.text


def test_no_loadable_checkpoint_is_one_error_naming_each(tmp_path):
    accelerator, _ = saved_run(tmp_path, [1, 2])
    for step in (1, 2):
        (tmp_path / "checkpoints" / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"x")
    config = RunConfig(output_dir=str(tmp_path), resume_from_checkpoint="latest")
    with pytest.raises(UserValueError, match="no checkpoint could be loaded") as caught:
        resume(accelerator, config, "test", logging.getLogger("test"))
    assert "checkpoint-1" in str(caught.value) and "checkpoint-2" in str(caught.value)


@pytest.mark.parametrize("damage", ["missing", "cut short"])
def test_a_checkpoint_without_its_random_state_is_refused_by_name(tmp_path, damage):
    accelerator, _ = saved_run(tmp_path, [1])
    states = tmp_path / "checkpoints" / "checkpoint-1" / "random_states_0.pkl"
    if damage == "missing":
        states.unlink()
    else:
        states.write_bytes(states.read_bytes()[:40])
    config = RunConfig(output_dir=str(tmp_path), resume_from_checkpoint=str(states.parent))
    with pytest.raises(
        UserValueError, match="random_states_0.pkl is (missing|unreadable).*resume_without_random_state"
    ):
        resume(accelerator, config, "test", logging.getLogger("test"))


def test_resuming_without_the_random_state_is_an_opt_in_that_says_what_is_lost(tmp_path, caplog):
    accelerator, model = saved_run(tmp_path, [1, 2])
    (tmp_path / "checkpoints" / "checkpoint-2" / "random_states_0.pkl").unlink()
    config = RunConfig(output_dir=str(tmp_path), resume_from_checkpoint="latest")
    with caplog.at_level(logging.WARNING):
        assert resume(accelerator, config, "test", logging.getLogger("test"))[0] == 1  # passed over
    config.resume_without_random_state = True
    with caplog.at_level(logging.WARNING):
        assert resume(accelerator, config, "test", logging.getLogger("test"))[0] == 2
    assert torch.all(model.weight == 2.0)
    assert "random_states_0.pkl is missing; resuming anyway" in caplog.text and "data order" in caplog.text


def test_a_full_disk_during_a_checkpoint_or_the_final_save_says_so_and_how_much_is_needed(tmp_path, monkeypatch):
    import errno

    from vqct.common.atomic import DiskFullError
    from vqct.common.final import save_final

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    accelerator, model = saved_run(tmp_path, [1])
    monkeypatch.setattr(accelerator, "save_state", full)
    with pytest.raises(DiskFullError, match=r"^no space left on /.* to write .*checkpoint-2 \(needs ~0\.0 MB, "):
        save_checkpoint(accelerator, tmp_path, 2, None)
    assert [step for step, _ in checkpoints(tmp_path)] == [1]  # the staging folder removed, the last one kept
    assert not list((tmp_path / "checkpoints").glob(".*"))
    model.save_pretrained = full
    model.record_card = lambda **record: None  # what a SafePretrained model has (common.hub); a bare Linear has not
    with pytest.raises(DiskFullError, match=r"^no space left on /.* to write .*final \(needs ~"):
        save_final(
            model, RunConfig(output_dir=str(tmp_path)), logging.getLogger("test"), kind="x", metrics=None, grid=None
        )
    assert not (tmp_path / "final").exists()


@pytest.mark.parametrize(
    "configured, launched, expected", [(None, "bf16", "bf16"), ("no", "bf16", "no"), (None, None, "no")]
)
def test_precision_comes_from_the_launcher_unless_the_config_sets_it(
    tmp_path, monkeypatch, configured, launched, expected
):
    """`accelerate launch --mixed_precision bf16` reaches the script as ACCELERATE_MIXED_PRECISION; a
    value in the config wins over it, so the shipped configs leave the key unset unless they mean it."""
    from accelerate.state import AcceleratorState

    from vqct.common.accelerator import make_accelerator

    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION", raising=False)
    if launched:
        monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", launched)
    setting = {} if configured is None else {"mixed_precision": configured}  # None: the default
    AcceleratorState._reset_state(reset_partial_state=True)  # as a fresh launch finds it
    try:
        assert make_accelerator(RunConfig(output_dir=str(tmp_path), **setting)).mixed_precision == expected
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


@pytest.mark.parametrize("override, expected", [("mixed_precision=no", "no"), ("mixed_precision=bf16", "bf16")])
def test_a_bare_no_for_the_precision_means_no(tmp_path, override, expected):
    """YAML reads a bare `no` as false; the run takes it as "no", not as an unknown mode."""
    config = read_run_config(RunConfig, [f"output_dir={tmp_path}", override], "test", "tokenizer")
    assert config.mixed_precision == expected


def test_an_unknown_precision_names_the_key():
    with pytest.raises(ConfigError, match="mixed_precision=fp64: must be one of no, fp16, bf16"):
        check_run_config(RunConfig(mixed_precision="fp64"))


def test_print_config_shows_the_resolved_config_and_help_lists_every_key(capsys):
    from vqct.tokenizer import TokenizerTrainConfig

    with pytest.raises(SystemExit) as done:
        read_run_config(
            TokenizerTrainConfig,
            ["--config", str(ROOT / "configs/tokenizer/shapes.yaml"), "max_steps=5", "--print-config"],
            "",
            "tokenizer",
        )
    printed = capsys.readouterr().out
    assert done.value.code == 0 and "max_steps: 5\n" in printed and "disc_start: 2000" in printed  # YAML, then override
    with pytest.raises(SystemExit):
        read_run_config(TokenizerTrainConfig, ["--help"], "", "tokenizer")
    assert "loss.disc_start: 0" in capsys.readouterr().out  # the schema's default


def test_a_tracker_that_is_not_installed_is_named_before_the_run(monkeypatch):
    assert tracker_for("tensorboard") == "tensorboard" and tracker_for("none") is None
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="report_to=wandb needs the wandb package: pip install wandb"):
        tracker_for("wandb")
    with pytest.raises(ConfigError, match="report_to=tensorbord: must be one of"):
        tracker_for("tensorbord")


@pytest.mark.parametrize("value, message", [("nan", "must be a finite number"), ("-1", "must be at least 0")])
@pytest.mark.parametrize("stage", ["tokenizer", "prior"])
def test_a_learning_rate_that_is_not_a_rate_is_named_before_the_run(stage, value, message, tmp_path):
    from vqct.prior import PriorTrainConfig
    from vqct.tokenizer import TokenizerTrainConfig

    schema = TokenizerTrainConfig if stage == "tokenizer" else PriorTrainConfig
    with pytest.raises(ConfigError, match=f"learning_rate={value}.*: {message}"):
        read_run_config(schema, [f"output_dir={tmp_path}", f"learning_rate={value}"], "test", stage)
    assert not any(tmp_path.iterdir())
