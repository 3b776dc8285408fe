"""PatchGAN discriminator (pix2pix's N-layer design, as VQGAN uses it) and its losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vqct.common.config import ConfigError


class PatchDiscriminator(nn.Module):
    """Image [B, C, H, W] -> one real/fake logit per overlapping patch, [B, 1, h, w].

    With the defaults a 256px input gives 30x30 logits (70x70 receptive field).

    Several batches in one call (``discriminator(real, fake)``) give one logit tensor each, every
    batch normalised by BatchNorm on its own, exactly as separate calls would. The discriminator
    step passes real and fake together because under DDP each call of the wrapped module
    broadcasts rank 0's BatchNorm buffers in place: a second call before the backward modifies
    the running statistics the first call's cuDNN BatchNorm saved for it, and the backward fails
    ("modified by an inplace operation"). One call per backward is correct by construction, keeps
    BatchNorm (the paper's discriminator) and keeps real and fake statistics apart, which one
    concatenated batch would mix. SyncBatchNorm was not chosen: it is CUDA-only (the gloo tests
    could not run it) and would change the statistics from per-GPU batches, as taming's DDP runs
    had them, to the global batch.
    """

    def __init__(self, in_channels: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        if n_layers < 1:
            raise ConfigError(f"n_layers must be at least 1, got {n_layers}")
        # First conv has no norm: normalising the raw image's statistics would hurt.
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1  # the last block keeps resolution
            # No conv bias: BatchNorm's shift makes it redundant.
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=False),
                nn.BatchNorm2d(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.main = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, *images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if not images:
            raise TypeError("PatchDiscriminator needs at least one image batch")
        logits = tuple(self.main(batch) for batch in images)
        return logits[0] if len(logits) == 1 else logits


def _init_weights(module: nn.Module) -> None:
    # DCGAN-style init, as taming's weights_init; keeps early logits near zero.
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss; zero once real logits are >= 1 and fake logits <= -1."""
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def vanilla_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating binary cross-entropy on logits: softplus(-real) and softplus(fake)."""
    return 0.5 * (F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean())
