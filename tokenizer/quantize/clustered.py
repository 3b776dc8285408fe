"""CVQ (Zheng & Vedaldi, ICCV 2023): online clustered codebook.

A learned codebook whose rarely used ("dead") codes are pulled onto encoder features during
training, so every code keeps being used. Per code k, a running usage p_k (EMA of its share of
the batch) sets how far it moves toward its anchor a_k, the batch feature closest to it:
    alpha_k = exp(-p_k · K · 10 / (1 - decay) - 1e-3),    c_k ← (1 - alpha_k) c_k + alpha_k a_k
A busy code (p_k ≈ 1/K or more) has alpha ≈ 0 and stays; an unused one jumps to its anchor.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from .nearest import nearest_code
from .vector import LearnedVectorQuantizer, Quantized, flatten_grid


class ClusteredVectorQuantizer(LearnedVectorQuantizer):
    def __init__(
        self,
        *,
        codebook_size: int,
        dim: int,
        beta: float = 0.25,
        chunk_size: int = 8192,
        decay: float = 0.99,
        start: str = "uniform",
    ):
        super().__init__(codebook_size=codebook_size, dim=dim, beta=beta, chunk_size=chunk_size, start=start)
        self.decay = decay
        self.register_buffer("usage", torch.zeros(codebook_size))

    def forward(self, z: torch.Tensor) -> Quantized:
        result = super().forward(z)
        if self.training:
            self._reanchor(flatten_grid(z.detach()).float(), result.indices.flatten())
        return result

    @torch.no_grad()
    def _reanchor(self, features: torch.Tensor, indices: torch.Tensor) -> None:
        size = self.embedding.num_embeddings
        counts = torch.bincount(indices, minlength=size).float()
        distributed = dist.is_available() and dist.is_initialized()
        if distributed:  # usage over the global batch, so every rank computes the same update
            dist.all_reduce(counts)
        share = counts / counts.sum().clamp(min=1)
        self.usage.mul_(self.decay).add_(share, alpha=1 - self.decay)
        # anchors: for each code the closest feature of this batch (chunked over codes)
        codes = self.embedding.weight.float()
        anchors = features[nearest_code(codes, features, self.chunk_size)]
        alpha = torch.exp(-self.usage * size * 10 / (1 - self.decay) - 1e-3).unsqueeze(1)
        updated = codes * (1 - alpha) + anchors * alpha
        if distributed:  # features differ per rank: rank 0's update wins, codebooks stay identical
            dist.broadcast(updated, src=0)
        self.embedding.weight.data.copy_(updated.to(self.embedding.weight.dtype))
