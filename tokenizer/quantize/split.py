"""Two codebooks learned directly, over the two channel halves of the encoder output.

VQCT's dual quantizer without the language: the same split, the same two sizes (512 + 1,024 at
quickstart size, 512 × 1,024 combinations a cell), but each codebook is a VQGAN codebook learned
directly (from ±1/K, or from the encoder output of its half: ``LearnedVectorQuantizer``'s start). Set beside VQCT it asks whether two codebooks help because of the words and the graph
or because of the capacity the split gives. Indices: group 0 is the first half, group 1 the second.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Quantizer
from .vector import LearnedVectorQuantizer, Quantized


class SplitVectorQuantizer(Quantizer):
    groups = 2

    def __init__(
        self,
        *,
        codebook_sizes: tuple[int, int],
        dim: int,
        beta: float = 0.25,
        chunk_size: int = 8192,
        start: str = "uniform",
    ):
        super().__init__()
        if dim % 2:
            raise ValueError(f"the split quantizer halves the channels; got {dim}")
        self.halves = nn.ModuleList(
            LearnedVectorQuantizer(codebook_size=size, dim=dim // 2, beta=beta, chunk_size=chunk_size, start=start)
            for size in codebook_sizes
        )

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return tuple(half.embedding.num_embeddings for half in self.halves)

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        return tuple(half.embedding.weight for half in self.halves)

    def forward(self, z: torch.Tensor) -> Quantized:
        parts = [half(part) for half, part in zip(self.halves, z.chunk(2, dim=1))]
        return Quantized(
            torch.cat([part.quantized for part in parts], 1),
            torch.cat([part.indices for part in parts], 1),
            sum(part.loss for part in parts),
        )

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        return torch.cat([half.lookup(indices[:, g : g + 1]) for g, half in enumerate(self.halves)], 1)
