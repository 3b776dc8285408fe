import math
from collections import Counter

import pytest
import torch

from vqct.common.config import ConfigError
from vqct.tokenizer.language.graph import edge_tensors, edge_weights, modifications, normalized_adjacency

TAGS = ["DT", "JJ", "JJ", "NN", "IN", "DT", "JJ", "NN", "JJ", "VB", "JJ"]


def test_each_adjective_of_a_run_modifies_the_following_noun():
    assert list(modifications(range(len(TAGS)), TAGS)) == [(1, 3), (2, 3), (6, 7)]


def test_the_adjacent_rule_links_only_the_adjective_directly_before_the_noun():
    assert list(modifications(range(len(TAGS)), TAGS, "adjacent")) == [(2, 3), (6, 7)]
    with pytest.raises(ConfigError, match="edge_rule must be one of"):
        list(modifications([], [], "nearby"))


def test_edge_weightings():
    counts = torch.tensor([1.0, 3.0, 2779.0])
    assert edge_weights(counts, "binary").tolist() == [1.0, 1.0, 1.0]
    assert edge_weights(counts, "count").tolist() == [1.0, 3.0, 2779.0]
    assert edge_weights(counts, "log1p").tolist() == pytest.approx([math.log(2), math.log(4), math.log(2780)])
    with pytest.raises(ConfigError, match="graph_weighting must be one of"):
        edge_weights(counts, "sqrt")


def test_with_counts_a_frequent_pair_drowns_the_self_loop():
    """Why the weighting matters: under counts a word seen 1,000 times with one noun keeps ~0.001 of
    itself after normalisation; binary keeps 1/2."""
    index = torch.tensor([[0], [0]])
    for weighting, self_weight in (("count", 1 / 1001), ("binary", 1 / 2)):
        adjacency = normalized_adjacency(1, 1, index, edge_weights(torch.tensor([1000.0]), weighting)).to_dense()
        assert adjacency[0, 0].item() == pytest.approx(self_weight, rel=1e-5)


def test_edges_keep_only_vocabulary_words_with_counts():
    pairs = Counter({("red", "circle"): 3, ("red", "moon"): 2, ("odd", "circle"): 1, ("big", "square"): 4})
    edge_index, edge_weight = edge_tensors(pairs, ["big", "red"], ["circle", "square"])
    assert edge_index.tolist() == [[0, 1], [1, 0]]
    assert edge_weight.tolist() == [4.0, 3.0]


def test_normalized_adjacency_matches_dense_formula():
    edge_index = torch.tensor([[0, 0, 1], [0, 2, 2]])
    edge_weight = torch.tensor([2.0, 1.0, 5.0])
    a, n = 2, 3
    dense = torch.zeros(a + n, a + n)
    for (i, j), w in zip(edge_index.T.tolist(), edge_weight.tolist()):
        dense[i, a + j] = dense[a + j, i] = w
    dense += torch.eye(a + n)
    d = dense.sum(1).rsqrt()
    expected = d[:, None] * dense * d[None, :]
    result = normalized_adjacency(a, n, edge_index, edge_weight)
    assert result.is_sparse
    assert torch.allclose(result.to_dense(), expected, atol=1e-6)
    assert torch.allclose(result.to_dense(), result.to_dense().T)
