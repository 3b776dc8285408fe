"""Nearest-code search in chunks: memory grows with chunk × K, never with (all vectors) × K."""

from __future__ import annotations

import torch


def nearest_code(vectors: torch.Tensor, codebook: torch.Tensor, chunk_size: int = 8192) -> torch.Tensor:
    """Index of the closest code (squared L2) for each row of ``vectors`` [M, D]; codebook [K, D].

    ||v - c||² = ||v||² - 2 v·c + ||c||², and ||v||² does not change the argmin, so each chunk
    costs one matrix product. The result is the exact argmin of those distances: chunking
    changes which rows are computed together, never the arithmetic of a row.
    """
    if vectors.shape[-1] != codebook.shape[-1]:
        raise ValueError(f"vectors have width {vectors.shape[-1]} but codes have width {codebook.shape[-1]}")
    code_norms = codebook.pow(2).sum(1)
    indices = torch.empty(vectors.shape[0], dtype=torch.long, device=vectors.device)
    for start in range(0, vectors.shape[0], chunk_size):
        chunk = vectors[start : start + chunk_size]
        distances = torch.addmm(code_norms, chunk, codebook.T, alpha=-2)
        indices[start : start + chunk_size] = distances.argmin(1)
    return indices
