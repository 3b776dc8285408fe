from collections import Counter

import torch

from tokenizer.codebook.graph import edge_tensors, modifications, normalized_adjacency


def test_each_adjective_of_a_run_modifies_the_following_noun():
    tags = ["DT", "JJ", "JJ", "NN", "IN", "DT", "JJ", "NN", "JJ", "VB", "JJ"]
    assert list(modifications(range(len(tags)), tags)) == [(1, 3), (2, 3), (6, 7)]


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
