"""Reconstruction and codebook metrics, shared by training's validation and ``tokenizer.evaluate``.

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


class CodeHistogram:
    """Counts of every code over many batches, per code group, for usage % and perplexity."""

    def __init__(self, codebook_sizes: tuple[int, ...], device):
        self.counts = [torch.zeros(size, dtype=torch.long, device=device) for size in codebook_sizes]

    def update(self, indices: torch.Tensor) -> None:
        for group, counts in enumerate(self.counts):
            counts += torch.bincount(indices[:, group].flatten(), minlength=counts.numel())

    def metrics(self, names: tuple[str, ...]) -> dict[str, float]:
        """usage/<name>_percent: share of codes used at least once; usage/<name>_perplexity:
        exp(entropy) of the code distribution (K when all codes are used equally)."""
        result = {}
        for name, counts in zip(names, self.counts):
            p = counts.double() / counts.sum().clamp(min=1)
            entropy = -(p[p > 0] * p[p > 0].log()).sum()
            result[f"usage/{name}_percent"] = 100.0 * float((counts > 0).sum()) / counts.numel()
            result[f"usage/{name}_perplexity"] = float(entropy.exp())
        return result
