"""The real training script on data.kind=hf and data.kind=webdataset: a run stopped after a
checkpoint and resumed ends with the uninterrupted run's weights, so both kinds give the seedable
sampler's order, epoch after epoch, and a resumed epoch skips what was seen (one process, and two
for the shards: each process reads its own part of every epoch)."""

import json
import shutil

import pytest
import torch

from tests.tokenizer.data.tiny_sets import write_ade20k, write_hf_saved, write_shards
from tests.tokenizer.test_train import launch, run, train, weights

STEPS = ["max_steps=4", "checkpointing_steps=2", "validation_steps=100", "data.crop=random", "data.flip=true"]


def _hf(tmp_path):
    pytest.importorskip("datasets")
    return [f"data.root={write_hf_saved(write_ade20k(tmp_path / 'files'), tmp_path / 'hf')}", "data.label_column=seg"]


def _webdataset(tmp_path):
    shards = write_shards(write_ade20k(tmp_path / "files"), tmp_path / "shards")
    return [
        f"data.root={shards}",
        "data.shards.train=train-{000000..000001}.tar",
        "data.shards.validation=validation-000000.tar",
        "data.label_extension=seg.png",
    ]


@pytest.mark.parametrize(
    "kind, data, processes",
    [
        pytest.param("hf", _hf, 1, id="hf"),
        pytest.param("webdataset", _webdataset, 2, id="webdataset-2-processes", marks=pytest.mark.slow),
    ],
)
def test_a_resumed_run_ends_with_the_uninterrupted_weights(tmp_path, tiny_language_codebook_dir, kind, data, processes):
    # 6 train images: one batch of 4 an epoch (2 × 2 with two processes), so 4 steps are 4 epochs
    options = [f"data.kind={kind}", *data(tmp_path), *STEPS, f"batch_size={4 // processes}"]

    def train_to(output_dir, *extra):  # two processes need the launcher; one runs in this process
        if processes == 1:
            return train(output_dir, *options, *extra, prior_dir=tiny_language_codebook_dir)
        return run(launch(output_dir, *options, *extra, prior_dir=tiny_language_codebook_dir, processes=processes))

    reference = tmp_path / "reference"
    train_to(reference)
    assert json.loads((reference / "metrics.json").read_text())["final"]["step"] == 4

    stopped = tmp_path / "stopped"
    shutil.copytree(reference, stopped)
    for finished in (stopped / "checkpoints" / "checkpoint-4", stopped / "final"):
        shutil.rmtree(finished)  # as if killed between steps 2 and 4
    resumed = train_to(stopped, "resume_from_checkpoint=latest")
    assert "resumed from" in resumed.stderr
    expected, got = weights(reference), weights(stopped)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
