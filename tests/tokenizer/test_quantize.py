import math

import pytest
import torch

from vqct.tokenizer.language.graph import normalized_adjacency
from vqct.tokenizer.quantize import (
    ClusteredVectorQuantizer,
    DualQuantizer,
    GumbelQuantizer,
    LearnedVectorQuantizer,
    LibraryQuantizer,
    RegularizedQuantizer,
    SingleQuantizer,
    SplitVectorQuantizer,
    nearest_code,
)
from vqct.tokenizer.quantize.regularized import usage_kl_to_uniform
from vqct.tokenizer.quantize.start import kmeans_codes
from vqct.tokenizer.transfer import CodebookTransfer, TransferConfig, stand_in_vectors

A, N, WORD_DIM = 5, 7, 6


def make_transfer(out_dim, **config):
    edge_index = torch.tensor([[0, 1, 2, 4], [0, 0, 3, 6]])
    adjacency = normalized_adjacency(A, N, edge_index, torch.tensor([2.0, 1.0, 1.0, 3.0]))
    transfer = CodebookTransfer(
        num_adjectives=A,
        num_nouns=N,
        word_dim=WORD_DIM,
        graph_nnz=adjacency.values().numel(),
        out_dim=out_dim,
        config=TransferConfig(**{"layers": 2, "hidden_dim": 16, **config}),
    )
    transfer.load_word_graph(torch.randn(A + N, WORD_DIM, generator=torch.Generator().manual_seed(1)), adjacency)
    return transfer


def make_quantizer(kind, dim=8):
    torch.manual_seed(0)
    if kind == "dual":
        return DualQuantizer(make_transfer(dim // 2, activate_output=False), chunk_size=5)
    if kind == "single":
        return SingleQuantizer(make_transfer(dim, activate_output=False), chunk_size=5)
    if kind == "vq":
        return LearnedVectorQuantizer(codebook_size=12, dim=dim, chunk_size=5)
    if kind == "split_vq":
        return SplitVectorQuantizer(codebook_sizes=(5, 7), dim=dim, chunk_size=5)
    if kind == "cvq":
        return ClusteredVectorQuantizer(codebook_size=12, dim=dim, chunk_size=5)
    if kind == "regvq":
        return RegularizedQuantizer(codebook_size=12, dim=dim)
    if kind == "fsq":
        return LibraryQuantizer.fsq(levels=[5, 3, 3], dim=dim)
    if kind == "lfq":
        return LibraryQuantizer.lfq(bits=4, dim=dim, entropy_weight=0.1, commitment_weight=0.25)
    if kind == "simvq":
        return LibraryQuantizer.simvq(codebook_size=12, dim=dim, beta=0.25, rotation_trick=False)
    return GumbelQuantizer(codebook_size=12, dim=dim)


LIBRARY = [("fsq", 1), ("lfq", 1), ("simvq", 1)]


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 10_000])
@pytest.mark.parametrize("k", [1, 13, 300])
def test_chunked_nearest_code_is_the_brute_force_argmin(chunk_size, k):
    generator = torch.Generator().manual_seed(k)
    vectors, codebook = torch.randn(500, 16, generator=generator), torch.randn(k, 16, generator=generator)
    brute_force = (vectors.double()[:, None] - codebook.double()[None]).pow(2).sum(-1).argmin(1)
    assert torch.equal(nearest_code(vectors, codebook, chunk_size), brute_force)


def test_nearest_code_rejects_mismatched_widths():
    with pytest.raises(ValueError, match="width"):
        nearest_code(torch.randn(3, 4), torch.randn(5, 6))


