"""The training script on a tiny config: through ``accelerate launch`` where the launcher is what is
tested (one smoke run, SIGKILL and resume, two processes), in process elsewhere."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests import ROOT, accelerate_command, train_in_process
from vqct.tokenizer import VQCTTokenizer

TINY = [
    "data.resolution=32",
    "data.length=64",
    "data.validation_length=8",
    "batch_size=4",
    "model.autoencoder.resolution=32",
    "model.autoencoder.ch=32",
    "model.autoencoder.ch_mult=[1,2,2]",
    "model.autoencoder.num_res_blocks=1",
    "model.autoencoder.attn_resolutions=[]",
    "model.autoencoder.z_channels=8",
    "model.quantizer.embed_dim=8",
    "model.quantizer.codebook_size=32",
    "model.quantizer.transfer.hidden_dim=16",
    "loss.perceptual_weight=0",
    "loss.disc_start=2",
    "loss.disc_channels=8",
    "loss.disc_layers=1",
    "validation_batches=1",
    "log_steps=1",
    "seed=3",
]


def arguments(output_dir, *overrides, prior_dir=None):
    codebook = [] if prior_dir is None else [f"language_codebook={prior_dir}"]
    return [f"output_dir={output_dir}", *TINY, *codebook, *overrides]


def launch(output_dir, *overrides, prior_dir=None, processes=1):
    return accelerate_command("tokenizer", *arguments(output_dir, *overrides, prior_dir=prior_dir), processes=processes)


def train(output_dir, *overrides, prior_dir=None):
    done = train_in_process("tokenizer", *arguments(output_dir, *overrides, prior_dir=prior_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def run(command):
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def weights(output_dir):
    return load_file(str(Path(output_dir) / "final" / "model.safetensors"))


@pytest.mark.slow
def test_script_writes_checkpoints_grids_logs_metrics_and_final_model(tmp_path, tiny_language_codebook_dir):
    out = tmp_path / "run"
    run(
        launch(
            out,
            "max_steps=5",
            "checkpointing_steps=2",
            "checkpoints_total_limit=2",
            "validation_steps=2",
            "fid_steps=4",
            prior_dir=tiny_language_codebook_dir,
        )
    )
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-4", "checkpoint-5"]  # rotated
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "reconstructions-0000002.png",
        "reconstructions-0000004.png",
        "reconstructions-0000005.png",
    ]
    events = list((out / "logs").rglob("events.out.tfevents.*"))
    assert events
    # the grids are in the tracker too, as images, at the validation steps
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    assert [event.step for event in accumulator.Images("reconstructions")] == [2, 4, 5]
    assert "val/psnr" in accumulator.Tags()["scalars"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [entry["step"] for entry in metrics["history"]] == [2, 4, 5]
    assert ["val/fid" in entry for entry in metrics["history"]] == [False, True, True]  # every fid_steps and at the end
    assert metrics["final"]["val/psnr"] > 0 and "val/usage/adjective_percent" in metrics["final"]
    model = VQCTTokenizer.from_pretrained(out / "final")
    assert model.config.quantizer.kind == "dual" and model.encode(torch.zeros(1, 3, 32, 32)).shape == (1, 2, 8, 8)
    assert (out / "config.yaml").is_file()


@pytest.mark.slow
def test_sigkill_then_resume_latest_matches_an_uninterrupted_run(tmp_path, tiny_language_codebook_dir):
    steps = ["max_steps=12", "checkpointing_steps=2", "validation_steps=100"]
    reference = tmp_path / "reference"
    run(launch(reference, *steps, prior_dir=tiny_language_codebook_dir))

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        launch(killed, *steps, prior_dir=tiny_language_codebook_dir),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while not (killed / "checkpoints" / "checkpoint-4").is_dir():
        assert process.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "final").exists()

    resumed = run(launch(killed, *steps, "resume_from_checkpoint=latest", prior_dir=tiny_language_codebook_dir))
    assert "resumed from" in resumed.stderr
    assert not list((killed / "checkpoints").glob(".*"))  # no half-written checkpoint left
    expected, got = weights(reference), weights(killed)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    history = json.loads((killed / "metrics.json").read_text())["history"]
    assert [entry["step"] for entry in history] == [12]


def test_bad_override_stops_with_the_key_named(tmp_path):
    done = train_in_process("tokenizer", *arguments(tmp_path / "run", "model.quantizer.kinds=vq"))
    assert done.returncode == 2 and "model.quantizer.kinds" in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("vq", []),
        ("cvq", []),
        ("gumbel", []),
        ("regvq", []),
        ("single", []),
        ("none", ["model.autoencoder.norm=none"]),
        ("dual", ["mixed_precision=bf16", "gradient_accumulation_steps=2"]),
    ],
)
def test_every_quantizer_trains_through_the_script(tmp_path, tiny_language_codebook_dir, kind, extra):
    out = tmp_path / kind
    train(
        out,
        "max_steps=3",
        "validation_steps=3",
        f"model.quantizer.kind={kind}",
        *extra,
        prior_dir=tiny_language_codebook_dir,
    )
    assert VQCTTokenizer.from_pretrained(out / "final").config.quantizer.kind == kind
    assert json.loads((out / "metrics.json").read_text())["final"]["step"] == 3


@pytest.mark.slow
def test_two_processes_with_the_gan_on_resume_to_the_uninterrupted_weights(tmp_path, tiny_language_codebook_dir):
    """Two gloo processes (data sharded between them), the GAN active from step 2: a run stopped
    after its step-3 checkpoint and resumed with two processes ends where the uninterrupted one does.
    The checkpoint holds both processes' random states (rank 1's used to be lost: it wrote into a
    folder that rank 0's rename then replaced) and the unwrapped model (what the figures read)."""
    steps = ["max_steps=6", "checkpointing_steps=3", "validation_steps=100"]
    reference = tmp_path / "reference"
    run(launch(reference, *steps, prior_dir=tiny_language_codebook_dir, processes=2))
    checkpoint = reference / "checkpoints" / "checkpoint-3"
    assert {"random_states_0.pkl", "random_states_1.pkl"} <= {p.name for p in checkpoint.iterdir()}
    assert sorted(p.name for p in (reference / "checkpoints").iterdir()) == ["checkpoint-3", "checkpoint-6"]
    assert not [key for key in load_file(str(checkpoint / "model.safetensors")) if key.startswith("module.")]

    stopped = tmp_path / "stopped"
    shutil.copytree(reference, stopped)
    for finished in (stopped / "checkpoints" / "checkpoint-6", stopped / "final"):
        shutil.rmtree(finished)  # as if killed between steps 3 and 6
    resumed = run(
        launch(stopped, *steps, "resume_from_checkpoint=latest", prior_dir=tiny_language_codebook_dir, processes=2)
    )
    assert "resumed from" in resumed.stderr
    assert "all 2 processes hold the same final weights" in resumed.stderr
    expected, got = weights(reference), weights(stopped)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name


