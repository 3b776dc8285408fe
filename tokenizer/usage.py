"""Code usage: how many codes of each group a model uses, and how evenly (perplexity)."""

from __future__ import annotations

import torch


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
