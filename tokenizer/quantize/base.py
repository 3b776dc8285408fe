"""What every quantizer is: an ``nn.Module`` returning ``Quantized(quantized, indices, loss)``
from ``forward(z)``, with ``groups`` index grids, their ``codebook_sizes`` and codes
(``group_codebooks``), ``lookup(indices)`` back to codes, and ``set_step`` for the ones that
follow a schedule."""

from __future__ import annotations

from torch import nn


class Quantizer(nn.Module):
    groups: int

    def set_step(self, step: int) -> None:
        """The optimizer step training is at: a schedule's clock (Gumbel's temperature); most
        quantizers have none."""