@pytest.mark.parametrize(
    "kind, groups",
    [("dual", 2), ("single", 1), ("vq", 1), ("split_vq", 2), ("cvq", 1), ("gumbel", 1), ("regvq", 1), *LIBRARY],
)
@pytest.mark.parametrize("training", [True, False])
def test_return_convention_and_straight_through(kind, groups, training):
    quantizer = make_quantizer(kind).train(training)
    z = torch.randn(2, 8, 3, 4, requires_grad=True)
    quantized, indices, loss = quantizer(z)
    assert quantized.shape == z.shape and loss.dim() == 0 and torch.isfinite(loss)
    assert indices.shape == (2, groups, 3, 4) and indices.dtype == torch.long
    for group, size in enumerate(quantizer.codebook_sizes):
        assert 0 <= int(indices[:, group].min()) and int(indices[:, group].max()) < size
    (quantized.sum() + loss).backward()
    if not training and kind == "lfq":  # the library's LFQ gives the bare codes outside training
        assert z.grad is None
        return
    assert z.grad is not None and z.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", ["dual", "single", "vq", "split_vq", "cvq", "gumbel", "regvq", "fsq", "lfq", "simvq"])
def test_lookup_reproduces_the_quantized_codes(kind):
    quantizer = make_quantizer(kind).eval()
    z = torch.randn(2, 8, 3, 3)
    quantized, indices, _ = quantizer(z)
    assert torch.allclose(quantizer.lookup(indices), quantized, atol=1e-6)


def test_dual_quantizes_each_half_against_its_own_codebook():
    quantizer = make_quantizer("dual").eval()
    z = torch.randn(2, 8, 3, 3)
    _, indices, _ = quantizer(z)
    adjective_codes, noun_codes = quantizer.codebooks()
    assert adjective_codes.shape == (A, 4) and noun_codes.shape == (N, 4)
    expected_adjectives = nearest_code(z[:, :4].permute(0, 2, 3, 1).reshape(-1, 4), adjective_codes)
    expected_nouns = nearest_code(z[:, 4:].permute(0, 2, 3, 1).reshape(-1, 4), noun_codes)
    assert torch.equal(indices[:, 0].flatten(), expected_adjectives)
    assert torch.equal(indices[:, 1].flatten(), expected_nouns)


def test_split_vq_quantizes_each_half_against_its_own_learned_codebook():
    quantizer = make_quantizer("split_vq").eval()
    z = torch.randn(2, 8, 3, 3)
    _, indices, _ = quantizer(z)
    first, second = quantizer.group_codebooks()
    assert quantizer.codebook_sizes == (5, 7) and first.shape == (5, 4) and second.shape == (7, 4)
    assert torch.equal(indices[:, 0].flatten(), nearest_code(z[:, :4].permute(0, 2, 3, 1).reshape(-1, 4), first))
    assert torch.equal(indices[:, 1].flatten(), nearest_code(z[:, 4:].permute(0, 2, 3, 1).reshape(-1, 4), second))
    assert first.abs().max() <= 1 / 5 and second.abs().max() <= 1 / 7  # VQGAN's ±1/K start, per codebook


@pytest.mark.parametrize("kind", ["gcn", "mlp"])
def test_codebook_gradient_reaches_the_transfer_network(kind):
    quantizer = make_quantizer("dual")
    quantizer.transfer = make_transfer(4, kind=kind, activate_output=False)
    _, _, loss = quantizer(torch.randn(2, 8, 3, 3))
    loss.backward()
    for layer in quantizer.transfer.layers:
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_gcn_is_the_dense_formula():
    """H ← ReLU(Â H W + b) per layer with the dense Â: the sparse product (its graph marked as already
    coalesced, so no sort per forward) computes exactly that."""
    transfer = make_transfer(4, kind="gcn", activate_output=True)
    dense = torch.sparse_coo_tensor(transfer.graph_indices, transfer.graph_values, (A + N, A + N)).to_dense()
    codes = transfer.word_vectors
    for layer in transfer.layers:
        codes = torch.relu(dense @ codes @ layer.weight.T + layer.bias)
    torch.testing.assert_close(torch.cat(transfer()), codes)


