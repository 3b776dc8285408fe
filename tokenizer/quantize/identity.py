"""No quantization: the encoder output goes to the decoder as it is.

The continuous autoencoder with the same encoder, decoder, losses and training recipe as every
quantizer: the ceiling row of a comparison table, which says how much of a quantizer's error is
the quantizer's and how much the autoencoder's. It has no codes, so nothing can be encoded to ids
or decoded from them.
"""

from __future__ import annotations

import torch

from vqct.common.errors import UserValueError

from .base import Quantizer
from .vector import Quantized


class PassThrough(Quantizer):
    groups = 0

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return ()

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        return ()

    def forward(self, z: torch.Tensor) -> Quantized:
        indices = torch.zeros(z.shape[0], 0, *z.shape[2:], dtype=torch.long, device=z.device)
        return Quantized(z, indices, z.new_zeros(()))

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        raise UserValueError("model.quantizer.kind=none has no codes to decode; use model(images) for reconstructions")