@pytest.mark.slow  # torch.compile takes a minute on a CPU
def test_compiled_training_saves_the_eager_names(tmp_path, tiny_language_codebook_dir):
    """compile=true (nn.Module.compile): the run trains and its checkpoints and final weights
    keep the model's own parameter names, so they load into an eager model."""
    out = tmp_path / "compiled"
    train(out, "max_steps=2", "checkpointing_steps=2", "compile=true", prior_dir=tiny_language_codebook_dir)
    names = set(weights(out))
    assert names and not [name for name in names if "_orig_mod" in name]
    assert set(load_file(str(out / "checkpoints" / "checkpoint-2" / "model.safetensors"))) == names
    VQCTTokenizer.from_pretrained(out / "final")


def test_channels_last_training_matches_the_default_layout(tmp_path, tiny_language_codebook_dir):
    """channels_last=true changes only the memory layout: checkpoints and final weights save and load
    (safetensors wants contiguous tensors) and the weights after two steps match the default run's."""
    runs = {}
    for channels_last in ("true", "false"):
        out = tmp_path / channels_last
        train(
            out,
            "max_steps=2",
            "checkpointing_steps=2",
            f"channels_last={channels_last}",
            prior_dir=tiny_language_codebook_dir,
        )
        runs[channels_last] = weights(out)
    assert set(load_file(str(tmp_path / "true" / "checkpoints" / "checkpoint-2" / "model.safetensors"))) == set(
        runs["true"]
    )
    VQCTTokenizer.from_pretrained(tmp_path / "true" / "final")
    for name, tensor in runs["false"].items():
        torch.testing.assert_close(runs["true"][name], tensor, atol=1e-5, rtol=1e-4, msg=name)


