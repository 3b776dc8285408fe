"""Gumbel-VQ (as in taming-transformers' Gumbel quantizer, following DALL-E's dVAE).

A 1×1 convolution turns each encoder feature into logits over K codes; training samples a
relaxed one-hot with the Gumbel-softmax at temperature tau (annealed, cosine from
``temperature_start`` to ``temperature_end``) and mixes the codes with it; evaluation takes the
argmax. The regularizer is a KL divergence of the code distribution to the uniform prior.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import Quantizer
from .vector import Quantized


class GumbelQuantizer(Quantizer):
    groups = 1

    def __init__(
        self,
        *,
        codebook_size: int,
        dim: int,
        kl_weight: float = 5e-4,
        temperature_start: float = 1.0,
        temperature_end: float = 1.0 / 16,
        anneal_steps: int = 10_000,
        straight_through: bool = True,
    ):
        super().__init__()
        self.kl_weight, self.straight_through = kl_weight, straight_through
        self.temperature_start, self.temperature_end, self.anneal_steps = (
            temperature_start,
            temperature_end,
            anneal_steps,
        )
        self.temperature = temperature_start
        self.logits = nn.Conv2d(dim, codebook_size, 1)
        self.embedding = nn.Embedding(codebook_size, dim)

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.embedding.num_embeddings,)

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        return (self.embedding.weight,)

    def set_step(self, step: int) -> None:
        progress = min(step / max(self.anneal_steps, 1), 1.0)
        span = self.temperature_start - self.temperature_end
        self.temperature = self.temperature_end + 0.5 * span * (1 + math.cos(math.pi * progress))

    def forward(self, z: torch.Tensor) -> Quantized:
        logits = self.logits(z)
        indices = logits.argmax(1, keepdim=True)
        if self.training:
            one_hot = F.gumbel_softmax(logits.float(), tau=self.temperature, hard=self.straight_through, dim=1)
        else:
            one_hot = torch.zeros_like(logits, dtype=torch.float).scatter_(1, indices, 1.0)
        quantized = torch.einsum("bkhw,kd->bdhw", one_hot.to(z.dtype), self.embedding.weight.to(z.dtype))
        probabilities = logits.float().softmax(1)
        size = self.embedding.num_embeddings
        kl = (probabilities * torch.log(probabilities * size + 1e-10)).sum(1).mean()
        return Quantized(quantized, indices, self.kl_weight * kl)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        return self.embedding(indices[:, 0]).permute(0, 3, 1, 2)
