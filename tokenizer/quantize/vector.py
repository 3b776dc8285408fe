"""Vector quantization against a given codebook (straight-through), and a learned codebook (VQ-VAE/VQGAN)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .base import Quantizer
from .nearest import nearest_code
from .start import kmeans_codes, scale_and_shift


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
    """VQ-VAE / VQGAN: a codebook learned directly, uniform init in ±1/K as taming does.

    ``start`` (``quantize.start``): ``uniform`` keeps taming's ±1/K; ``encoder`` and ``kmeans``
    move the codes onto the first training batch's encoder output, the start VQCT's given codes
    get, so a learned baseline is not handicapped by codes a hundred times smaller than what
    they are compared with. The flag that the start was made travels in checkpoints."""

    groups = 1

    def __init__(
        self, *, codebook_size: int, dim: int, beta: float = 0.25, chunk_size: int = 8192, start: str = "uniform"
    ):
        super().__init__()
        self.beta, self.chunk_size, self.start = beta, chunk_size, start
        self.embedding = nn.Embedding(codebook_size, dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / codebook_size, 1.0 / codebook_size)
        self.start_pending = start != "uniform"  # kept on the host: training never reads the flag back
        if self.start_pending:  # a uniform start has no flag, so its weights are what they always were
            self.register_buffer("start_matched", torch.tensor(False))

    @torch.no_grad()
    def _start_from(self, z: torch.Tensor) -> None:
        rows, codes = flatten_grid(z.detach()).float(), self.embedding.weight
        if self.start == "kmeans":
            codes.copy_(kmeans_codes(rows, codes.shape[0], self.chunk_size).to(codes.dtype))
        else:
            scale, shift = scale_and_shift(codes.float(), rows)
            codes.copy_((codes.float() * scale + shift).to(codes.dtype))
        self.start_matched.fill_(True)
        self.start_pending = False

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if self.start != "uniform":
            self.start_pending = not bool(self.start_matched)

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.embedding.num_embeddings,)

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        """The codebook of each code group (what the indices point into)."""
        return (self.embedding.weight,)

    def forward(self, z: torch.Tensor) -> Quantized:
        if self.training and self.start_pending:
            self._start_from(z)
        return quantize(z, self.embedding.weight, self.beta, self.chunk_size)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """[B, 1, h, w] indices → [B, D, h, w] codes."""
        return self.embedding(indices[:, 0]).permute(0, 3, 1, 2)
