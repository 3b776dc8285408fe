"""Pixel metrics of images against references, shared by both stages' evaluations and the app.

Pixel metrics are computed on [0, 1] values: images in [-1, 1] are mapped by (x + 1) / 2 and
reconstructions are clamped to the same range first.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import structural_similarity_index_measure


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → [0, 1], clamped, float32."""
    return ((images.float() + 1) / 2).clamp(0, 1)


def pixel_metrics(images: torch.Tensor, reconstructions: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image PSNR (dB), SSIM (11×11 Gaussian window, sigma 1.5), l1 and l2 on [0, 1] values."""
    x, y = to_unit(images), to_unit(reconstructions)
    l2 = (x - y).pow(2).flatten(1).mean(1)
    return {
        "psnr": 10 * torch.log10(1.0 / l2.clamp(min=1e-10)),
        "ssim": structural_similarity_index_measure(y, x, data_range=1.0, reduction="none"),
        "l1": (x - y).abs().flatten(1).mean(1),
        "l2": l2,
    }
