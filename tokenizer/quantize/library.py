"""The field's quantizers from ``vector-quantize-pytorch`` (pinned exactly: its implementations
are the ones papers compare against), behind one thin adapter with this toolkit's interface.

- ``fsq`` — FSQ (Mentzer et al., 2023): a learned projection to ``len(levels)`` bounded
  dimensions, each rounded to its fixed levels; no codebook and no codebook loss.
- ``lfq`` — LFQ (MAGVIT-v2): a projection to ``bits`` dimensions, each quantized to ±1 by its
  sign; an entropy loss spreads the codes.
- ``simvq`` — SimVQ (Zhu et al., 2024): a frozen Gaussian codebook through one learned linear
  layer; the rotation trick off by default (the SimVQ paper uses straight-through; the library
  turns it on).

The library's quantizers are used for the forward pass only. What the toolkit needs around them
is ours: one index grid [B, 1, h, w] a cell, the code vector of every index (its ``group_codebooks``,
what the decoder receives for that index: FSQ's and LFQ's implicit codebooks through their output
projection), and ``lookup`` from ids back to vectors, so stage two tokenizes, decodes and starts
from code vectors as with any codebook. Usage and perplexity are counted by ``tokenizer.usage``
over the validation set, never read from the library's buffers.
"""

from __future__ import annotations

import torch
from torch import nn
from vector_quantize_pytorch import FSQ, LFQ, SimVQ

from .base import Quantizer
from .vector import Quantized

LIBRARY_KINDS = ("fsq", "lfq", "simvq")


class LibraryQuantizer(Quantizer):
    groups = 1

    def __init__(self, module: nn.Module, codebook_size: int):
        super().__init__()
        self.module, self.size = module, codebook_size

    @classmethod
    def fsq(cls, *, levels: list[int], dim: int) -> LibraryQuantizer:
        # FSQ counts its codes with .item() as it is built, which a meta-device build (the saved
        # config's shape check, common.saved_config) cannot do; its weights are two dim × len(levels)
        # projections, so they are made on the CPU whatever the default device
        with torch.device("cpu"):
            module = FSQ(levels=list(levels), dim=dim)
        return cls(module, module.codebook_size)

    @classmethod
    def lfq(cls, *, bits: int, dim: int, entropy_weight: float, commitment_weight: float) -> LibraryQuantizer:
        module = LFQ(
            dim=dim, codebook_size=2**bits, entropy_loss_weight=entropy_weight, commitment_loss_weight=commitment_weight
        )
        return cls(module, 2**bits)

    @classmethod
    def simvq(cls, *, codebook_size: int, dim: int, beta: float, rotation_trick: bool) -> LibraryQuantizer:
        module = SimVQ(
            dim=dim,
            codebook_size=codebook_size,
            channel_first=True,
            rotation_trick=rotation_trick,
            input_to_quantize_commit_loss_weight=beta,  # our β: the encoder's pull toward its code
        )
        return cls(module, codebook_size)

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.size,)

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        """The vector the decoder receives for every index [K, D]."""
        if isinstance(self.module, SimVQ):
            return (self.module.codebook,)
        ids = torch.arange(self.size, device=next(self.module.buffers()).device)
        return (self.module.indices_to_codes(ids),)

    def forward(self, z: torch.Tensor) -> Quantized:
        quantized, indices, *loss = self.module(z)
        loss = loss[0] if loss else z.new_zeros(())  # FSQ has no loss
        return Quantized(quantized, indices.long().unsqueeze(1), loss)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """[B, 1, h, w] indices → [B, D, h, w] code vectors."""
        return self.group_codebooks()[0][indices[:, 0]].permute(0, 3, 1, 2)