def test_graph_changes_the_codes():
    torch.manual_seed(0)
    gcn = make_transfer(4, kind="gcn")
    torch.manual_seed(0)
    mlp = make_transfer(4, kind="mlp")
    assert not torch.allclose(gcn()[1], mlp()[1])


def test_dropout_falls_between_layers_never_on_the_word_vectors():
    """The official network's dropout: a one-layer transfer in training mode is exactly its eval
    self (nothing to drop between layers); with two layers, training draws masks."""
    one = make_transfer(4, layers=1, dropout=0.9)
    trained = one.train()()
    assert all(torch.equal(a, b) for a, b in zip(trained, one.eval()(), strict=True))
    two = make_transfer(4, dropout=0.9)
    assert not torch.equal(two.train()()[1], two.eval()()[1])


def test_frozen_finetune_and_random_vectors_ablations():
    frozen = make_transfer(WORD_DIM, kind="frozen")
    assert not any(p.requires_grad for p in frozen.parameters())
    adjectives, nouns = frozen()
    assert torch.equal(torch.cat([adjectives, nouns]), frozen.word_vectors)  # same width: the vectors themselves
    narrow = make_transfer(3, kind="frozen")
    assert narrow()[0].shape == (A, 3)
    finetune = make_transfer(WORD_DIM, kind="finetune")
    assert [name for name, _ in finetune.named_parameters()] == ["codes"]
    assert torch.equal(finetune.codes, finetune.word_vectors)
    randomized = make_transfer(4, random_word_vectors=True)
    assert not torch.allclose(randomized.word_vectors, make_transfer(4).word_vectors)
    with pytest.raises(ValueError, match="transfer.kind"):
        make_transfer(4, kind="attention")


def test_transfer_runs_once_per_forward_and_is_cached_in_eval():
    quantizer = make_quantizer("dual")
    calls = []
    quantizer.transfer.register_forward_hook(lambda *args: calls.append(1))
    quantizer(torch.randn(1, 8, 2, 2))
    assert len(calls) == 1  # one call for both halves
    quantizer.eval()
    for _ in range(3):
        quantizer(torch.randn(1, 8, 2, 2))
        quantizer.lookup(torch.zeros(1, 2, 2, 2, dtype=torch.long))
    assert len(calls) == 2  # cached after the first eval call
    quantizer.train()
    quantizer(torch.randn(1, 8, 2, 2))
    assert len(calls) == 3
    quantizer.eval()
    quantizer(torch.randn(1, 8, 2, 2))
    quantizer.load_state_dict(quantizer.state_dict())
    quantizer(torch.randn(1, 8, 2, 2))
    assert len(calls) == 5  # loading weights invalidates the cache


def test_cvq_pulls_dead_codes_onto_features_and_leaves_used_ones():
    quantizer = ClusteredVectorQuantizer(codebook_size=4, dim=2, decay=0.99)
    with torch.no_grad():
        quantizer.embedding.weight.copy_(torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, 50.0], [80.0, -90.0]]))
    features = torch.randn(2, 2, 4, 4) * 0.1 + 1.0  # all near (1, 1): only code 0 is used
    before = quantizer.embedding.weight.clone()
    quantizer.train()(features)
    after = quantizer.embedding.weight
    assert quantizer.usage[0] > 0 and torch.all(quantizer.usage[1:] == 0)
    assert torch.all((after[1:] - 1.0).abs() < 1.0)  # dead codes moved next to the features
    assert (after[0] - before[0]).norm() < (after[1] - before[1]).norm() / 100


def test_gumbel_temperature_schedule_and_kl_to_uniform():
    quantizer = GumbelQuantizer(codebook_size=6, dim=4, temperature_start=1.0, temperature_end=0.0625, anneal_steps=100)
    quantizer.set_step(0)
    assert quantizer.temperature == pytest.approx(1.0)
    quantizer.set_step(50)
    assert quantizer.temperature == pytest.approx((1 + 0.0625) / 2)
    quantizer.set_step(1000)
    assert quantizer.temperature == pytest.approx(0.0625)
    with torch.no_grad():
        quantizer.logits.weight.zero_()
        quantizer.logits.bias.zero_()
    _, _, loss = quantizer.eval()(torch.randn(1, 4, 2, 2))
    assert loss.abs() < 1e-6  # uniform code distribution: KL to uniform is zero


