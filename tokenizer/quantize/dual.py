"""VQCT's dual quantizer ("MCB"): the encoder output is split along channels into an adjective
half and a noun half, each quantized against its own generated codebook; the halves are
concatenated again for the decoder. Indices: group 0 = adjective ids, group 1 = noun ids."""

from __future__ import annotations

import torch

from .language import LanguageQuantizer
from .vector import Quantized, quantize


class DualQuantizer(LanguageQuantizer):
    groups = 2

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.transfer.num_adjectives, self.transfer.word_vectors.shape[0] - self.transfer.num_adjectives)

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        return self.codebooks()

    def forward(self, z: torch.Tensor) -> Quantized:
        if z.shape[1] % 2:
            raise ValueError(f"the dual quantizer splits channels in halves; got {z.shape[1]} channels")
        z_adjective, z_noun = z.chunk(2, dim=1)
        self.start(z_adjective, z_noun)
        adjective_codes, noun_codes = self.codebooks()
        adjective = quantize(z_adjective, adjective_codes, self.beta, self.chunk_size)
        noun = quantize(z_noun, noun_codes, self.beta, self.chunk_size)
        return Quantized(
            torch.cat([adjective.quantized, noun.quantized], 1),
            torch.cat([adjective.indices, noun.indices], 1),
            adjective.loss + noun.loss,
        )

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        adjective_codes, noun_codes = self.codebooks()
        codes = torch.cat([adjective_codes[indices[:, 0]], noun_codes[indices[:, 1]]], -1)
        return codes.permute(0, 3, 1, 2)
