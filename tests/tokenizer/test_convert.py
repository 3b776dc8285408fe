"""vqct-convert: taming-transformers and diffusers VQGANs become VQGAN-baseline
tokenizers that compute what the source computes (codes and reconstructions), or stop with an
error that names the file, key or option."""

import argparse
import json
import logging
import pathlib

import pytest
import torch
import torch.nn.functional as F
import yaml

from vqct.common.hub import load_pretrained
from vqct.tokenizer import VQCTTokenizer
from vqct.tokenizer.autoencoder import AutoencoderConfig, Decoder, Encoder
from vqct.tokenizer.convert.cli import main
from vqct.tokenizer.convert.diffusers_vqmodel import architecture, diffusers_to_ours, to_diffusers_key
from vqct.tokenizer.evaluate import main as evaluate_main

from ..common.cards import assert_publishable_card

CODES, CODE_WIDTH = 16, 4
# three levels (f4), attention at the 8 px level only: level 2 at 32 px
TINY = dict(resolution=32, ch=32, ch_mult=[1, 2, 2], num_res_blocks=1, attn_resolutions=[8], z_channels=8)


def randomise_vectors(module: torch.nn.Module) -> None:
    """Norm gains and biases start identical (ones, zeros): random ones make a mis-mapped one show."""
    with torch.no_grad():
        for param in module.parameters():
            if param.dim() == 1:
                param.normal_(0.0, 0.3)


def with_prefix(prefix: str, state: dict) -> dict:
    return {f"{prefix}{key}": value for key, value in state.items()}


def without_prefix(prefix: str, state: dict) -> dict:
    return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}


def taming_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """What taming's VQModel.state_dict() holds, at tiny sizes: our encoder/decoder (taming's
    module names) and random quantizer convs, codebook and loss networks under taming's names."""
    torch.manual_seed(seed)
    config = AutoencoderConfig(**TINY)
    encoder, decoder = Encoder(config), Decoder(config)
    randomise_vectors(encoder)
    randomise_vectors(decoder)
    z = config.z_channels
    quant_conv = torch.nn.Conv2d(z, CODE_WIDTH, 1)
    with torch.no_grad():  # codes spread where the encoder's codes lie, so a grid uses many of them
        rows = quant_conv(encoder(torch.randn(4, 3, 32, 32))).permute(0, 2, 3, 1).reshape(-1, CODE_WIDTH)
    codebook = rows.mean(0) + rows.std(0) * torch.randn(CODES, CODE_WIDTH)
    return {
        **with_prefix("encoder.", encoder.state_dict()),
        **with_prefix("decoder.", decoder.state_dict()),
        **with_prefix("quant_conv.", quant_conv.state_dict()),
        "quantize.embedding.weight": codebook,
        "post_quant_conv.weight": torch.randn(z, CODE_WIDTH, 1, 1) * 0.3,
        "post_quant_conv.bias": torch.randn(z) * 0.1,
        "loss.discriminator.main.0.weight": torch.randn(64, 3, 4, 4),
        "loss.perceptual_loss.net.slice1.0.weight": torch.randn(64, 3, 3, 3),
        "loss.logvar": torch.zeros(()),
    }


def save_lightning_checkpoint(path, state: dict, **extra) -> None:
    """A Lightning-like .ckpt: the state dict among the trainer's own entries."""
    checkpoint = {"epoch": 3, "global_step": 1200, "pytorch-lightning_version": "1.0.8", "state_dict": state}
    checkpoint["optimizer_states"] = [{"state": {}, "param_groups": [{"lr": 4.5e-6, "params": [0]}]}]
    torch.save({**checkpoint, **extra}, path)


def taming_project(**ddconfig_changes) -> dict:
    ddconfig = dict(TINY, out_ch=3, in_channels=3, double_z=False, dropout=0.0)
    return {
        "model": {
            "base_learning_rate": 4.5e-6,
            "target": "taming.models.vqgan.VQModel",
            "params": {
                "embed_dim": CODE_WIDTH,
                "n_embed": CODES,
                "ddconfig": {**ddconfig, **ddconfig_changes},
                "lossconfig": {"target": "taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator"},
            },
        }
    }


