import math
import re

import pytest
import torch

from vqct.common.config import load_config
from vqct.tokenizer.autoencoder import AttentionBlock, AutoencoderConfig, Decoder, Encoder
from vqct.tokenizer.convert import diffusers_to_ours
from vqct.tokenizer.discriminator import PatchDiscriminator, hinge_d_loss, vanilla_d_loss
from vqct.tokenizer.losses import LossConfig, VQGANLoss

# Level counts for f2, f4, f8; resolution 16 keeps attention at 8px present at level 1 of each.
CH_MULTS = [[1, 2], [1, 2, 2], [1, 1, 2, 2]]


def tiny(**overrides) -> AutoencoderConfig:
    base = dict(resolution=16, ch=32, ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[8], z_channels=8)
    return AutoencoderConfig(**{**base, **overrides})


def n_attention(module: torch.nn.Module) -> int:
    return sum(isinstance(m, AttentionBlock) for m in module.modules())


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("ch_mult, factor", [([1, 1, 2, 2, 4], 16), ([1, 1, 2, 4], 8), ([1], 1)])
def test_downsample_factor(ch_mult, factor):
    assert AutoencoderConfig(ch_mult=ch_mult).downsample_factor == factor


@pytest.mark.parametrize(
    "overrides, field, value",
    [
        (dict(ch=48), "ch", "48"),
        (dict(resolution=20, ch_mult=[1, 1, 2, 2]), "resolution", "20"),
        (dict(ch_mult=[]), "ch_mult", "[]"),
        (dict(num_res_blocks=0), "num_res_blocks", "0"),
        (dict(dropout=1.0), "dropout", "1.0"),
    ],
)
def test_config_validation_names_field(overrides, field, value):
    with pytest.raises(ValueError, match=rf"^model\.autoencoder\.{field}={re.escape(value)}: must be"):
        tiny(**overrides)


def test_structured_config_round_trip():
    config = load_config(AutoencoderConfig, overrides=["ch_mult=[1,2,2]", "resolution=32", "attn_resolutions=[]"])
    assert isinstance(config, AutoencoderConfig)
    assert config.ch_mult == [1, 2, 2] and config.attn_resolutions == [] and config.downsample_factor == 4
    with pytest.raises(ValueError, match=r"model\.autoencoder\.ch=40: must be divisible by 32"):
        load_config(AutoencoderConfig, overrides=["ch=40"])
    assert load_config(AutoencoderConfig, overrides=["ch=40", "norm=none"]).ch == 40  # no groups to divide into
    with pytest.raises(ValueError, match="norm='batch': must be one of group, none"):
        load_config(AutoencoderConfig, overrides=["norm=batch"])


def test_norm_none_has_no_normalization_and_keeps_the_state_dict_names():
    grouped, plain = Encoder(tiny()), Encoder(tiny(norm="none"))
    assert any(isinstance(m, torch.nn.GroupNorm) for m in grouped.modules())
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in plain.modules())
    # the convolutions keep their names and shapes, only the norm parameters are gone
    without_norms = {k: v.shape for k, v in grouped.state_dict().items() if "norm" not in k}
    assert {k: v.shape for k, v in plain.state_dict().items()} == without_norms


