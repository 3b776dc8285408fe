"""A run's output folder is checked before anything is written: a file in the way, a checkpoint
that is not there and another run's config are refused with nothing written, and a run continued
in its folder may change only how long it runs and how often it reports."""

import logging

import pytest
from accelerate.state import AcceleratorState

from vqct.common.accelerator import make_accelerator
from vqct.common.config import ConfigError
from vqct.common.errors import UserFileNotFoundError
from vqct.common.run_config import RunConfig


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_an_output_dir_that_is_a_file_is_named_and_left_alone(tmp_path):
    path = tmp_path / "taken"
    path.write_text("mine")
    with pytest.raises(ConfigError, match=r"output_dir=.*taken: .*taken is a file, not a folder"):
        make_accelerator(RunConfig(output_dir=str(path)))
    with pytest.raises(ConfigError, match=r"taken is a file, not a folder"):
        make_accelerator(RunConfig(output_dir=str(path / "run")))
    assert path.read_text() == "mine"


def test_a_checkpoint_that_is_not_there_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(UserFileNotFoundError, match="resume_from_checkpoint"):
        make_accelerator(RunConfig(output_dir=str(out), resume_from_checkpoint=str(tmp_path / "checkpoint-9")))
    assert not out.exists()


def test_another_runs_config_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    make_accelerator(RunConfig(output_dir=str(out), seed=1))
    AcceleratorState._reset_state(reset_partial_state=True)
    saved = (out / "config.yaml").read_text()
    with pytest.raises(
        ConfigError, match=r"another config \(seed: 1 → 2, batch_size: 16 → 8\)|batch_size: 16 → 8, seed"
    ):
        make_accelerator(RunConfig(output_dir=str(out), seed=2, batch_size=8))
    assert (out / "config.yaml").read_text() == saved


def test_a_continued_run_may_change_its_length_and_periods_and_says_which(tmp_path, caplog):
    out = tmp_path / "run"
    make_accelerator(RunConfig(output_dir=str(out)))
    AcceleratorState._reset_state(reset_partial_state=True)
    with caplog.at_level(logging.INFO):
        make_accelerator(RunConfig(output_dir=str(out), max_steps=5000, log_steps=3))
    assert any("changed log_steps, max_steps" in record.getMessage() for record in caplog.records)
    assert "max_steps: 5000" in (out / "config.yaml").read_text()


# a run's main process as far as the lock goes: it takes it, says so, and waits
HOLD = (
    "import sys, pathlib; from vqct.common.run_lock import hold_output_dir; "
    "hold_output_dir(pathlib.Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()"
)


def test_a_folder_in_use_is_refused_by_pid_and_host_and_a_killed_runs_lock_is_taken_over(tmp_path, caplog):
    import socket
    import subprocess
    import sys

    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(ConfigError, match=r"output_dir=.*run is in use by another run \(PID ") as caught:
            make_accelerator(RunConfig(output_dir=str(out)))
        assert f"PID {holder.pid} on {socket.gethostname()}" in str(caught.value)
        assert not (out / "config.yaml").exists()  # refused before its first file
    finally:
        holder.kill()  # as by SIGKILL: no chance to release the lock
        holder.wait()
    with caplog.at_level(logging.WARNING):
        make_accelerator(RunConfig(output_dir=str(out)))
    assert f'"pid": {holder.pid}' in caplog.text and "stale lock" in caplog.text
    assert (out / "config.yaml").is_file()
