"""VQGAN convolutional encoder and decoder.

Same hyper-parameters and block layout as the VQGAN of taming-transformers, so its configs
carry over. Submodule names follow that model's state-dict keys (``down.0.block.1.conv1``,
``mid.attn_1.q``, ...) so its released autoencoder weights can be loaded with
``load_state_dict`` once the quantizer keys are split off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from vqct.common.config import ConfigError, Range, check_values, chosen, ranged

NORMS = ("group", "none")


@dataclass
class AutoencoderConfig:
    """Encoder/decoder hyper-parameters (taming-transformers' ``ddconfig``)."""

    resolution: int = ranged(256, 1)
    in_channels: int = ranged(3, 1)
    out_channels: int = ranged(3, 1)
    ch: int = ranged(128, 1)
    ch_mult: list[int] = field(default_factory=lambda: [1, 1, 2, 2, 4], metadata={"range": Range(1)})
    num_res_blocks: int = ranged(2, 1)
    attn_resolutions: list[int] = field(default_factory=lambda: [16])
    z_channels: int = ranged(256, 1)
    dropout: float = ranged(0.0, 0, 1, high_open=True)
    # "group": GroupNorm(32) before every conv stage, as in VQGAN; "none": no normalization, which
    # the quickstart's small model needs at its budget (docs/results.md, "What held the quickstart
    # back").
    norm: str = chosen("group", NORMS)

    def __post_init__(self) -> None:
        check_values(self, prefix="model.autoencoder.")
        if not self.ch_mult:
            raise ConfigError("model.autoencoder.ch_mult=[]: must be a non-empty list of positive ints")
        # GroupNorm uses 32 groups; every width is ch * an integer multiplier.
        if self.norm == "group" and self.ch % 32:
            raise ConfigError(
                f"model.autoencoder.ch={self.ch}: must be divisible by 32 (GroupNorm groups) with norm=group"
            )
        f = self.downsample_factor
        if self.resolution % f:
            raise ConfigError(
                f"model.autoencoder.resolution={self.resolution}: must be divisible by the downsample factor {f} "
                "(2 ** (len(ch_mult) - 1))"
            )

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)

    def attention_levels(self) -> list[bool]:
        """Per level, whether it has attention; decided by the training resolution only, so
        the same weights run on other image sizes."""
        return [self.resolution // 2**i in self.attn_resolutions for i in range(len(self.ch_mult))]


def normalization(kind: str, channels: int) -> nn.Module:
    if kind == "none":
        return nn.Identity()
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """Two norm-SiLU-conv3x3 stages with a residual; 1x1 shortcut when widths differ."""

    def __init__(self, in_channels: int, out_channels: int | None = None, dropout: float = 0.0, norm: str = "group"):
        super().__init__()
        out_channels = out_channels or in_channels
        self.norm1 = normalization(norm, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = normalization(norm, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return skip + h


class AttentionBlock(nn.Module):
    """Single-head self-attention over all spatial positions, with a residual."""

    def __init__(self, channels: int, norm: str = "group"):
        super().__init__()
        self.norm = normalization(norm, channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = self.norm(x)

        def tokens(t: torch.Tensor) -> torch.Tensor:  # [B, C, H, W] -> [B, 1 head, HW, C]
            return t.reshape(b, c, h * w).transpose(1, 2).unsqueeze(1)

        # SDPA's default scale is 1/sqrt(C), the same as VQGAN's; it picks a fused kernel
        # so the HW x HW score matrix need not be materialised.
        out = F.scaled_dot_product_attention(tokens(self.q(y)), tokens(self.k(y)), tokens(self.v(y)))
        out = out.squeeze(1).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Stride-2 conv3x3; padding only right/bottom (as VQGAN) so H/2 is exact for even H."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2 followed by conv3x3."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Level(nn.Module):
    """One resolution level: res blocks, each optionally followed by attention, then a resample."""

    def __init__(
        self,
        channels_in: int,
        channels_out: int,
        n_blocks: int,
        attention: bool,
        dropout: float,
        resample: nn.Module | None,
        resample_name: str,
        norm: str,
    ):
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()
        for j in range(n_blocks):
            self.block.append(ResnetBlock(channels_in if j == 0 else channels_out, channels_out, dropout, norm))
            if attention:
                self.attn.append(AttentionBlock(channels_out, norm))
        self._resample_name = resample_name
        setattr(self, resample_name, resample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for j, block in enumerate(self.block):
            x = block(x)
            if len(self.attn):
                x = self.attn[j](x)
        resample = getattr(self, self._resample_name)
        return x if resample is None else resample(x)


class _Mid(nn.Module):
    def __init__(self, channels: int, dropout: float, norm: str):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, dropout, norm)
        self.attn_1 = AttentionBlock(channels, norm)
        self.block_2 = ResnetBlock(channels, channels, dropout, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    """Image [B, in_channels, H, W] -> latent [B, z_channels, H/f, W/f]."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        mult = config.ch_mult
        attention = config.attention_levels()
        last = len(mult) - 1
        self.conv_in = nn.Conv2d(config.in_channels, config.ch, 3, padding=1)
        self.down = nn.ModuleList()
        width = config.ch
        for i, m in enumerate(mult):
            out = config.ch * m
            resample = Downsample(out) if i != last else None
            self.down.append(
                _Level(
                    width, out, config.num_res_blocks, attention[i], config.dropout, resample, "downsample", config.norm
                )
            )
            width = out
        self.mid = _Mid(width, config.dropout, config.norm)
        self.norm_out = normalization(config.norm, width)
        self.conv_out = nn.Conv2d(width, config.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.config.downsample_factor
        if x.shape[-2] % f or x.shape[-1] % f:
            raise ValueError(f"input height and width must be divisible by {f}, got {tuple(x.shape[-2:])}")
        h = self.conv_in(x)
        for level in self.down:
            h = level(h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """Latent [B, z_channels, h, w] -> image [B, out_channels, h*f, w*f]."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        mult = config.ch_mult
        attention = config.attention_levels()
        width = config.ch * mult[-1]
        self.conv_in = nn.Conv2d(config.z_channels, width, 3, padding=1)
        self.mid = _Mid(width, config.dropout, config.norm)
        # Built deepest level first, but stored so that up[i] is level i (as taming indexes it).
        levels: list[_Level] = []
        for i in reversed(range(len(mult))):
            out = config.ch * mult[i]
            resample = Upsample(out) if i != 0 else None
            levels.insert(
                0,
                _Level(
                    width,
                    out,
                    config.num_res_blocks + 1,
                    attention[i],
                    config.dropout,
                    resample,
                    "upsample",
                    config.norm,
                ),
            )
            width = out
        self.up = nn.ModuleList(levels)
        self.norm_out = normalization(config.norm, width)
        self.conv_out = nn.Conv2d(width, config.out_channels, 3, padding=1)

    @property
    def last_layer(self) -> torch.Tensor:
        """Weight of the final conv; the GAN loss balances gradients at this tensor."""
        return self.conv_out.weight

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.conv_out(F.silu(self.norm_out(h)))