@pytest.mark.parametrize("norm", ["group", "none"])
@pytest.mark.parametrize("dropout", [0.0, 0.2])
@pytest.mark.parametrize("attn", [[], [8]])
@pytest.mark.parametrize("ch_mult", CH_MULTS)
def test_encoder_decoder_shapes(ch_mult, attn, dropout, norm):
    torch.manual_seed(0)
    config = tiny(ch_mult=ch_mult, attn_resolutions=attn, dropout=dropout, norm=norm)
    f = config.downsample_factor
    encoder, decoder = Encoder(config), Decoder(config)
    # One attended level (8px) plus the mid block's attention.
    assert n_attention(encoder) == len(attn) * config.num_res_blocks + 1
    assert n_attention(decoder) == len(attn) * (config.num_res_blocks + 1) + 1

    x = torch.randn(2, 3, 16, 16)
    z = encoder(x)
    assert z.shape == (2, 8, 16 // f, 16 // f)
    y = decoder(z)
    assert y.shape == x.shape and torch.isfinite(y).all()

    # Dropout must be wired in: train-mode passes differ only when it is on, eval is deterministic.
    assert torch.equal(decoder(z), decoder(z)) == (dropout == 0.0)
    encoder.eval()
    assert torch.equal(encoder(x), encoder(x))


@pytest.mark.parametrize("ch_mult", CH_MULTS)
def test_non_square_input(ch_mult):
    config = tiny(ch_mult=ch_mult)
    f = config.downsample_factor
    encoder, decoder = Encoder(config), Decoder(config)
    x = torch.randn(1, 3, 16, 40)  # neither side is config.resolution
    z = encoder(x)
    assert z.shape == (1, 8, 16 // f, 40 // f)
    assert decoder(z).shape == x.shape
    if f > 1:
        with pytest.raises(ValueError, match=f"divisible by {f}"):
            encoder(torch.randn(1, 3, 16, 16 + f // 2))


def test_attention_matches_naive_reference():
    torch.manual_seed(0)
    block = AttentionBlock(32)
    with torch.no_grad():  # non-trivial affine so a skipped or misplaced norm shows
        block.norm.weight.normal_(1.0, 0.3)
        block.norm.bias.normal_(0.0, 0.3)
    x = torch.randn(2, 32, 3, 5)  # non-square catches height/width mix-ups

    b, c, h, w = x.shape
    y = block.norm(x)
    q, k, v = (conv(y).reshape(b, c, h * w) for conv in (block.q, block.k, block.v))
    weights = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)  # [B, query, key]
    attended = (v @ weights.transpose(1, 2)).reshape(b, c, h, w)
    expected = x + block.proj_out(attended)

    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)


def test_decoder_last_layer_gets_gradient():
    decoder = Decoder(tiny())
    assert decoder.last_layer is decoder.conv_out.weight
    decoder(torch.randn(2, 8, 8, 8)).square().mean().backward()
    grad = decoder.last_layer.grad
    assert grad is not None and grad.abs().sum() > 0


def test_paper_f16_config():
    config = AutoencoderConfig()  # taming's VQGAN f16 ddconfig
    encoder, decoder = Encoder(config), Decoder(config)
    keys = set(encoder.state_dict())
    # Attention only at the 16px level (index 4), after each of its 2 res blocks.
    assert {"down.4.attn.0.q.weight", "down.4.attn.1.q.weight", "mid.attn_1.q.weight"} <= keys
    assert not any(k.startswith(("down.3.attn", "down.4.downsample")) for k in keys)
    assert "up.4.attn.2.q.weight" in decoder.state_dict() and "up.0.upsample.conv.weight" not in decoder.state_dict()
    print(
        f"f16 params: encoder {n_params(encoder):,} decoder {n_params(decoder):,} "
        f"discriminator {n_params(PatchDiscriminator()):,}"
    )
    with torch.no_grad():
        z = encoder(torch.randn(1, 3, 32, 32))
        assert z.shape == (1, 256, 2, 2)
        assert decoder(z).shape == (1, 3, 32, 32)


def test_matches_diffusers_vqmodel():
    """Same numbers as diffusers' independent VQGAN port once weights are renamed."""
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    config = tiny(resolution=32, ch_mult=[1, 2, 2], num_res_blocks=2)
    reference = (
        diffusers.VQModel(
            down_block_types=["DownEncoderBlock2D"] * 2 + ["AttnDownEncoderBlock2D"],
            up_block_types=["AttnUpDecoderBlock2D"] + ["UpDecoderBlock2D"] * 2,
            block_out_channels=[32, 64, 64],
            layers_per_block=2,
            latent_channels=8,
            num_vq_embeddings=16,
            vq_embed_dim=8,
            norm_num_groups=32,
            sample_size=32,
        )
        .double()
        .eval()
    )
    with torch.no_grad():  # default norms are all identical; randomise so a mis-mapped one shows
        for param in reference.parameters():
            if param.dim() == 1:
                param.normal_(0.0, 0.1)
    # the converter's mapping (tokenizer.convert), here on the encoder and decoder alone
    state = diffusers_to_ours(reference.state_dict(), levels=3)

    def part(prefix: str) -> dict:
        return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}

    encoder, decoder = Encoder(config).double().eval(), Decoder(config).double().eval()
    encoder.load_state_dict(part("encoder."))
    decoder.load_state_dict(part("decoder."))
    x = torch.randn(2, 3, 32, 48, dtype=torch.float64)
    with torch.no_grad():
        z = encoder(x)
        torch.testing.assert_close(z, reference.encoder(x), atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(decoder(z), reference.decoder(z), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("size, patches", [(32, 2), (64, 6), (256, 30)])
def test_discriminator_output_shape(size, patches):
    disc = PatchDiscriminator()
    assert disc(torch.randn(2, 3, size, size)).shape == (2, 1, patches, patches)


def test_real_and_fake_in_one_call_match_two_calls():
    """One call with two batches (the discriminator step's, one DDP forward per backward) is the
    paper's single-process behaviour: each batch normalised on its own, same logits, gradients and
    running statistics as two calls, and not what one concatenated batch gives."""
    torch.manual_seed(0)
    real, fake = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32) * 2 + 1
    paired, separate = PatchDiscriminator(), PatchDiscriminator()
    separate.load_state_dict(paired.state_dict())
    logits = paired(real, fake)
    expected = (separate(real), separate(fake))
    for got, want in zip(logits, expected, strict=True):
        torch.testing.assert_close(got, want)
    hinge_d_loss(*logits).backward()
    hinge_d_loss(*expected).backward()
    for (name, a), b in zip(paired.named_parameters(), separate.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    for (name, a), b in zip(paired.named_buffers(), separate.buffers(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    mixed = PatchDiscriminator()
    mixed.load_state_dict(separate.state_dict())
    assert not torch.allclose(mixed(torch.cat([real, fake]))[:4], logits[0])


def test_the_discriminator_step_calls_the_wrapped_network_once():
    wrapped = PatchDiscriminator()
    calls = []
    wrapped.register_forward_pre_hook(lambda module, inputs: calls.append(len(inputs)))
    loss_fn = VQGANLoss(LossConfig(perceptual_weight=0.0))
    loss_fn.discriminator_loss(torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32), wrapped)
    assert calls == [2]


def test_discriminator_init():
    torch.manual_seed(0)
    disc = PatchDiscriminator()
    convs = [m for m in disc.modules() if isinstance(m, torch.nn.Conv2d)]
    norms = [m for m in disc.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(convs) == 5 and len(norms) == 3
    weights = torch.cat([c.weight.flatten() for c in convs])
    assert abs(weights.mean()) < 2e-3 and abs(weights.std() - 0.02) < 1e-3
    assert all(c.bias is None or not c.bias.any() for c in convs)
    gains = torch.cat([n.weight for n in norms])
    assert abs(gains.mean() - 1.0) < 0.01 and 0.01 < gains.std() < 0.03
    assert not torch.cat([n.bias for n in norms]).any()


@pytest.mark.parametrize(
    "real, fake, expected",
    [(2.0, -2.0, 0.0), (0.0, 0.0, 1.0), (1.5, 0.5, 0.75), (-1.0, -3.0, 1.0), (0.5, -0.5, 0.5)],
)
def test_hinge_d_loss(real, fake, expected):
    loss = hinge_d_loss(torch.full((2, 1, 6, 6), real), torch.full((2, 1, 6, 6), fake))
    assert loss.item() == pytest.approx(expected)


def test_vanilla_d_loss():
    zeros = torch.zeros(2, 1, 4, 4)
    assert vanilla_d_loss(zeros, zeros).item() == pytest.approx(math.log(2))
    assert vanilla_d_loss(zeros + 20, zeros - 20).item() == pytest.approx(0.0, abs=1e-8)
    # Mean over patches: half the real patches wrong by a margin of 3.
    real = torch.tensor([3.0, -3.0])
    expected = 0.5 * (0.5 * (math.log1p(math.exp(-3)) + math.log1p(math.exp(3))) + math.log(2))
    assert vanilla_d_loss(real, torch.zeros(2)).item() == pytest.approx(expected)
