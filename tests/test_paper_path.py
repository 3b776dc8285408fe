"""The paper's CelebA-HQ path end to end on a generated stand-in in CelebAMask-HQ's layout: the
paper configs (`celebahq_vqct_f16`, `celebahq_semantic`, `celebahq_masked`) shrunk only in steps,
width and resolution by overrides — tokenizer, token cache, both priors, sampling, completion and
evaluation — so that CI meets what a paper-scale run meets before its first GPU hour. Each command's main runs
in this process (the launcher itself is tested in the train tests)."""

import importlib
import json

import numpy as np
import pytest
from PIL import Image

from benchmarks.celebahq_stand_in import write_stand_in
from tests import train_in_process

IMAGES, VALIDATION = 8, (6, 7)
PARTS = ("skin", "hair", "l_eye", "r_eye", "nose", "u_lip", "cloth")
SMALL = ["max_steps=2", "batch_size=2", "mixed_precision=no", "num_workers=0", "checkpointing_steps=2"]
SMALL += ["validation_steps=2", "validation_batches=1", "log_steps=1", "data.resolution=64"]


@pytest.fixture(scope="module")
def celebahq(tmp_path_factory):
    root = write_stand_in(tmp_path_factory.mktemp("data") / "CelebAMask-HQ", IMAGES, size=64, parts=PARTS)
    (root / "train.txt").write_text("".join(f"{i}\n" for i in range(IMAGES) if i not in VALIDATION))
    (root / "validation.txt").write_text("".join(f"{i}\n" for i in VALIDATION))
    return root


def _train(stage: str, *arguments: str, config: str) -> None:
    done = train_in_process(stage, *arguments, config=config)
    assert done.returncode == 0, done.stderr[-3000:]


def _main(module: str, *arguments: str) -> None:
    assert importlib.import_module(module).main(list(arguments)) == 0


def test_the_paper_configs_run_end_to_end_on_a_celebahq_stand_in(celebahq, tmp_path, tiny_language_codebook_dir):
    tokenizer = tmp_path / "tokenizer"
    _train(
        "tokenizer",
        f"output_dir={tokenizer}",
        f"data.root={celebahq}",
        f"language_codebook={tiny_language_codebook_dir}",  # CLIP's codebook needs weights this machine lacks
        *SMALL,
        "model.autoencoder.resolution=64",  # f16 kept: ch_mult [1,1,2,2,4] → a 4×4 grid
        "model.autoencoder.ch=32",  # the least GroupNorm's 32 groups allow
        "model.autoencoder.num_res_blocks=1",
        "model.autoencoder.z_channels=16",
        "model.quantizer.embed_dim=16",
        "model.quantizer.transfer.hidden_dim=16",
        "loss.disc_start=1",  # the GAN's path too
        "loss.allow_missing_perceptual=true",  # LPIPS's weights are not on this machine
        config="celebahq_vqct_f16",
    )
    metrics = json.loads((tokenizer / "metrics.json").read_text())["final"]
    assert metrics["step"] == 2 and metrics["val/psnr"] > 0

    prior_overrides = [
        f"tokenizer={tokenizer / 'final'}",
        f"data.root={celebahq}",
        *SMALL,
        "model.dim=32",
        "model.depth=1",
        "model.heads=2",
        "lr_warmup_steps=1",
        "num_samples=2",
        "sampling.batch_size=2",
    ]
    semantic, masked = tmp_path / "semantic", tmp_path / "masked"
    _train("prior", f"output_dir={semantic}", *prior_overrides, config="celebahq_semantic")
    _train("prior", f"output_dir={masked}", *prior_overrides, config="celebahq_masked")
    manifest = json.loads((semantic / "tokens" / "train" / "manifest.json").read_text())
    assert manifest["items"] == IMAGES - len(VALIDATION) and manifest["complete"]

    _main("vqct.prior.sample", "--prior", str(semantic / "final"), "--num", "2", "--out", str(tmp_path / "samples"))
    assert Image.open(tmp_path / "samples" / "sample-000.png").size == (64, 64)
    mask = tmp_path / "lower_half.png"
    Image.fromarray(np.repeat(np.arange(64)[:, None] >= 32, 64, 1).astype(np.uint8) * 255).save(mask)
    face = celebahq / "CelebA-HQ-img" / "6.jpg"
    completion = ["--image", str(face), "--mask", str(mask), "--num", "1", "--out", str(tmp_path / "completion")]
    _main("vqct.prior.sample", "--prior", str(masked / "final"), *completion)
    evaluation = tmp_path / "evaluation"
    small = ["--num", "2", "--segmenter-steps", "2", "--no-fid", "--out", str(evaluation)]
    _main("vqct.prior.evaluate", "--prior", str(semantic / "final"), *small)
    report = json.loads((evaluation / "metrics.json").read_text())
    assert "samples" in json.dumps(report) and (evaluation / "grid.png").is_file()