def test_regvq_samples_the_masked_share_and_regularizes_usage():
    torch.manual_seed(0)
    z = torch.randn(8, 8, 16, 16)
    quantizer = RegularizedQuantizer(codebook_size=12, dim=8, mask_ratio=0.4, temperature_start=5.0)
    argmax = quantizer.logits(z).argmax(1, keepdim=True)
    # training: about 40 % of positions sampled; at a high temperature most of those leave the argmax
    differs = (quantizer.train()(z).indices != argmax).float().mean().item()
    assert 0.2 < differs < 0.4
    assert torch.equal(quantizer.eval()(z).indices, argmax)  # evaluation: the argmax everywhere
    deterministic = RegularizedQuantizer(codebook_size=12, dim=8, mask_ratio=0.0)
    deterministic.load_state_dict(quantizer.state_dict())
    assert torch.equal(deterministic.train()(z).indices, argmax)  # no mask: plain argmax VQ
    # the prior term: 0 for uniform usage, log K for one code, and its gradient reaches the logits
    uniform = torch.eye(12).repeat(2, 1).T.reshape(1, 12, 4, 6)
    collapsed = torch.zeros(1, 12, 4, 6)
    collapsed[:, 3] = 1
    assert usage_kl_to_uniform(uniform).item() == pytest.approx(0.0, abs=1e-6)
    assert usage_kl_to_uniform(collapsed).item() == pytest.approx(math.log(12), rel=1e-5)
    quantizer.train()(z).loss.backward()
    assert quantizer.logits.weight.grad.abs().sum() > 0


def encoder_like(offset: float, spread: float) -> torch.Tensor:
    """An encoder output far from the word vectors' scale, as a fresh encoder's is (~0.007 a channel)."""
    return torch.randn(4, 8, 3, 3, generator=torch.Generator().manual_seed(2)) * spread + offset


@pytest.mark.parametrize("quantizer_kind", ["dual", "single"])
@pytest.mark.parametrize("transfer_kind", ["frozen", "finetune"])
def test_given_codes_move_onto_the_encoder_output_at_the_first_training_step(quantizer_kind, transfer_kind):
    quantizer = make_quantizer(quantizer_kind)
    width = 4 if quantizer_kind == "dual" else 8
    quantizer.transfer = make_transfer(width, kind=transfer_kind, random_word_vectors=True)
    raw = [codes.clone() for codes in quantizer.transfer()]
    z = encoder_like(offset=0.05, spread=0.007)
    _, indices, _ = quantizer.train()(z)
    halves = z.chunk(2, 1) if quantizer_kind == "dual" else (z, z)
    for raw_codes, codes, half in zip(raw, quantizer.transfer(), halves):
        rows = half.permute(0, 2, 3, 1).reshape(-1, half.shape[1])
        torch.testing.assert_close(codes.mean(0), rows.mean(0), atol=0.01, rtol=0)  # the encoder's centre
        spread_ratio = (codes - codes.mean(0)).square().mean().sqrt() / (rows - rows.mean(0)).square().mean().sqrt()
        assert 0.3 < spread_ratio < 3  # its scale (from ~0.7 before)
        # one scale and one shift: the words' relative geometry is the same
        centred, raw_centred = codes - codes.mean(0), raw_codes - raw_codes.mean(0)
        scale = (centred * raw_centred).sum() / raw_centred.square().sum()
        torch.testing.assert_close(centred, raw_centred * scale)
    assert len(torch.unique(indices)) > 3  # many codes in use from the first step
    moved = [codes.clone() for codes in quantizer.transfer()]
    quantizer(encoder_like(offset=-1.0, spread=1.0))  # the second step moves nothing
    assert all(torch.equal(a, b) for a, b in zip(moved, quantizer.transfer()))


