"""Where a codebook starts: moved onto the encoder output it will be compared with.

A codebook that starts far from the encoder output (taming's ±1/K, about 0.001; word vectors at
0.6 a dimension, against an encoder output of about 0.01) is nearest the same few codes for every
encoder vector, and only those get gradients. Both fair starts below use the first training
batch's encoder output of the codebook's channels, summed over processes so every rank moves its
codes alike:

- ``encoder``: one scale (the ratio of the spreads) and one shift (the difference of the means)
  per codebook, so the codes' relative geometry is kept and they meet the encoder where it is;
- ``kmeans``: the codes become k-means centroids of that batch's vectors (Lloyd's iterations from
  vectors drawn at random; with fewer vectors than codes some codes start on the same vector).
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from .nearest import nearest_code

LEARNED_STARTS = ("uniform", "encoder", "kmeans")
KMEANS_ITERATIONS = 10


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def moments(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean [D] of encoder rows [M, D] and their spread (root mean squared deviation over all
    dimensions), over every process's rows."""
    rows = rows.float()
    width = rows.shape[1]
    stacked = torch.stack([rows.new_tensor(float(rows.shape[0])), *rows.sum(0), *rows.square().sum(0)])
    if _distributed():
        dist.all_reduce(stacked)
    count, total, squares = stacked[0], stacked[1 : 1 + width], stacked[1 + width :]
    mean = total / count
    return mean, (squares / count - mean.square()).clamp(min=0).mean().sqrt()


def scale_and_shift(codes: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) with which ``codes · scale + shift`` has the rows' mean and spread."""
    mean, spread = moments(rows)
    code_mean = codes.mean(0)
    scale = spread / (codes - code_mean).square().mean().sqrt().clamp(min=1e-12)
    return scale, mean - code_mean * scale


@torch.no_grad()
def kmeans_codes(rows: torch.Tensor, size: int, chunk_size: int = 8192) -> torch.Tensor:
    """``size`` k-means centroids [size, D] of ``rows`` [M, D]. Drawn by a generator of its own, so
    the run's random stream is the same as with any other start; rank 0's result wins."""
    rows = rows.float()
    generator = torch.Generator(device=rows.device).manual_seed(0)
    picks = torch.randint(rows.shape[0], (size,), generator=generator, device=rows.device)
    centroids = rows[picks].clone()
    for _ in range(KMEANS_ITERATIONS):
        assigned = nearest_code(rows, centroids, chunk_size)
        sums = torch.zeros_like(centroids).index_add_(0, assigned, rows)
        counts = torch.bincount(assigned, minlength=size).unsqueeze(1)
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)  # an empty cluster stays
    if _distributed():
        dist.broadcast(centroids, src=0)
    return centroids