def write_yaml(path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def taming_reference(state: dict, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """taming's VQModel by hand, in float64: z = quant_conv(encoder(x)), nearest code,
    post_quant_conv, decoder; (code grid [B, 1, h, w], reconstruction)."""
    state = {key: value.double() for key, value in state.items()}
    config = AutoencoderConfig(**TINY)
    encoder, decoder = Encoder(config).double().eval(), Decoder(config).double().eval()
    encoder.load_state_dict(without_prefix("encoder.", state))
    decoder.load_state_dict(without_prefix("decoder.", state))
    with torch.no_grad():
        z = F.conv2d(encoder(x), state["quant_conv.weight"], state["quant_conv.bias"])
        b, d, h, w = z.shape
        codebook = state["quantize.embedding.weight"]
        indices = torch.cdist(z.permute(0, 2, 3, 1).reshape(-1, d), codebook).argmin(dim=1)
        chosen = codebook[indices].reshape(b, h, w, d).permute(0, 3, 1, 2)
        reconstruction = decoder(F.conv2d(chosen, state["post_quant_conv.weight"], state["post_quant_conv.bias"]))
    return indices.reshape(b, 1, h, w), reconstruction


def assert_computes(folder, codes: torch.Tensor, reconstruction: torch.Tensor, x: torch.Tensor) -> VQCTTokenizer:
    model = VQCTTokenizer.from_pretrained(str(folder)).double().eval()
    assert model.config.quantizer.kind == "vq" and model.codebook_sizes == (CODES,)
    assert len(codes.unique()) > 3  # a grid of one code would hide a wrong codebook or quant_conv
    got = model.encode(x)
    assert torch.equal(got, codes)
    torch.testing.assert_close(model.decode(got), reconstruction, atol=1e-8, rtol=1e-8)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], reconstruction, atol=1e-8, rtol=1e-8)
    return model


@pytest.mark.parametrize(
    "architecture_from, resolution",
    [("yaml", None), ("shapes", 32), ("shapes", None)],  # None without YAML: taming's 256 px
)
def test_taming_checkpoint_converts_to_the_same_codes_and_images(tmp_path, architecture_from, resolution, caplog):
    caplog.set_level(logging.INFO, logger="vqct.tokenizer.convert")
    state = taming_state_dict()
    save_lightning_checkpoint(tmp_path / "last.ckpt", state)
    argv = ["--taming", str(tmp_path / "last.ckpt"), "--out", str(tmp_path / "converted")]
    if architecture_from == "yaml":
        argv += ["--taming-config", write_yaml(tmp_path / "project.yaml", taming_project())]
    if resolution:
        argv += ["--resolution", str(resolution)]
    assert main(argv) == 0

    x = torch.randn(2, 3, 32, 48, dtype=torch.float64)  # not square: height and width kept apart
    model = assert_computes(tmp_path / "converted", *taming_reference(state, x), x)
    expected = AutoencoderConfig(**TINY) if resolution or architecture_from == "yaml" else None
    if expected is None:  # attention stays at level 2, named by 256 px's pixel size there
        expected = AutoencoderConfig(**{**TINY, "resolution": 256, "attn_resolutions": [64]})
    assert model.config.autoencoder == expected
    assert model.config.quantizer.embed_dim == CODE_WIDTH
    assert not model.adjectives and not model.nouns  # the baseline: no language codebook
    card = assert_publishable_card(tmp_path / "converted", tmp_path)
    assert "Converted by `vqct-convert`" in card.text and "last.ckpt" in card.text
    assert 'from_pretrained("<user>/<repo>")' in card.text
    assert "left out 3 training-only tensors (loss.*" in caplog.text


def test_a_converted_cards_repo_and_measured_numbers_come_from_flags(tmp_path):
    save_lightning_checkpoint(tmp_path / "last.ckpt", taming_state_dict())
    evaluation = {"data": "shapes", "resolution": 32, "models": {"converted": {"psnr": 20.5, "ssim": 0.5, "images": 8}}}
    (tmp_path / "metrics.json").write_text(json.dumps(evaluation))  # what vqct-evaluate tokenizer writes
    argv = ["--taming", str(tmp_path / "last.ckpt"), "--resolution", "32", "--out", str(tmp_path / "converted")]
    assert main([*argv, "--hub-model-id", "someone/vqgan", "--card-metrics", str(tmp_path / "metrics.json")]) == 0
    card = assert_publishable_card(tmp_path / "converted", tmp_path)
    assert 'from_pretrained("someone/vqgan")' in card.text and "| psnr | 20.5 |" in card.text
    assert {result.metric_type: result.metric_value for result in card.data.eval_results} == {"psnr": 20.5, "ssim": 0.5}


def test_a_bare_state_dict_converts_too(tmp_path):
    state = taming_state_dict(seed=1)
    torch.save(state, tmp_path / "state_dict.ckpt")  # what the safe re-save one-liner writes, minus the dict
    assert (
        main(["--taming", str(tmp_path / "state_dict.ckpt"), "--resolution", "32", "--out", str(tmp_path / "o")]) == 0
    )
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    assert_computes(tmp_path / "o", *taming_reference(state, x), x)