def test_the_match_is_saved_and_a_loaded_or_raw_scale_quantizer_never_matches():
    quantizer = make_quantizer("dual")
    quantizer.transfer = make_transfer(4, kind="frozen")
    quantizer.train()(encoder_like(offset=0.05, spread=0.007))
    fresh = make_quantizer("dual")
    fresh.transfer = make_transfer(4, kind="frozen")
    fresh.load_state_dict(quantizer.state_dict())  # a resumed run, or a saved model
    assert not fresh.transfer.start_pending
    fresh.train()(encoder_like(offset=3.0, spread=1.0))
    assert all(torch.equal(a, b) for a, b in zip(fresh.transfer(), quantizer.transfer()))
    # a model saved before codes were matched loads as it was trained: the raw vectors
    old = {k: v for k, v in quantizer.state_dict().items() if "start_" not in k}
    legacy = make_quantizer("dual")
    legacy.transfer = make_transfer(4, kind="frozen")
    legacy.load_state_dict(old)
    assert not legacy.transfer.start_pending and torch.equal(
        torch.cat(legacy.transfer()), legacy.transfer.word_vectors @ legacy.transfer.projection
    )
    raw = make_quantizer("dual")
    raw.transfer = make_transfer(4, kind="frozen", start_scale="vectors")
    before = torch.cat(raw.transfer())
    raw.train()(encoder_like(offset=0.05, spread=0.007))
    assert torch.equal(torch.cat(raw.transfer()), before)
    evaluated = make_quantizer("dual")
    evaluated.transfer = make_transfer(4, kind="finetune")
    evaluated.eval()(encoder_like(offset=0.05, spread=0.007))  # evaluation never moves codes
    assert evaluated.transfer.start_pending


def test_generated_codes_are_not_moved():
    quantizer = make_quantizer("dual")
    assert not quantizer.transfer.start_pending and not hasattr(quantizer.transfer, "start_matched")


@pytest.mark.parametrize("kind, size", [("fsq", 45), ("lfq", 16), ("simvq", 12)])
def test_the_fields_quantizers_have_one_code_vector_per_id(kind, size):
    """FSQ's and LFQ's implicit codebooks are all their codes, each the vector the decoder gets."""
    quantizer = make_quantizer(kind).eval()
    (codes,) = quantizer.group_codebooks()
    assert quantizer.codebook_sizes == (size,) and codes.shape == (size, 8)
    assert len(torch.unique(codes, dim=0)) == size  # distinct: an id is a code, as a codebook's row is
    z = torch.randn(4, 8, 5, 5)
    quantized, indices, _ = quantizer(z)
    torch.testing.assert_close(quantized, codes[indices[:, 0]].permute(0, 3, 1, 2), atol=1e-6, rtol=0)


def test_simvq_learns_the_transform_and_keeps_its_codebook_frozen():
    quantizer = make_quantizer("simvq").train()
    frozen = quantizer.module.frozen_codebook.clone()
    quantized, _, loss = quantizer(torch.randn(2, 8, 3, 3))
    (quantized.square().sum() + loss).backward()
    assert quantizer.module.code_transform.weight.grad.abs().sum() > 0
    assert not quantizer.module.frozen_codebook.requires_grad and torch.equal(quantizer.module.frozen_codebook, frozen)
    assert (
        "module.frozen_codebook" in quantizer.state_dict()
    )  # saved with the model, so ids mean the same after loading


