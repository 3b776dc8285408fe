"""The adjective→noun modifying graph and its GCN normalization."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import torch

from vqct.common.config import ConfigError

from .pos import ADJECTIVE_TAGS, NOUN_TAGS

# Which adjectives of "a small red circle" modify the noun (codebook key ``edge_rule``):
# run: every adjective of the run before it (small→circle, red→circle);
# adjacent: only the one directly before it (red→circle), as the official code mines its graph.
EDGE_RULES = ("run", "adjacent")
# How an edge's occurrence count becomes its weight in A (``model.quantizer.transfer.graph_weighting``):
# binary: 1 for every edge, the paper's A_ij; count: the count itself; log1p: log(1 + count).
GRAPH_WEIGHTINGS = ("binary", "count", "log1p")


def check_edge_rule(rule: str) -> None:
    if rule not in EDGE_RULES:
        raise ConfigError(f"edge_rule must be one of {EDGE_RULES}, got '{rule}'")


def modifications(words: Sequence[str], tags: Sequence[str], rule: str = "run") -> Iterator[tuple[int, int]]:
    """(adjective position, noun position) for every adjective that modifies a noun under ``rule``
    (``EDGE_RULES``). Either way an edge needs an adjective, or a run of them, immediately before
    the noun."""
    check_edge_rule(rule)
    run_start = None
    for i, tag in enumerate(tags):
        if tag in ADJECTIVE_TAGS:
            run_start = i if run_start is None else run_start
        else:
            if tag in NOUN_TAGS and run_start is not None:
                for j in range(run_start if rule == "run" else i - 1, i):
                    yield j, i
            run_start = None


def edge_tensors(pairs: Counter, adjectives: Sequence[str], nouns: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges between vocabulary words as ([2,E] adjective/noun indices, [E] occurrence counts)."""
    adjective_index = {word: i for i, word in enumerate(adjectives)}
    noun_index = {word: i for i, word in enumerate(nouns)}
    edges = sorted(
        (adjective_index[a], noun_index[n], count)
        for (a, n), count in pairs.items()
        if a in adjective_index and n in noun_index
    )
    if not edges:
        return torch.zeros(2, 0, dtype=torch.long), torch.zeros(0)
    rows, cols, counts = zip(*edges)
    return torch.tensor([rows, cols], dtype=torch.long), torch.tensor(counts, dtype=torch.float32)


def edge_weights(counts: torch.Tensor, weighting: str) -> torch.Tensor:
    """The weight in A of edges seen ``counts`` times, under ``weighting`` (``GRAPH_WEIGHTINGS``).

    With counts, a word seen thousands of times in one pairing (a colour and a shape in the shapes
    captions) keeps almost none of itself after normalisation: its self-loop weighs 1 against
    thousands on its edges, so each layer replaces it with its neighbours' average.
    """
    if weighting not in GRAPH_WEIGHTINGS:
        raise ConfigError(
            f"model.quantizer.transfer.graph_weighting must be one of {GRAPH_WEIGHTINGS}, got '{weighting}'"
        )
    counts = counts.float()
    if weighting == "binary":
        return torch.ones_like(counts)
    return counts if weighting == "count" else counts.log1p()


def normalized_adjacency(
    num_adjectives: int, num_nouns: int, edge_index: torch.Tensor, edge_weight: torch.Tensor
) -> torch.Tensor:
    """D^-1/2 (A + I) D^-1/2 over the joint node set (adjectives first, then nouns), sparse COO.

    A is symmetric: an adjective→noun edge of weight w links both nodes with w, so messages flow
    from nouns to the adjectives that modify them and back.
    """
    size = num_adjectives + num_nouns
    adjective_nodes, noun_nodes = edge_index[0], edge_index[1] + num_adjectives
    loops = torch.arange(size)
    rows = torch.cat([adjective_nodes, noun_nodes, loops])
    cols = torch.cat([noun_nodes, adjective_nodes, loops])
    weights = torch.cat([edge_weight, edge_weight, torch.ones(size)]).float()
    degree = torch.zeros(size).index_add_(0, rows, weights)
    inverse_sqrt = degree.rsqrt()
    values = inverse_sqrt[rows] * weights * inverse_sqrt[cols]
    return torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (size, size), check_invariants=False).coalesce()
