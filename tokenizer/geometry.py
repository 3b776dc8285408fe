"""The shape of a codebook: how alike its codes are, and how many directions they span.

Two numbers say whether a generated codebook can tell patches apart. If the transfer network
over-smooths (many graph hops average every word towards its neighbours) the codes crowd into a
few directions: the mean pairwise cosine rises towards 1 and the effective rank of their spread
falls.
"""

from __future__ import annotations

import torch


def mean_pairwise_cosine(codes: torch.Tensor) -> float:
    """Mean cosine similarity over every pair of distinct codes (rows of ``codes`` [K, D])."""
    count = codes.shape[0]
    if count < 2:
        return float("nan")
    unit = torch.nn.functional.normalize(codes.double(), dim=1)
    # sum over all pairs = |sum of unit vectors|², less the K self-pairs (each 1, or 0 for a zero code)
    total = unit.sum(0).square().sum() - unit.square().sum()
    return float(total / (count * (count - 1)))


def effective_rank(codes: torch.Tensor) -> float:
    """exp(entropy) of the normalised singular values of the centred codes (Roy & Vetterli,
    2007): D when the codes spread evenly over D directions about their mean, 1 when they lie
    on one line. Centred, so a shift of the whole codebook (which changes no nearest code) does
    not change it; the cosine above does move with such a shift."""
    codes = codes.double()
    singular = torch.linalg.svdvals(codes - codes.mean(0))
    p = singular / singular.sum().clamp(min=1e-300)
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def codebook_geometry(codebooks: tuple[torch.Tensor, ...], names: tuple[str, ...]) -> dict[str, float]:
    """``geometry/<name>_cosine`` and ``geometry/<name>_rank`` for each code group."""
    result = {}
    for name, codes in zip(names, codebooks):
        codes = codes.detach().float().cpu()
        result[f"geometry/{name}_cosine"] = mean_pairwise_cosine(codes)
        result[f"geometry/{name}_rank"] = effective_rank(codes)
    return result