@pytest.mark.parametrize("kind", ["vq", "split_vq"])  # cvq inherits it, then re-anchors dead codes as it must
def test_a_learned_codebook_starts_on_the_encoder_output_once(kind):
    quantizer = make_quantizer(kind)
    for half in getattr(quantizer, "halves", [quantizer]):
        half.start, half.start_pending = "encoder", True
        half.register_buffer("start_matched", torch.tensor(False))
    z = encoder_like(offset=0.05, spread=0.007)
    _, indices, _ = quantizer.train()(z)
    halves = list(getattr(quantizer, "halves", [quantizer]))
    for half, part in zip(halves, z.chunk(len(halves), 1)):
        rows = part.permute(0, 2, 3, 1).reshape(-1, part.shape[1])
        codes = half.embedding.weight.detach()
        torch.testing.assert_close(codes.mean(0), rows.mean(0), atol=1e-3, rtol=0)
        ratio = (codes - codes.mean(0)).square().mean().sqrt() / (rows - rows.mean(0)).square().mean().sqrt()
        assert ratio == pytest.approx(1.0, rel=1e-3)
    assert len(torch.unique(indices)) > 3
    moved = [half.embedding.weight.clone() for half in halves]
    quantizer(encoder_like(offset=-1.0, spread=1.0))  # the second step moves nothing
    assert all(torch.equal(a, half.embedding.weight) for a, half in zip(moved, halves))
    fresh = make_quantizer(kind)
    for half in getattr(fresh, "halves", [fresh]):
        half.start, half.start_pending = "encoder", True
        half.register_buffer("start_matched", torch.tensor(False))
    fresh.load_state_dict(quantizer.state_dict())  # a resumed run
    assert not any(half.start_pending for half in getattr(fresh, "halves", [fresh]))


def test_the_uniform_start_is_taming_s_and_adds_no_state():
    quantizer = LearnedVectorQuantizer(codebook_size=12, dim=8)
    assert list(quantizer.state_dict()) == ["embedding.weight"]  # weights saved before the option load as they were
    assert quantizer.embedding.weight.abs().max() <= 1 / 12
    before = quantizer.embedding.weight.clone()
    quantizer.train()(encoder_like(offset=0.05, spread=0.007))
    assert torch.equal(quantizer.embedding.weight, before)


def test_kmeans_start_finds_the_clusters_of_the_first_batch():
    centres = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    rows = centres.repeat_interleave(50, 0) + torch.randn(150, 2, generator=torch.Generator().manual_seed(0)) * 0.01
    found = kmeans_codes(rows, 3)
    nearest = torch.cdist(found, centres).min(1)
    assert nearest.values.max() < 0.05 and len(set(nearest.indices.tolist())) == 3
    quantizer = LearnedVectorQuantizer(codebook_size=3, dim=2, start="kmeans")
    quantizer.train()(rows.T.reshape(1, 2, 10, 15))
    assert torch.cdist(quantizer.embedding.weight.detach(), centres).min(1).values.max() < 0.05


def test_word_vector_controls_keep_what_they_say():
    vectors = torch.randn(3000, 4, generator=torch.Generator().manual_seed(0)) @ torch.tensor(
        [[2.0, 0.5, 0, 0], [0, 1.0, 0, 0], [0, 0, 0.3, 0], [0, 0, 0, 0.1]]
    ) + torch.tensor([1.0, -2.0, 0.5, 0.0])
    permuted = stand_in_vectors(vectors, TransferConfig(word_vector_control="permuted"), seed=3)
    assert not torch.equal(permuted, vectors)
    assert torch.equal(permuted[permuted[:, 0].argsort()], vectors[vectors[:, 0].argsort()])  # the same set
    moments = stand_in_vectors(vectors, TransferConfig(word_vector_control="moments"), seed=3)
    torch.testing.assert_close(moments.mean(0), vectors.mean(0), atol=0.1, rtol=0)
    torch.testing.assert_close(torch.cov(moments.T), torch.cov(vectors.T), atol=0.05, rtol=0.1)
    assert not torch.allclose(moments, vectors)
    assert torch.equal(stand_in_vectors(vectors, TransferConfig(), seed=3), vectors)
    with pytest.raises(ValueError, match="choose one stand-in"):
        make_transfer(4, random_word_vectors=True, word_vector_control="permuted")
