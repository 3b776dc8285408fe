"""The single-codebook ablation ("SCB"): adjective and noun codes stacked into one codebook
(ids below the adjective count are adjectives) and the whole encoder output quantized against it."""

from __future__ import annotations

import torch

from .language import LanguageQuantizer
from .vector import Quantized, quantize


class SingleQuantizer(LanguageQuantizer):
    groups = 1

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.transfer.word_vectors.shape[0],)

    def stacked(self) -> torch.Tensor:
        return torch.cat(self.codebooks())

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        return (self.stacked(),)

    def forward(self, z: torch.Tensor) -> Quantized:
        self.start(z, z)  # one codebook for the whole output: both groups meet all of it
        return quantize(z, self.stacked(), self.beta, self.chunk_size)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        return self.stacked()[indices[:, 0]].permute(0, 3, 1, 2)
