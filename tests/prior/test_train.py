"""Stage two end to end on tiny sizes: prior/train.py through accelerate, then the saved
``VQCTPrior`` (with its tokenizer inside), sampling and completion from the command line."""

import argparse
import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import vqct.prior.evaluate as evaluate_cli
import vqct.prior.sample as sample_cli
from tests import ROOT, accelerate_command, train_in_process
from vqct.common.errors import UserValueError
from vqct.common.grid import GAP, LABEL_WIDTH, MIN_CELL
from vqct.common.labels import save_label_map
from vqct.prior import PriorConfig, SamplingConfig, VQCTPrior
from vqct.prior.examples import validation_examples
from vqct.tokenizer import VQCTTokenizer
from vqct.tokenizer.data.shapes import ShapesDataset

TINY = [
    "data.length=48",
    "data.validation_length=8",
    "batch_size=8",
    "model.dim=32",
    "model.depth=1",
    "model.heads=2",
    "lr_warmup_steps=1",
    "validation_batches=1",
    "log_steps=1",
    "num_samples=2",
    "sampling.top_k=20",
    "seed=1",
]


@pytest.fixture(scope="module")
def tokenizer_dir(tiny_language_codebook, tmp_path_factory, tiny_config):
    config = tiny_config()
    config.autoencoder.resolution, config.autoencoder.ch_mult, config.autoencoder.attn_resolutions = 32, [1, 2, 2], []
    folder = tmp_path_factory.mktemp("tokenizer") / "final"
    VQCTTokenizer.build(config, tiny_language_codebook).eval().save_pretrained(folder)  # 32 px → 8×8 codes
    return folder


def arguments(output_dir, tokenizer_dir, *overrides):
    return [f"output_dir={output_dir}", f"tokenizer={tokenizer_dir}", *TINY, *overrides]


def launch(output_dir, tokenizer_dir, *overrides, processes=1):
    """Through ``accelerate launch``: for what the launcher is part of (the smoke run, two processes)."""
    command = accelerate_command("prior", *arguments(output_dir, tokenizer_dir, *overrides), processes=processes)
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def train(output_dir, tokenizer_dir, *overrides):
    """``prior/train.py``'s main in this process: for what a config does."""
    return train_in_process("prior", *arguments(output_dir, tokenizer_dir, *overrides))


