"""A random language codebook of any size, so benchmarks need no WordNet, corpus or language model."""

from __future__ import annotations

import torch

from vqct.common.config import load_config
from vqct.common.shipped_configs import shipped_config
from vqct.tokenizer import LanguageCodebook, LanguageCodebookConfig


def vocabulary_size(config: str) -> tuple[int, int]:
    """(adjectives, nouns) a shipped language-codebook config (``configs/language_codebook/<config>``) asks for."""
    codebook = load_config(LanguageCodebookConfig, shipped_config(f"language_codebook/{config}"))
    return codebook.max_adjectives, codebook.max_nouns


# The official code's vocabulary (CUB + Flowers + COCO captions: configs/language_codebook/paper.yaml) and
# CLIP ViT-B/32's width.
(PAPER_ADJECTIVES, PAPER_NOUNS), CLIP_DIM = vocabulary_size("paper.yaml"), 512


def synthetic_codebook(
    adjectives: int = PAPER_ADJECTIVES,
    nouns: int = PAPER_NOUNS,
    dim: int = CLIP_DIM,
    edges_per_noun: int = 8,
    seed: int = 0,
) -> LanguageCodebook:
    generator = torch.Generator().manual_seed(seed)
    edge_count = nouns * edges_per_noun
    edge_index = torch.stack(
        [torch.randint(adjectives, (edge_count,), generator=generator), torch.arange(nouns).repeat(edges_per_noun)]
    )
    edge_index = torch.unique(edge_index, dim=1)
    return LanguageCodebook(
        adjectives=[f"adjective{i}" for i in range(adjectives)],
        nouns=[f"noun{i}" for i in range(nouns)],
        adjective_vectors=torch.randn(adjectives, dim, generator=generator),
        noun_vectors=torch.randn(nouns, dim, generator=generator),
        edge_index=edge_index,
        edge_weight=torch.randint(1, 20, (edge_index.shape[1],), generator=generator).float(),
        adjective_counts=torch.zeros(adjectives, dtype=torch.long),
        noun_counts=torch.zeros(nouns, dtype=torch.long),
    )
