"""Resuming runs no code from a checkpoint: every file a prior's checkpoint holds is read as
safetensors or with torch's weights-only unpickler, so a planted pickle is refused or ignored."""

import logging
import shutil
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

from vqct.common.checkpoints import resume, save_checkpoint
from vqct.common.ema import EMA_FILE, EMA_NAME, WeightAverage
from vqct.common.run_config import RunConfig

LOG = logging.getLogger("test")


class Planted:
    """Unpickling this creates ``marker``: proof that a loader ran code from the file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def training_state(accelerator: Accelerator):
    model = torch.nn.Linear(4, 4)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    return model, WeightAverage(model, 0.9, accelerator.device)


def resume_from(accelerator: Accelerator, folder: Path, ema: WeightAverage) -> None:
    config = RunConfig(output_dir=str(folder.parent.parent), resume_from_checkpoint=str(folder))
    resume(accelerator, config, "test", LOG, lambda path: ema.load(path / EMA_FILE, accelerator.device))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    accelerator = Accelerator(cpu=True)
    model, ema = training_state(accelerator)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.step()
    out = tmp_path_factory.mktemp("run")
    folder = save_checkpoint(accelerator, out, 1, None, {EMA_NAME: ema.tensors()})
    return folder, [weight.clone() for weight in ema.ema.shadow_params]


def test_a_clean_checkpoint_resumes_with_its_ema(checkpoint, tmp_path):
    folder, saved = checkpoint
    accelerator = Accelerator(cpu=True)
    _, ema = training_state(accelerator)
    resume_from(accelerator, folder, ema)
    assert all(torch.equal(a, b) for a, b in zip(ema.ema.shadow_params, saved, strict=True))
    assert ema.ema.optimization_step == 1


def test_the_checkpoint_holds_no_pickled_custom_state(checkpoint):
    folder, _ = checkpoint
    names = sorted(p.name for p in folder.iterdir())
    assert EMA_FILE in names and not [name for name in names if name.startswith("custom_checkpoint")]


@pytest.mark.parametrize(
    "planted_as",
    ["model.safetensors", "optimizer.bin", "scheduler.bin", "random_states_0.pkl", EMA_FILE, "custom_checkpoint_0.pkl"],
)
def test_a_planted_pickle_runs_nothing(checkpoint, tmp_path, planted_as):
    folder, _ = checkpoint
    copy = tmp_path / "run" / "checkpoints" / folder.name
    shutil.copytree(folder, copy)
    marker = tmp_path / "code-ran"
    torch.save(Planted(marker), copy / planted_as)
    accelerator = Accelerator(cpu=True)
    _, ema = training_state(accelerator)
    try:
        resume_from(accelerator, copy, ema)
    except Exception:  # refusing the file is fine; running it is not
        pass
    assert not marker.exists()