def test_init_from_fine_tunes_a_saved_tokenizer(tmp_path, tiny_language_codebook_dir):
    """Its own architecture and codebook come with it (no language_codebook needed); with
    learning_rate=0 the run ends where it started."""
    start = tmp_path / "start"
    train(start, "max_steps=1", prior_dir=tiny_language_codebook_dir)
    out = tmp_path / "finetuned"
    train(out, f"init_from={start / 'final'}", "max_steps=1", "learning_rate=0", "model.quantizer.kind=vq")
    expected, got = weights(start), weights(out)
    assert expected.keys() == got.keys() and all(torch.equal(expected[k], got[k]) for k in expected)
    assert VQCTTokenizer.from_pretrained(out / "final").config.quantizer.kind == "dual"  # init_from's, not the override


@pytest.fixture
def lpips_unavailable(monkeypatch):
    """LPIPS's VGG-16 weights cannot be had, as offline (whatever this machine's cache holds)."""
    import lpips

    def unavailable(*args, **kwargs):
        raise OSError("no network: vgg16-397923af.pth")

    monkeypatch.setattr(lpips, "LPIPS", unavailable)


def test_a_paper_config_without_lpips_weights_stops_before_writing_anything(tmp_path, lpips_unavailable):
    out = tmp_path / "paper"
    done = train_in_process("tokenizer", f"output_dir={out}", config="celebahq_vqct_f16")
    assert done.returncode == 2
    assert "loss.perceptual_weight=1 needs LPIPS's VGG-16 weights" in done.stderr
    assert "loss.allow_missing_perceptual=true" in done.stderr
    assert not out.exists()


def test_a_run_allowed_to_lose_lpips_says_so_in_its_config_and_card(
    tmp_path, tiny_language_codebook_dir, lpips_unavailable
):
    out = tmp_path / "run"
    train(
        out,
        "max_steps=1",
        "loss.perceptual_weight=1",
        "loss.allow_missing_perceptual=true",
        prior_dir=tiny_language_codebook_dir,
    )
    recorded = json.loads((out / "final" / "config.json").read_text())["trained_with"]["perceptual_loss"]
    assert recorded.startswith("none: LPIPS's weights could not be loaded")
    assert f"- perceptual loss: {recorded}" in (out / "final" / "README.md").read_text()
    assert VQCTTokenizer.from_pretrained(out / "final").trained_with == {"perceptual_loss": recorded}


def test_ema_is_the_final_model_and_a_resumed_run_keeps_it(tmp_path, tiny_language_codebook_dir):
    """use_ema=true: checkpoints hold the EMA beside the weights, the final model is the EMA (not the
    weights as trained), and a run resumed from step 2 ends where the uninterrupted one does."""
    steps = ["max_steps=4", "checkpointing_steps=2", "validation_steps=100", "use_ema=true", "ema_decay=0.5"]
    reference = tmp_path / "reference"
    train(reference, *steps, prior_dir=tiny_language_codebook_dir)
    last = reference / "checkpoints" / "checkpoint-4"
    average = load_file(str(last / "ema.safetensors"))
    trained = load_file(str(last / "model.safetensors"))
    final = weights(reference)
    assert average["optimization_step"] == 4
    differs = [name for name in final if not torch.equal(final[name], trained[name])]
    assert differs, "the final model is the weights as trained, not their average"

    stopped = tmp_path / "stopped"
    shutil.copytree(reference, stopped)
    for finished in (stopped / "checkpoints" / "checkpoint-4", stopped / "final"):
        shutil.rmtree(finished)
    resumed = train(stopped, *steps, "resume_from_checkpoint=latest", prior_dir=tiny_language_codebook_dir)
    assert "resumed from" in resumed.stderr
    for name, tensor in weights(stopped).items():
        assert torch.equal(tensor, final[name]), name
