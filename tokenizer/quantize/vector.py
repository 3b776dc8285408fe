"""Vector quantization against a given codebook (straight-through), and a learned codebook (VQ-VAE/VQGAN)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .base import Quantizer
from .nearest import nearest_code


class Quantized(NamedTuple):
    """The one return convention of every quantizer."""

    quantized: torch.Tensor  # [B, D, h, w], straight-through to the encoder in training
    indices: torch.Tensor  # [B, G, h, w] int64: one index grid per code group (G=2 for VQCT: adjective, noun)
    loss: torch.Tensor  # scalar: codebook + beta * commitment (or the quantizer's own regularizer)


def flatten_grid(z: torch.Tensor) -> torch.Tensor:
    """[B, D, h, w] → [B·h·w, D]."""
    return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])


def unflatten_grid(rows: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """[B·h·w, D] → [B, D, h, w] shaped like ``like`` (batch and grid)."""
    b, _, h, w = like.shape
    return rows.reshape(b, h, w, -1).permute(0, 3, 1, 2)


def quantize(z: torch.Tensor, codebook: torch.Tensor, beta: float, chunk_size: int) -> Quantized:
    """Nearest code per position; loss = ||sg(z) - q||² + beta ||z - sg(q)||² (VQ-VAE)."""
    rows = flatten_grid(z)
    with torch.no_grad():
        indices = nearest_code(rows.detach().float(), codebook.detach().float(), chunk_size)
    chosen = unflatten_grid(codebook[indices], z).to(z.dtype)
    loss = F.mse_loss(chosen, z.detach()) + beta * F.mse_loss(z, chosen.detach())
    straight_through = z + (chosen - z).detach()
    return Quantized(straight_through, indices.reshape(z.shape[0], 1, z.shape[2], z.shape[3]), loss)


class LearnedVectorQuantizer(Quantizer):
    """VQ-VAE / VQGAN: a codebook learned directly, uniform init in ±1/K as taming does."""

    groups = 1

    def __init__(self, *, codebook_size: int, dim: int, beta: float = 0.25, chunk_size: int = 8192):
        super().__init__()
        self.beta, self.chunk_size = beta, chunk_size
        self.embedding = nn.Embedding(codebook_size, dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / codebook_size, 1.0 / codebook_size)

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.embedding.num_embeddings,)

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        """The codebook of each code group (what the indices point into)."""
        return (self.embedding.weight,)

    def forward(self, z: torch.Tensor) -> Quantized:
        return quantize(z, self.embedding.weight, self.beta, self.chunk_size)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """[B, 1, h, w] indices → [B, D, h, w] codes."""
        return self.embedding(indices[:, 0]).permute(0, 3, 1, 2)