@pytest.fixture(scope="module")
def trained(tokenizer_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("prior") / "run"
    done = train(out, tokenizer_dir, "max_steps=4", "checkpointing_steps=2", "validation_steps=2")
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.slow
def test_accelerate_launch_trains_and_saves_a_prior_that_loads(tokenizer_dir, tmp_path):
    """The documented entry point, ``accelerate launch prior/train.py``, end to end."""
    done = launch(tmp_path / "run", tokenizer_dir, "max_steps=2", "validation_steps=2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert VQCTPrior.from_pretrained(tmp_path / "run" / "final").prior_config.dim == 32


def test_script_writes_tokens_grids_metrics_checkpoints_and_final_model(trained, tokenizer_dir):
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert sorted(p.name for p in (trained / "samples").iterdir()) == ["samples-0000002.png", "samples-0000004.png"]
    # rows map, sample, reconstruction: two 32 px images each, shown at 128 px
    assert Image.open(trained / "samples" / "samples-0000004.png").size == (
        LABEL_WIDTH + 2 * (MIN_CELL + GAP) + GAP,
        3 * (MIN_CELL + GAP) + GAP,
    )
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(next((trained / "logs").rglob("events.out.tfevents.*")).parent))
    accumulator.Reload()
    assert [event.step for event in accumulator.Images("samples")] == [2, 4]  # the grids, in the tracker too
    assert json.loads((trained / "tokens" / "train" / "manifest.json").read_text())["items"] == 48
    history = json.loads((trained / "metrics.json").read_text())["history"]
    assert [entry["step"] for entry in history] == [2, 4] and all(np.isfinite(entry["val/loss"]) for entry in history)
    model = VQCTPrior.from_pretrained(trained / "final")
    assert (model.token_grid, model.num_classes, model.tokenizer_source) == ((8, 8), 9, str(tokenizer_dir))
    original = VQCTTokenizer.from_pretrained(tokenizer_dir)
    for name, value in original.state_dict().items():  # one id loads both: the tokenizer rides inside
        assert torch.equal(model.tokenizer.state_dict()[name], value), name


def test_resume_latest_continues_to_the_same_weights(trained, tokenizer_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    shutil.rmtree(run / "checkpoints" / "checkpoint-4")  # as if killed between steps 2 and 4
    shutil.rmtree(run / "final")
    done = train(
        run,
        tokenizer_dir,
        "max_steps=4",
        "checkpointing_steps=2",
        "validation_steps=2",
        "resume_from_checkpoint=latest",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed from" in done.stderr and "checkpoint-2" in done.stderr
    a, b = load_file(str(trained / "final" / "model.safetensors")), load_file(str(run / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a if k.startswith("prior.")), "the resumed run diverged"


def test_a_given_token_cache_trains_the_same_prior_as_one_encoded_in_the_run(trained, tokenizer_dir, tmp_path):
    # encoding draws from the global RNG; the prior's initial weights and dropout must not depend on it
    done = train(
        tmp_path / "run",
        tokenizer_dir,
        f"tokens={trained / 'tokens'}",
        "max_steps=4",
        "checkpointing_steps=2",
        "validation_steps=2",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = (
        load_file(str(trained / "final" / "model.safetensors")),
        load_file(str(tmp_path / "run" / "final" / "model.safetensors")),
    )
    # equal to float noise (the resumed runs above are held to the same): a different initial
    # draw would differ by the size of the weights
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a if k.startswith("prior.")), "the cache changed the run"


@pytest.mark.slow
def test_two_processes_with_guidance_dropout_and_ema_resume_to_the_uninterrupted_weights(tokenizer_dir, tmp_path):
    """Two gloo processes, each with its own shard of the token cache, conditions dropped for
    guidance and the EMA saved beside accelerate's state: resumed from step 2 with two processes,
    the run ends with the uninterrupted run's weights."""
    steps = ["max_steps=4", "checkpointing_steps=2", "validation_steps=100", "model.cond_drop_prob=0.5"]
    reference = tmp_path / "reference"
    done = launch(reference, tokenizer_dir, *steps, processes=2)
    assert done.returncode == 0, done.stderr[-3000:]
    checkpoint = reference / "checkpoints" / "checkpoint-2"
    assert {"random_states_0.pkl", "random_states_1.pkl", "ema.safetensors"} <= {p.name for p in checkpoint.iterdir()}
    stopped = tmp_path / "stopped"
    shutil.copytree(reference, stopped)
    for finished in (stopped / "checkpoints" / "checkpoint-4", stopped / "final"):
        shutil.rmtree(finished)
    done = launch(stopped, tokenizer_dir, *steps, "resume_from_checkpoint=latest", processes=2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed from" in done.stderr
    assert "all 2 processes hold the same final weights" in done.stderr
    a, b = (load_file(str(run / "final" / "model.safetensors")) for run in (reference, stopped))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a if k.startswith("prior.")), "the resumed run diverged"


@pytest.mark.slow
def test_missing_tokenizer_is_one_clear_error(tmp_path):
    done = launch(tmp_path / "run", "", "max_steps=1")
    assert done.returncode != 0 and "tokenizer is not set" in done.stderr
    assert "Traceback" not in done.stderr  # one line, not the launcher's CalledProcessError


def test_a_token_cache_of_another_label_detail_names_the_key(trained, tokenizer_dir, tmp_path):
    done = train(
        tmp_path / "run",
        tokenizer_dir,
        f"tokens={trained / 'tokens'}",
        "model.label_embedding=true",
        "model.label_detail=2",
        "max_steps=1",
    )
    assert done.returncode != 0 and "model.label_detail=2" in done.stderr and "--label-detail 2" in done.stderr


def test_too_few_classes_names_the_key(trained, tokenizer_dir, tmp_path):
    done = train(tmp_path / "run", tokenizer_dir, f"tokens={trained / 'tokens'}", "model.num_classes=3", "max_steps=1")
    assert done.returncode != 0 and "model.num_classes=3" in done.stderr


def test_sample_command_writes_samples_following_a_palette_map(trained, tmp_path, capsys):
    labels = torch.zeros(32, 32, dtype=torch.long)
    labels[4:20, 6:26] = 3
    save_label_map(labels, 9, tmp_path / "map.png")
    out = tmp_path / "samples"
    assert (
        sample_cli.main(
            ["--prior", str(trained / "final"), "--cond", str(tmp_path / "map.png"), "--num", "3", "--out", str(out)]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "grid.png",
        "map.png",  # one map for the three samples: written once
        "sample-000.png",
        "sample-001.png",
        "sample-002.png",
        "samples.json",
    ]
    assert np.array_equal(np.asarray(Image.open(out / "map.png")), labels.numpy())
    assert json.loads((out / "samples.json").read_text())["num"] == 3


def test_sampling_options_default_to_the_priors_own_and_flags_override_them(trained, tmp_path):
    model = VQCTPrior.from_pretrained(str(trained / "final"))
    assert model.sampling.top_k == 20  # sampling.top_k=20 in the train config travels with the model
    run = ["--prior", str(trained / "final"), "--num", "1"]
    assert sample_cli.main([*run, "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "samples.json").read_text())["sampling"]["top_k"] == 20
    assert sample_cli.main([*run, "--top-k", "0", "--guidance", "2", "--out", str(tmp_path / "b")]) == 0
    used = json.loads((tmp_path / "b" / "samples.json").read_text())["sampling"]
    assert used["top_k"] is None and used["guidance_scale"] == 2.0 and used["temperature"] == model.sampling.temperature


def test_sample_command_rejects_off_palette_maps(trained, tmp_path, capsys):
    picture = np.zeros((32, 32, 3), dtype=np.uint8)
    picture[:, :16] = (120, 200, 10)  # half the picture in a colour that is no class's
    Image.fromarray(picture).save(tmp_path / "map.png")
    code = sample_cli.main(
        [
            "--prior",
            str(trained / "final"),
            "--cond",
            str(tmp_path / "map.png"),
            "--num",
            "1",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2 and "not in the 9-class palette" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_completion_keeps_every_known_cell(kind, tiny_config):
    # completion is a property of the sampler, so untrained models do
    config = tiny_config("vq")
    config.autoencoder.resolution, config.autoencoder.ch_mult, config.autoencoder.attn_resolutions = 32, [1, 2, 2], []
    tokenizer = VQCTTokenizer.build(config).eval()
    prior = PriorConfig(kind=kind, dim=32, depth=1, heads=2, condition="none")
    model = VQCTPrior.build(
        prior, tokenizer, token_grid=(8, 8), tokenizer_source="tiny", data={"kind": "shapes", "resolution": 32}
    ).eval()
    images = torch.stack([ShapesDataset(size=32, length=2)[i]["image"] for i in range(2)])
    region = torch.zeros(2, 32, 32, dtype=torch.bool)
    region[:, 16:, 8:24] = True  # the lower middle: cells of rows 4..7, columns 2..5
    sampling = SamplingConfig(steps=4) if kind == "masked" else None
    codes, completed, kept = model.complete(
        images, region, sampling=sampling, generator=torch.Generator().manual_seed(0)
    )
    original = model.tokenizer.encode(images)
    assert torch.equal(codes.permute(0, 2, 3, 1)[kept], original.permute(0, 2, 3, 1)[kept])
    # masked: every cell outside the region; autoregressive: the raster prefix before cell (4, 2)
    assert int(kept[0].sum()) == (64 - 16 if kind == "masked" else 4 * 8 + 2)
    assert not (codes == original).all(), "nothing was resampled"
    assert torch.equal(completed, model.decode(codes))  # the images are the completed codes, decoded


def test_build_starts_the_prior_from_the_tokenizers_code_vectors(tiny_config):
    tokenizer = VQCTTokenizer.build(tiny_config("vq")).eval()
    (vectors,) = tokenizer.group_codebooks()
    prior = PriorConfig(dim=32, depth=1, heads=2, condition="none", code_vector_init=1.0)
    model = VQCTPrior.build(prior, tokenizer, token_grid=(4, 4), tokenizer_source="tiny", data={})
    rows = model.prior.net.token_emb.emb.weight[: len(vectors)]
    ratio = torch.cdist(rows, rows).flatten()[1:] / torch.cdist(vectors, vectors).flatten()[1:]
    assert torch.allclose(ratio[ratio.isfinite()], ratio[0], rtol=1e-3)  # distances kept, up to one scale


def test_generate_rejects_an_option_of_the_other_kind(trained):
    model = VQCTPrior.from_pretrained(trained / "final")
    with pytest.raises(ValueError, match="masked priors"):
        model.generate(torch.zeros(1, 32, 32, dtype=torch.long), sampling=SamplingConfig(steps=4))


def test_evaluate_command_writes_label_following_completion_and_grid(trained, tmp_path):
    out = tmp_path / "eval"
    assert (
        evaluate_cli.main(
            [
                *("--prior", str(trained / "final"), "--num", "4", "--out", str(out)),
                *("--segmenter-steps", "3", "--no-fid", "--forced-rows", "2", "7"),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    forced = metrics["teacher_forced"]
    assert set(forced) == {"2", "7"} and all(set(v) == {"label_following"} for v in forced.values())
    assert "| 7 | " in (out / "metrics.md").read_text()
    assert set(metrics["label_following"]) == {"real", "reconstructions", "samples", "samples_shuffled_maps"}
    assert all(0 <= v["pixel_accuracy"] <= 1 for v in metrics["label_following"].values())
    assert metrics["completion"]["kept_vs_original_psnr"] > 0 and metrics["seconds_per_image"] > 0
    assert set(metrics["background_spread"]) == {"samples", "reconstructions", "real"}
    assert metrics["background_spread"]["real"] > 0.05  # the shapes' backgrounds come in many colours
    assert set(metrics["diversity"]) == {"samples_of_one_map", "real_images_of_different_maps"}
    assert metrics["diversity"]["real_images_of_different_maps"] > 0
    assert "Background colour spread" in (out / "metrics.md").read_text()
    assert (
        (out / "grid.png").is_file()
        and (out / "segmenter.safetensors").is_file()
        and "pixel accuracy" in (out / "metrics.md").read_text()
    )
    # a second prior on the same data is measured by the same segmenter, loaded instead of trained
    again = tmp_path / "again"
    args = [
        "--prior",
        str(trained / "final"),
        "--num",
        "4",
        "--no-fid",
        "--segmenter",
        str(out / "segmenter.safetensors"),
    ]
    assert evaluate_cli.main([*args, "--out", str(again)]) == 0
    assert not (again / "segmenter.safetensors").exists()
    # the two teacher-forced rows are two more rows of the grid: map, sample, 2 and 7 rows given, real
    with Image.open(out / "grid.png") as forced_grid, Image.open(again / "grid.png") as plain_grid:
        assert (forced_grid.height, plain_grid.height) == (5 * (MIN_CELL + GAP) + GAP, 3 * (MIN_CELL + GAP) + GAP)
    assert json.loads((again / "metrics.json").read_text())["label_following"] == metrics["label_following"]
    (tmp_path / "bad.safetensors").write_bytes(b"not a segmenter")
    assert evaluate_cli.main([*args[:-1], str(tmp_path / "bad.safetensors"), "--out", str(tmp_path / "bad")]) == 2
    # the whole validation split (Table 6's FID protocol), the completion half skipped
    whole = tmp_path / "whole"
    args[args.index("--num") + 1] = "all"
    assert evaluate_cli.main([*args, "--no-completion", "--out", str(whole)]) == 0
    metrics = json.loads((whole / "metrics.json").read_text())
    assert metrics["num"] == VQCTPrior.from_pretrained(trained / "final").data["validation_length"] > 4
    assert "completion" not in metrics and "Completion" not in (whole / "metrics.md").read_text()
    # teacher forcing needs a row to keep and one to sample: 0 and 8 of an 8-row grid are refused
    # before anything is written
    for rows in ("0", "8"):
        refused = tmp_path / f"forced_{rows}"
        assert evaluate_cli.main([*args, "--forced-rows", "2", rows, "--out", str(refused)]) == 2
        assert not refused.exists()


def test_teacher_forcing_keeps_the_real_codes_of_the_given_rows(trained):
    """Six of eight rows given: the forced images' top is close to the reconstructions' (the same
    codes there, decoded), where the plain samples' top is not."""
    model = VQCTPrior.from_pretrained(trained / "final").eval()
    examples = validation_examples(model, 4)
    args = argparse.Namespace(forced_rows=[6], device="cpu", seed=0)
    forced = evaluate_cli.teacher_forced(model, examples, examples["label"], model.sampling, args)[6]
    _, samples = model.generate(examples["label"], generator=torch.Generator().manual_seed(0))
    reconstructions = evaluate_cli.reconstruct(model, examples["image"])
    top = slice(0, 2 * model.tokenizer.downsample_factor)  # two rows of cells, far from the first sampled one

    def distance(images):
        return float((images[..., top, :] - reconstructions[..., top, :]).abs().mean())

    # not equal: the decoder's attention lets the sampled rows below reach every pixel (0.07 against
    # 0.19 here, and as far apart as the samples when nothing is forced)
    assert distance(forced) < 0.5 * distance(samples.clamp(-1, 1))


def test_encode_and_decode_go_in_batches_with_the_one_batch_result(trained):
    model = VQCTPrior.from_pretrained(trained / "final").eval()
    images = torch.rand(5, 3, model.resolution, model.resolution) * 2 - 1
    codes = model.encode(images, batch_size=2)  # batches of 2, 2 and 1
    assert torch.equal(codes, model.tokenizer.encode(images))
    torch.testing.assert_close(model.decode(codes, batch_size=2), model.tokenizer.decode(codes))


def test_init_from_starts_from_a_saved_prior_and_names_a_misfit(trained, tokenizer_dir, tmp_path):
    """learning_rate=0: the run's final prior is exactly the one it started from; a prior of
    another width is one error naming init_from."""
    out = tmp_path / "finetuned"
    done = train(
        out,
        tokenizer_dir,
        f"init_from={trained / 'final'}",
        f"tokens={trained / 'tokens'}",
        "max_steps=1",
        "learning_rate=0",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = (load_file(str(run / "final" / "model.safetensors")) for run in (trained, out))
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("prior."))
    done = train(
        tmp_path / "misfit",
        tokenizer_dir,
        f"init_from={trained / 'final'}",
        f"tokens={trained / 'tokens'}",
        "max_steps=1",
        "model.dim=48",
    )
    assert done.returncode != 0 and f"init_from={trained / 'final'}: its prior does not fit" in done.stderr


def header_only_png(path, width, height):
    """A PNG whose header claims width × height and that holds a few bytes of pixels."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes(64))  # the first few bytes of a scan line, no more
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def picture(path, size, white=None):
    array = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    if white is not None:
        array[white] = 255
    Image.fromarray(array).save(path)
    return str(path)


@pytest.mark.parametrize(
    "inputs, message",
    [
        (lambda tmp: ["--top-p", "1.5"], "--top-p=1.5: must be in (0, 1]"),
        (lambda tmp: ["--cond", str(header_only_png(tmp / "huge.png", 10_000, 10_000))], "10000×10000 pixels"),
        (
            lambda tmp: ["--image", picture(tmp / "i.png", (32, 32)), "--mask", picture(tmp / "m.png", (32, 32))],
            "has no white pixel: nothing to regenerate",
        ),
        (
            lambda tmp: ["--image", picture(tmp / "i.png", (32, 32)), "--mask", picture(tmp / "m.png", (64, 48), 0)],
            "is 64×48 pixels, --image",
        ),
    ],
)
def test_sample_command_refuses_bad_input_in_one_line_and_writes_nothing(trained, tmp_path, capsys, inputs, message):
    out = tmp_path / "out"
    code = sample_cli.main(["--prior", str(trained / "final"), "--num", "1", "--out", str(out), *inputs(tmp_path)])
    error = capsys.readouterr().err
    assert code == 2 and message in error and "Traceback" not in error
    assert not out.exists()


def test_sample_command_refuses_an_out_that_is_a_file(trained, tmp_path, capsys):
    (tmp_path / "taken").write_text("mine")
    code = sample_cli.main(["--prior", str(trained / "final"), "--num", "1", "--out", str(tmp_path / "taken")])
    assert code == 2 and "a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "taken").read_text() == "mine"


def test_sample_command_writes_batch_by_batch_and_grids_the_first(trained, tmp_path, monkeypatch):
    """--num beyond one batch: every sample is written as its batch finishes; grid.png holds the
    first GRID_SAMPLES (two here); a 1×1 map is one class everywhere."""
    monkeypatch.setattr(sample_cli, "GRID_SAMPLES", 2)
    one_pixel = tmp_path / "one.png"
    save_label_map(torch.full((1, 1), 3), 9, one_pixel)
    out = tmp_path / "out"
    argv = ["--prior", str(trained / "final"), "--cond", str(one_pixel), "--num", "5", "--batch-size", "2"]
    assert sample_cli.main([*argv, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("sample-*.png")) == [f"sample-{k:03d}.png" for k in range(5)]
    assert np.all(np.asarray(Image.open(out / "map.png")) == 3)  # the one map, once
    assert not list(out.glob("map-*.png"))  # not five copies of it
    assert Image.open(out / "grid.png").size == (  # 2 maps over 2 samples
        LABEL_WIDTH + 2 * (MIN_CELL + GAP) + GAP,
        2 * (MIN_CELL + GAP) + GAP,
    )


def test_the_python_api_takes_files_or_pil_images_and_gives_pil_images(trained, tmp_path):
    model = VQCTPrior.from_pretrained(trained / "final").eval()
    labels = torch.zeros(32, 32, dtype=torch.long)
    labels[8:24, 8:24] = 2
    save_label_map(labels, 9, tmp_path / "map.png")
    from_file = model.generate_images([tmp_path / "map.png"], seed=3)
    from_pil = model.generate_images([Image.open(tmp_path / "map.png")], seed=3)
    assert len(from_file) == 1 and from_file[0].size == (32, 32) and from_file[0].mode == "RGB"
    assert np.array_equal(np.asarray(from_file[0]), np.asarray(from_pil[0]))  # the same map either way

    face = Image.fromarray(np.full((32, 32, 3), 200, dtype=np.uint8))
    mask = Image.fromarray(np.repeat((np.arange(32) >= 16)[:, None], 32, 1).astype(np.uint8) * 255)
    completions = model.complete_images(face, mask, num_images_per_image=2, label_map=tmp_path / "map.png", seed=1)
    assert [image.size for image in completions] == [(32, 32), (32, 32)]
    with pytest.warns(FutureWarning, match="num= is now num_images_per_image="):
        again = model.complete_images(face, mask, num=2, label_map=tmp_path / "map.png", seed=1)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(completions, again, strict=True))


def same_images(first, second) -> bool:
    return len(first) == len(second) and all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, second, strict=True)
    )


def test_images_per_map_and_a_generator_behave_as_diffusers_users_expect(trained, tmp_path):
    model = VQCTPrior.from_pretrained(trained / "final").eval()
    maps = []
    for index, corner in enumerate((0, 16)):
        labels = torch.zeros(32, 32, dtype=torch.long)
        labels[corner : corner + 16, corner : corner + 16] = 2
        save_label_map(labels, 9, tmp_path / f"map-{index}.png")
        maps.append(tmp_path / f"map-{index}.png")
    images = model.generate_images(maps, num_images_per_map=3, generator=torch.Generator().manual_seed(7))
    assert len(images) == 6  # map by map: three for the first, then three for the second
    again = model.generate_images(maps, num_images_per_map=3, generator=torch.Generator().manual_seed(7))
    assert same_images(images, again)
    assert not same_images(
        images, model.generate_images(maps, num_images_per_map=3, generator=torch.Generator().manual_seed(8))
    )
    with pytest.warns(FutureWarning, match="num= is now num_images_per_map="):
        assert len(model.generate_images(maps[:1], num=4)) == 4  # was one image, silently
    image, mask = Image.new("RGB", (32, 32), (200, 40, 40)), Image.new("L", (32, 32))
    mask.paste(255, (0, 16, 32, 32))
    completions = [
        model.complete_images(image, mask, num_images_per_image=2, generator=torch.Generator().manual_seed(1))
        for _ in range(2)
    ]
    assert len(completions[0]) == 2 and same_images(*completions)
    with pytest.raises(UserValueError, match="num_images_per_map=0: must be an integer, at least 1"):
        model.generate_images(maps, num_images_per_map=0)


def test_background_spread_is_zero_for_one_background_colour_and_grows_with_more():
    from vqct.prior.evaluate import background_spread

    labels = torch.zeros(4, 8, 8, dtype=torch.long)
    labels[:, 2:6, 2:6] = 1  # the object, left out
    same = torch.zeros(4, 3, 8, 8)
    same[:, :, 2:6, 2:6] = torch.rand(4, 3, 1, 1)  # objects vary, backgrounds do not
    assert background_spread(same, labels) < 1e-6
    varied = torch.linspace(-1, 1, 4).view(4, 1, 1, 1).expand(4, 3, 8, 8)
    assert background_spread(varied, labels) > 0.3