def test_the_converted_folder_is_a_tokenizer_for_init_from_and_evaluate(tmp_path, capsys):
    save_lightning_checkpoint(tmp_path / "last.ckpt", taming_state_dict())
    out = tmp_path / "converted"
    assert main(["--taming", str(tmp_path / "last.ckpt"), "--resolution", "32", "--out", str(out)]) == 0
    model = load_pretrained(VQCTTokenizer, str(out), "init_from")  # how train.py's init_from loads
    assert model.group_names == ("codebook",) and model.downsample_factor == 4
    assert {path.name for path in out.iterdir()} == {"model.safetensors", "config.json", "README.md"}
    argv = ["--model", str(out), "--data", "shapes", "--num", "4", "--batch-size", "4", "--no-fid"]
    assert evaluate_main([*argv, "--device", "cpu", "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())["models"]["converted"]
    assert metrics["quantizer"] == "vq" and metrics["codebook_sizes"] == [CODES]


def test_a_checkpoint_holding_pickled_objects_is_refused_with_the_safe_re_save(tmp_path, capsys):
    path = tmp_path / "last.ckpt"
    save_lightning_checkpoint(path, taming_state_dict(), hyper_parameters=argparse.Namespace(n_embed=CODES))
    assert main(["--taming", str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and error.startswith(f"error: --taming {path}:")
    assert "argparse.Namespace" in error and "cannot be loaded safely" in error
    assert f"torch.load('{path}', map_location='cpu', weights_only=False)['state_dict']" in error
    assert not (tmp_path / "out").exists()


class CreatesAFile:
    """Unpickled, it would create ``marker``: what a hostile checkpoint could run instead."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_hostile_checkpoint_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "ran"
    save_lightning_checkpoint(tmp_path / "last.ckpt", taming_state_dict(), callbacks=CreatesAFile(marker))
    assert main(["--taming", str(tmp_path / "last.ckpt"), "--out", str(tmp_path / "out")]) == 2
    assert "cannot be loaded safely" in capsys.readouterr().err and not marker.exists()


def test_a_file_that_is_no_checkpoint_is_one_error(tmp_path, capsys):
    (tmp_path / "last.ckpt").write_bytes(b"<html>not found</html>")
    assert main(["--taming", str(tmp_path / "last.ckpt"), "--out", str(tmp_path / "out")]) == 2
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


def drop(state, key):
    del state[key]


def widen_codes(state, key):
    state[key] = torch.randn(CODES, CODE_WIDTH + 1)


def add_remap_buffer(state, key):
    state[key] = torch.arange(CODES)


@pytest.mark.parametrize(
    "change, key, message",
    [
        (drop, "decoder.conv_out.bias", "missing decoder.conv_out.bias"),
        (drop, "quant_conv.weight", "missing quant_conv.weight"),
        (
            widen_codes,
            "quantize.embedding.weight",
            "quantize.embedding.weight has shape (16, 5), the architecture needs (16, 4)",
        ),
        (add_remap_buffer, "quantize.used", "quantize.used: nothing in a VQGAN-baseline VQCTTokenizer"),
    ],
)
def test_a_checkpoint_that_does_not_fit_names_the_key(tmp_path, capsys, change, key, message):
    state = taming_state_dict()
    change(state, key)
    save_lightning_checkpoint(tmp_path / "last.ckpt", state)
    project = write_yaml(tmp_path / "project.yaml", taming_project())
    argv = ["--taming", str(tmp_path / "last.ckpt"), "--taming-config", project, "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "ddconfig_change, message",
    [
        (dict(double_z=True), "ddconfig.double_z=True"),
        (dict(attn_type="linear"), "ddconfig.attn_type=linear"),
        (dict(unknown_option=1), "ddconfig.unknown_option is not a VQGAN ddconfig key"),
        (dict(ch_mult=[1, 2]), "nothing in a VQGAN-baseline VQCTTokenizer"),  # another run's config
    ],
)
def test_a_project_yaml_we_cannot_represent_names_the_option(tmp_path, capsys, ddconfig_change, message):
    save_lightning_checkpoint(tmp_path / "last.ckpt", taming_state_dict())
    project = write_yaml(tmp_path / "project.yaml", taming_project(**ddconfig_change))
    argv = ["--taming", str(tmp_path / "last.ckpt"), "--taming-config", project, "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def tiny_vqmodel(diffusers):
    torch.manual_seed(0)
    vqmodel = diffusers.VQModel(
        down_block_types=["DownEncoderBlock2D"] * 2 + ["AttnDownEncoderBlock2D"],
        up_block_types=["AttnUpDecoderBlock2D"] + ["UpDecoderBlock2D"] * 2,
        block_out_channels=[32, 64, 64],
        layers_per_block=1,
        latent_channels=8,
        num_vq_embeddings=CODES,
        vq_embed_dim=CODE_WIDTH,
        norm_num_groups=32,
        sample_size=32,
    )
    randomise_vectors(vqmodel)
    with torch.no_grad():  # codes spread where the encoder's codes lie, so a grid uses many of them
        rows = vqmodel.encode(torch.randn(4, 3, 32, 32)).latents.permute(0, 2, 3, 1).reshape(-1, CODE_WIDTH)
        vqmodel.quantize.embedding.weight.copy_(rows.mean(0) + rows.std(0) * torch.randn(CODES, CODE_WIDTH))
    return vqmodel.eval()


@pytest.mark.parametrize("subfolder", [None, "vqvae"])
def test_diffusers_vqmodel_converts_to_the_same_codes_and_images(tmp_path, subfolder):
    diffusers = pytest.importorskip("diffusers")
    vqmodel = tiny_vqmodel(diffusers)
    vqmodel.save_pretrained(tmp_path / "pipeline" / (subfolder or ""))
    argv = ["--diffusers", str(tmp_path / "pipeline"), "--out", str(tmp_path / "converted")]
    assert main(argv + (["--subfolder", subfolder] if subfolder else [])) == 0

    reference = vqmodel.double()
    x = torch.randn(2, 3, 32, 48, dtype=torch.float64)
    with torch.no_grad():
        latents = reference.encode(x).latents
        indices = reference.quantize(latents)[2][2].reshape(2, 1, 8, 12)
        reconstruction = reference(x).sample
    model = assert_computes(tmp_path / "converted", indices, reconstruction, x)
    assert model.config.autoencoder == AutoencoderConfig(**TINY)


def test_diffusers_keys_map_back_to_their_names():
    """Errors name a diffusers key through the inverse mapping: it must give the key back."""
    diffusers = pytest.importorskip("diffusers")
    state = tiny_vqmodel(diffusers).state_dict()
    converted = diffusers_to_ours(state, levels=3)
    assert {to_diffusers_key(key, levels=3) for key in converted} == set(state)
    assert "decoder.up.2.attn.0.q.weight" in converted and converted["decoder.up.2.attn.0.q.weight"].dim() == 4
    assert converted["quantizer.embedding.weight"].shape == (CODES, CODE_WIDTH)  # a 2-D weight left 2-D


VQMODEL_CONFIG = {
    "_class_name": "VQModel",
    "down_block_types": ["DownEncoderBlock2D", "AttnDownEncoderBlock2D"],
    "up_block_types": ["AttnUpDecoderBlock2D", "UpDecoderBlock2D"],
    "block_out_channels": [32, 64],
    "sample_size": 32,
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"norm_type": "spatial"}, "norm_type='spatial'"),
        ({"norm_num_groups": 16}, "norm_num_groups=16"),
        ({"mid_block_add_attention": False}, "mid_block_add_attention=False"),
        ({"act_fn": "relu"}, "act_fn='relu'"),
        ({"_class_name": "AutoencoderKL"}, "a diffusers AutoencoderKL, not a VQModel"),
        ({"up_block_types": ["UpDecoderBlock2D", "AttnUpDecoderBlock2D"]}, "attention at encoder levels"),
        ({"down_block_types": ["DownEncoderBlock2D", "CrossAttnDownBlock2D"]}, "CrossAttnDownBlock2D"),
        ({"block_out_channels": [32, 48]}, "not multiples of the first"),
    ],
)
def test_a_diffusers_option_we_cannot_represent_names_it(change, message):
    with pytest.raises(ValueError, match=message):
        architecture({**VQMODEL_CONFIG, **change}, "--diffusers x")


def test_diffusers_options_that_encoding_never_uses_are_accepted():
    autoencoder, codes, width = architecture(
        {**VQMODEL_CONFIG, "scaling_factor": 0.5, "force_upcast": True, "lookup_from_codebook": True}, "x"
    )
    assert autoencoder.attn_resolutions == [16] and (codes, width) == (256, 3)


def test_a_missing_or_empty_diffusers_folder_is_one_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["--diffusers", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no config.json" in capsys.readouterr().err
    assert main(["--diffusers", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err


def test_a_converted_model_keeps_its_sources_licence_or_says_it_is_unknown(tmp_path):
    from huggingface_hub import ModelCard

    diffusers = pytest.importorskip("diffusers")
    tiny_vqmodel(diffusers).save_pretrained(tmp_path / "source")
    assert main(["--diffusers", str(tmp_path / "source"), "--out", str(tmp_path / "unknown")]) == 0
    card = assert_publishable_card(tmp_path / "unknown", tmp_path)
    assert card.data.license == "other" and "could not be read here: check it before use" in card.text
    (tmp_path / "source" / "README.md").write_text("---\nlicense: openrail++\n---\n# a VQ model\n")
    assert main(["--diffusers", str(tmp_path / "source"), "--out", str(tmp_path / "known")]) == 0
    card = ModelCard.load(tmp_path / "known" / "README.md")
    assert card.data.license == "openrail++" and "keep their source's licence (openrail++)" in card.text
