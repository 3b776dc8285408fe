"""Pixel metrics of images against references, shared by both stages' evaluations and the app.

Two protocols:

- ours (``pixel_metrics``): on [0, 1] values: images in [-1, 1] are mapped by (x + 1) / 2 and
  reconstructions are clamped to the same range first;
- the paper's (``paper_pixel_metrics``, as the official VQCT evaluation computes them): l1 and l2
  on the [-1, 1] network outputs, not clamped (``nn.L1Loss`` / ``nn.MSELoss``), so l1 reads about
  2× and l2 about 4× ours; PSNR and SSIM on the 8-bit images a run saves (values rounded to
  0 … 255, PSNR against 255²).
"""

from __future__ import annotations

import torch

# PSNR of identical images is infinite; capped here so a mean over a set stays finite
MAX_PSNR = 100.0


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → [0, 1], clamped, float32."""
    return ((images.float() + 1) / 2).clamp(0, 1)


def pixel_metrics(images: torch.Tensor, reconstructions: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image PSNR (dB), SSIM (11×11 Gaussian window, sigma 1.5), l1 and l2 on [0, 1] values."""
    from torchmetrics.functional.image import structural_similarity_index_measure  # 3 s to import: when used

    x, y = to_unit(images), to_unit(reconstructions)
    l2 = (x - y).pow(2).flatten(1).mean(1)
    return {
        "psnr": _psnr(y, x, 1.0),
        "ssim": structural_similarity_index_measure(y, x, data_range=1.0, reduction="none"),
        "l1": (x - y).abs().flatten(1).mean(1),
        "l2": l2,
    }


def to_8bit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] → the 0 … 255 integer values an 8-bit image file holds, as float32."""
    return (to_unit(images) * 255).round()


def paper_pixel_metrics(images: torch.Tensor, reconstructions: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image metrics on the paper's scale (module docstring): ``paper/l1``, ``paper/l2`` on
    [-1, 1] unclamped, ``paper/psnr`` (dB) and ``paper/ssim`` on 8-bit images."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    x, y = images.float(), reconstructions.float()
    x8, y8 = to_8bit(images), to_8bit(reconstructions)
    return {
        "paper/l1": (x - y).abs().flatten(1).mean(1),
        "paper/l2": (x - y).pow(2).flatten(1).mean(1),
        "paper/psnr": _psnr(y8, x8, 255.0),
        "paper/ssim": structural_similarity_index_measure(y8 / 255, x8 / 255, data_range=1.0, reduction="none"),
    }


def _psnr(predictions: torch.Tensor, targets: torch.Tensor, data_range: float) -> torch.Tensor:
    """Per-image PSNR (torchmetrics'), capped at ``MAX_PSNR``."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    per_image = peak_signal_noise_ratio(predictions, targets, data_range=data_range, reduction="none", dim=(1, 2, 3))
    return per_image.clamp(max=MAX_PSNR)
