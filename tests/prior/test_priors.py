"""Stage-two priors: token vocabulary, slot ranges, KV cache, guidance, training, completion."""

import subprocess
import sys

import pytest
import torch

from vqct.prior import AutoregressivePrior, MaskedPrior, PriorConfig, build_prior
from vqct.prior.sequence import (
    TokenVocabulary,
    condition_tokens,
    deinterleave,
    interleave,
    slot_mask,
)

A, N, C, GRID = 5, 7, 4, (3, 3)
LAYOUT = TokenVocabulary(A, N, C)


def make_prior(kind="autoregressive", condition="semantic", seed=0, **overrides):
    torch.manual_seed(seed)
    config = PriorConfig(kind=kind, dim=32, depth=2, heads=2, condition=condition, num_classes=C, **overrides)
    return build_prior(config, LAYOUT if condition != "none" else TokenVocabulary(A, N, 0)).eval()


def random_codes(batch=2, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.stack(
        [torch.randint(A, (batch, *GRID), generator=generator), torch.randint(N, (batch, *GRID), generator=generator)],
        1,
    )


def label_maps(batch=2, seed=2):
    return torch.randint(C, (batch, 12, 12), generator=torch.Generator().manual_seed(seed))


def bias_logits(model, ids, value=50.0):
    """Push the output head towards ``ids`` so that any missing restriction shows in samples."""
    bias = torch.zeros(model.vocabulary.vocab_size)
    bias[ids] = value
    return model.net.to_logits.register_forward_hook(lambda module, inputs, output: output + bias)


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_interleave_round_trip_and_order():
    codes = random_codes()
    seq = interleave(LAYOUT, codes)
    assert seq.shape == (2, 2 * 9)
    assert seq[0, 0] == codes[0, 0, 0, 0] and seq[0, 1] == codes[0, 1, 0, 0] + A
    assert seq[0, 2] == codes[0, 0, 0, 1] and seq[0, 7] == codes[0, 1, 1, 0] + A  # raster: cell 3 = (1, 0)
    assert torch.equal(deinterleave(LAYOUT, seq, *GRID), codes)
    single = TokenVocabulary(11)
    codes1 = torch.randint(11, (2, 1, *GRID))
    assert torch.equal(interleave(single, codes1), codes1.flatten(1))
    assert torch.equal(deinterleave(single, interleave(single, codes1), *GRID), codes1)


def test_layout_ranges_and_slot_mask():
    assert (LAYOUT.noun_range, LAYOUT.condition_range) == ((5, 12), (12, 16))
    assert (LAYOUT.bos, LAYOUT.null, LAYOUT.mask, LAYOUT.vocab_size) == (16, 17, 18, 19)
    mask = slot_mask(LAYOUT, 6)
    assert mask[0].nonzero().flatten().tolist() == list(range(A)) == mask[4].nonzero().flatten().tolist()
    assert mask[3].nonzero().flatten().tolist() == list(range(A, A + N))
    assert (
        slot_mask(TokenVocabulary(11, 0, 3), 4)[:, :11].all()
        and not slot_mask(TokenVocabulary(11, 0, 3), 4)[:, 11:].any()
    )


def test_condition_tokens_majority_and_ignore():
    labels = torch.zeros(1, 6, 6, dtype=torch.long)
    labels[0, :3, :2] = 2  # cell (0, 0) of a 2x2 grid: 6 of 9 pixels are class 2
    labels[0, 3:, 3:] = 255  # cell (1, 1): only ignore pixels
    tokens = condition_tokens(LAYOUT, labels, 2, 2)
    assert tokens.tolist() == [
        [LAYOUT.condition_offset + 2, LAYOUT.condition_offset, LAYOUT.condition_offset, LAYOUT.null]
    ]


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_samples_respect_slot_ranges(kind):
    model = make_prior(kind)
    # noun, condition and special ids get huge logits everywhere: only the slot mask keeps them out
    bias_logits(model, list(range(A, LAYOUT.vocab_size)))
    codes = model.sample(label_maps(), GRID, generator=seeded())
    assert codes.shape == (2, 2, *GRID)
    assert ((codes[:, 0] >= 0) & (codes[:, 0] < A)).all() and ((codes[:, 1] >= 0) & (codes[:, 1] < N)).all()
    seq = interleave(LAYOUT, codes)
    assert slot_mask(LAYOUT, seq.shape[1]).gather(1, seq.T).T.all()


@pytest.mark.parametrize(
    "options",
    [
        dict(temperature=0.0),
        dict(temperature=1.0, top_k=3),
        dict(temperature=0.8, top_p=0.9),
        dict(temperature=1.0, guidance_scale=2.5),
    ],
)
@pytest.mark.parametrize(
    "network",
    [{}, dict(label_embedding=True), dict(label_embedding=True, condition_prefix=False)],
    ids=["plain", "label_embedding", "no_condition_prefix"],
)
def test_kv_cache_matches_uncached_sampling(options, network):
    model = make_prior(**network)
    conditions = label_maps(4)
    cached = model.sample(conditions, GRID, use_cache=True, generator=seeded(3), **options)
    uncached = model.sample(conditions, GRID, use_cache=False, generator=seeded(3), **options)
    assert torch.equal(cached, uncached)
    assert cached.unique().numel() > 2  # not a degenerate constant grid that would match trivially
    prefix = random_codes(4)
    cached = model.sample(
        conditions, GRID, use_cache=True, generator=seeded(4), prefix_codes=prefix, prefix_cells=2, **options
    )
    uncached = model.sample(
        conditions, GRID, use_cache=False, generator=seeded(4), prefix_codes=prefix, prefix_cells=2, **options
    )
    assert torch.equal(cached, uncached)


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_guidance_one_equals_conditional_sampling(kind):
    model = make_prior(kind)
    conditions = label_maps(4)
    plain = model.sample(conditions, GRID, generator=seeded(5))
    model.skip_unit_guidance = False  # run the NULL batch and the mixing at scale 1
    mixed = model.sample(conditions, GRID, guidance_scale=1.0, generator=seeded(5))
    unconditional = model.sample(conditions, GRID, guidance_scale=0.0, generator=seeded(5))
    assert torch.equal(plain, mixed)
    assert not torch.equal(plain, unconditional)  # the NULL rows differ, so a swapped mix would show


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_overfits_a_single_batch(kind):
    model = make_prior(kind, cond_drop_prob=0.0).train()
    codes, conditions = random_codes(4), label_maps(4)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        before = model(codes, conditions, generator=seeded(6)).item()
    for step in range(30):
        loss = model(codes, conditions, generator=seeded(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = model(codes, conditions, generator=seeded(6)).item()
    assert after < 0.6 * before, (before, after)


def test_autoregressive_completion_keeps_prefix():
    model = make_prior()
    bias_logits(model, [A - 1, A + N - 1])  # the model wants adjective 4 / noun 6 everywhere
    prefix = torch.zeros(2, 2, *GRID, dtype=torch.long)
    codes = model.sample(label_maps(), GRID, generator=seeded(), prefix_codes=prefix, prefix_cells=4)
    first = interleave(LAYOUT, codes)[:, :8]
    assert torch.equal(first, interleave(LAYOUT, prefix)[:, :8])
    assert (codes[:, 0].flatten(1)[:, 4:] == A - 1).all()  # the rest is sampled, not copied


def test_masked_loss_is_the_mean_over_masked_tokens_only():
    """The loss without a boolean index (no host sync) equals cross-entropy over just the masked tokens."""
    model, codes = make_prior("masked").train(), random_codes(batch=3)
    seen = {}
    original = model._image_outputs

    def capture(start, labels, image, grid, **kwargs):
        seen["input"], seen["hidden"] = image, original(start, labels, image, grid, **kwargs)
        return seen["hidden"]

    model._image_outputs = capture
    loss = model(codes, label_maps(3), generator=seeded(0))
    masked = seen["input"] == LAYOUT.mask
    assert 0 < masked.sum() < masked.numel()  # some tokens kept, so ignoring them matters
    logits = model.net.to_logits(seen["hidden"]).masked_fill(~slot_mask(LAYOUT, masked.shape[1]), float("-inf"))
    reference = torch.nn.functional.cross_entropy(logits[masked], interleave(LAYOUT, codes)[masked])
    torch.testing.assert_close(loss, reference)


def test_slot_loss_is_cross_entropy_over_each_slots_own_ids():
    """Logits over a slot's range only give the loss of the full output head with the other ids
    masked to -inf: adjective positions never pay for noun ids, nor nouns for adjectives."""
    model = make_prior()
    hidden, targets = torch.randn(2, 18, 32), interleave(LAYOUT, random_codes())
    full = model.net.to_logits(hidden)
    reference = torch.nn.functional.cross_entropy(
        full.masked_fill(~slot_mask(LAYOUT, 18), float("-inf")).flatten(0, 1), targets.flatten()
    )
    torch.testing.assert_close(model._slot_loss(hidden, targets), reference)
    assert not torch.isclose(reference, torch.nn.functional.cross_entropy(full.flatten(0, 1), targets.flatten()))
    counted = torch.rand(2, 18, generator=seeded(1)) < 0.5
    masked_reference = torch.nn.functional.cross_entropy(
        full.masked_fill(~slot_mask(LAYOUT, 18), float("-inf"))[counted], targets[counted]
    )
    torch.testing.assert_close(model._slot_loss(hidden, targets, counted), masked_reference)


def test_masked_completion_keeps_every_known_token():
    model = make_prior("masked")
    bias_logits(model, [A - 1, A + N - 1])
    known_codes = random_codes(3, seed=7).clamp(max=A - 2)  # never the ids the biased model prefers
    known_mask = torch.rand(3, 2, *GRID, generator=seeded(8)) < 0.5
    codes = model.sample(
        label_maps(3), GRID, steps=4, known_codes=known_codes, known_mask=known_mask, generator=seeded(9)
    )
    assert torch.equal(codes[known_mask], known_codes[known_mask])
    assert (codes[:, 0][~known_mask[:, 0]] == A - 1).all() and (codes[:, 1][~known_mask[:, 1]] == N - 1).all()
    per_cell = torch.zeros(3, *GRID, dtype=torch.bool)
    per_cell[:, 0] = True  # a per-cell mask: the whole first row is known
    codes = model.sample(label_maps(3), GRID, known_codes=known_codes, known_mask=per_cell, generator=seeded(9))
    assert torch.equal(codes[:, :, 0], known_codes[:, :, 0])


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_condition_dropout_replaces_condition(kind):
    model = make_prior(kind, cond_drop_prob=0.5).train()
    seen = []
    model.net.token_emb.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].clone()))
    conditions = label_maps(16)
    expected = condition_tokens(LAYOUT, conditions, *GRID)
    model(random_codes(16), conditions, generator=seeded(10))
    prefix = seen[-1][:, :9]
    dropped = (prefix == LAYOUT.null).all(1)
    assert 0 < dropped.sum() < 16  # some rows dropped, some kept
    assert torch.equal(prefix[~dropped], expected[~dropped])
    model(random_codes(16), conditions, generator=seeded(10))
    assert torch.equal(seen[-1][:, :9], prefix)  # the same seed drops the same rows
    model.eval()(random_codes(16), conditions)
    assert torch.equal(seen[-1][:, :9], expected)  # never in eval mode


def test_class_and_unconditional_priors():
    model = make_prior(condition="class")
    classes = torch.tensor([0, 3])
    codes = model.sample(classes, GRID, guidance_scale=2.0, generator=seeded())
    assert codes.shape == (2, 2, *GRID) and model(codes, classes).isfinite()
    for kind, prior_type in [("autoregressive", AutoregressivePrior), ("masked", MaskedPrior)]:
        model = make_prior(kind, condition="none")
        assert isinstance(model, prior_type)
        assert model.sample(None, GRID, batch_size=3, generator=seeded()).shape == (3, 2, *GRID)
        with pytest.raises(ValueError):
            model.sample(None, GRID, batch_size=3, guidance_scale=2.0)
    with pytest.raises(ValueError):
        build_prior(PriorConfig(num_classes=19), LAYOUT)  # vocabulary has 4 classes


def test_single_group_layout():
    vocabulary = TokenVocabulary(11, 0, C)
    model = build_prior(PriorConfig(dim=32, depth=2, heads=2, num_classes=C), vocabulary).eval()
    codes = model.sample(label_maps(), GRID, generator=seeded())
    assert codes.shape == (2, 1, *GRID) and codes.max() < 11
    assert model(codes, label_maps()).isfinite()


def test_each_input_carries_the_cell_of_the_token_it_predicts():
    model = make_prior()  # 3×3 grid, adjective and noun per cell
    # condition tokens: their own cell; BOS and image tokens: the cell of the next token (a₁ → n₁'s cell 1, n₁ → a₂'s cell 2)
    assert model._input_cells(9, GRID).tolist() == list(range(1, 10)) + [t // 2 + 1 for t in range(18)]
    masked = make_prior("masked")  # every image token is its own input: BOS has no cell
    assert masked._cells(9, GRID).tolist() == list(range(1, 10)) + [0] + [t // 2 + 1 for t in range(18)]
    with pytest.raises(ValueError, match="max_cells"):
        make_prior(max_cells=8)(random_codes(), label_maps())


def test_label_embedding_gives_each_token_its_cells_class():
    model = make_prior(label_embedding=True, cond_drop_prob=0.5).train()
    seen = []
    model.extra_embeds["label"].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].clone()))
    conditions = label_maps(16)
    prefix = condition_tokens(LAYOUT, conditions, *GRID)
    model(random_codes(16), conditions, generator=seeded(10))
    labels = seen[-1][..., 0]  # [B, 9 condition + BOS + 17 image inputs, 1 sub-cell]
    dropped = (labels == 0).all(1)
    assert 0 < dropped.sum() < 16  # a dropped condition leaves no label anywhere in its row
    classes = prefix[~dropped] - LAYOUT.condition_offset + 1
    kept = labels[~dropped]
    assert torch.equal(kept[:, :9], classes)  # a condition token: its own cell's class
    assert (kept[:, 9] == classes[:, 0]).all()  # BOS predicts a₁, of cell 1
    cells = torch.tensor([t // 2 for t in range(1, 18)])  # the image input t predicts token t + 1
    assert torch.equal(kept[:, 10:], classes[:, cells])
    with pytest.raises(ValueError, match="label_embedding needs condition='semantic'"):
        make_prior(condition="none", label_embedding=True)


def test_label_detail_gives_each_token_its_cells_sub_cell_classes():
    """label_detail=2: every token gets one id per quarter of its cell, that quarter's majority
    class offset by the quarter's index; a dropped condition gets each quarter's "no label" id."""
    model = make_prior(label_embedding=True, label_detail=2, cond_drop_prob=0.5).train()
    seen = []
    model.extra_embeds["label"].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].clone()))
    conditions = label_maps(16)  # 12×12 maps on a 3×3 grid: quarters of 2×2 pixels
    model(random_codes(16), conditions, generator=seeded(10))
    labels = seen[-1]  # [B, 9 condition + BOS + 17 image inputs, 4 quarters]
    offsets = torch.arange(4) * (C + 1)
    dropped = (labels == offsets).all(2).all(1)
    assert 0 < dropped.sum() < 16
    quarters = torch.zeros(16, 9, 4, dtype=torch.long)
    for cell in range(9):
        row, col = divmod(cell, 3)
        for quarter in range(4):
            y, x = 4 * row + 2 * (quarter // 2), 4 * col + 2 * (quarter % 2)
            block = conditions[:, y : y + 2, x : x + 2].flatten(1)
            quarters[:, cell, quarter] = torch.stack([torch.bincount(b, minlength=C).argmax() for b in block])
    expected = quarters + 1 + offsets
    assert torch.equal(labels[~dropped, :9], expected[~dropped])
    assert torch.equal(labels[~dropped, 9], expected[~dropped, 0])  # BOS predicts a₁, of cell 1
    assert torch.equal(labels[dropped], offsets.expand(int(dropped.sum()), 27, 4))


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_label_detail_lets_the_prior_see_where_in_a_cell_a_shape_lies(kind):
    """Two maps with the same majority class in every cell but shapes at other places inside the
    cells: the same prediction at label_detail=1, different ones at label_detail=4."""
    left = torch.zeros(1, 12, 12, dtype=torch.long)
    left[:, :, :4] = 1  # the first column of cells is class 1
    right = left.clone()
    right[:, :, 4] = 2  # a line a quarter of a cell wide in the second column: a minority in its cells
    assert torch.equal(condition_tokens(LAYOUT, left, *GRID), condition_tokens(LAYOUT, right, *GRID))
    codes = random_codes(1)
    for detail, same in ((1, True), (4, False)):
        model = make_prior(kind, label_embedding=True, label_detail=detail, cond_drop_prob=0.0)
        # the same generator for both maps: the masked loss draws which tokens to mask
        losses = [model(codes, maps, generator=seeded(3)) for maps in (left, right)]
        assert torch.isclose(losses[0], losses[1]).item() is same
    with pytest.raises(ValueError, match="label_detail=2 needs model.label_embedding=true"):
        make_prior(label_detail=2)


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_without_condition_prefix_the_map_reaches_the_prior_through_its_labels_alone(kind):
    model = make_prior(kind, label_embedding=True, label_detail=2, condition_prefix=False)
    inputs = []
    model.net.register_forward_pre_hook(lambda module, args: inputs.append(args[0].clone()))
    codes, maps, other = random_codes(2), label_maps(2), label_maps(2, seed=5)
    loss = model(codes, maps, generator=seeded(3))
    image_length = LAYOUT.image_length(*GRID)
    # [BOS | image tokens but the last] or [BOS | image tokens]: no condition tokens
    assert inputs[-1].shape[1] == (image_length if kind == "autoregressive" else image_length + 1)
    tokens = inputs[-1]
    assert (tokens[:, 0] == LAYOUT.bos).all()
    condition_ids = (tokens >= LAYOUT.condition_offset) & (tokens < LAYOUT.bos)
    assert not (condition_ids | (tokens == LAYOUT.null)).any()
    assert not torch.isclose(loss, model(codes, other, generator=seeded(3)))
    # the unconditional rows of guidance see no labels: at scale 0 the map makes no difference
    unconditional = [model.sample(m, GRID, guidance_scale=0.0, generator=seeded(4)) for m in (maps, other)]
    assert torch.equal(*unconditional)
    conditional = [model.sample(m, GRID, generator=seeded(4)) for m in (maps, other)]
    assert not torch.equal(*conditional)
    with pytest.raises(ValueError, match="condition_prefix=false needs model.label_embedding=true"):
        make_prior(kind, condition_prefix=False)


def test_label_embedding_changes_what_the_prior_predicts():
    model = make_prior(label_embedding=True)
    codes, maps = random_codes(2), label_maps(2)
    before = model(codes, maps)
    with torch.no_grad():
        model.extra_embeds["label"].weight.add_(torch.randn_like(model.extra_embeds["label"].weight))
    assert not torch.isclose(model(codes, maps), before)


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_temperature_0_is_greedy_whatever_the_seed(kind):
    """--temperature 0: the most likely token at every step, so two generators agree (a masked
    prior also draws the order it fills cells in: --choice-temperature 0 makes that greedy too)."""
    model = make_prior(kind)
    conditions = label_maps(2)
    greedy = {"temperature": 0.0} | ({"choice_temperature": 0.0} if kind == "masked" else {})
    first = model.sample(conditions, GRID, generator=seeded(1), **greedy)
    second = model.sample(conditions, GRID, generator=seeded(2), **greedy)
    assert torch.equal(first, second)
    assert not torch.equal(
        model.sample(conditions, GRID, generator=seeded(1), temperature=1.0),
        model.sample(conditions, GRID, generator=seeded(2), temperature=1.0),
    )  # the seed does matter when sampling


@pytest.mark.parametrize("kind", ["autoregressive", "masked"])
def test_code_vector_init_starts_codes_with_alike_vectors_alike(kind):
    generator = torch.Generator().manual_seed(3)
    # adjective vectors narrower than the prior (mapped isometrically), noun vectors wider (projected)
    books = (torch.randn(A, 6, generator=generator), torch.randn(N, 40, generator=generator))
    books[0][1] = books[0][0]  # two adjective codes with one vector
    model = make_prior(kind, code_vector_init=1.0)
    random = {name: weight.clone() for name, weight in model.state_dict().items()}
    model.start_from_code_vectors(books)
    for name in ("net.token_emb.emb.weight", "net.to_logits.weight"):
        weight = model.state_dict()[name]
        adjectives, vectors = weight[:A], books[0]
        assert torch.allclose(adjectives[0], adjectives[1])
        apart = ~torch.eye(A, dtype=torch.bool) & (torch.cdist(vectors, vectors) > 0)
        ratio = torch.cdist(adjectives, adjectives)[apart] / torch.cdist(vectors, vectors)[apart]
        assert torch.allclose(ratio, ratio[0], rtol=1e-4), "adjective rows keep their vectors' distances"
        for low, high in ((0, A), (A, A + N)):  # each group keeps the random init's mean norm
            assert torch.isclose(weight[low:high].norm(dim=1).mean(), random[name][low:high].norm(dim=1).mean())
        assert torch.equal(weight[A + N :], random[name][A + N :]), "condition, BOS, NULL and MASK rows stay random"
    changed = {name for name, weight in model.state_dict().items() if not torch.equal(weight, random[name])}
    assert changed == {"net.token_emb.emb.weight", "net.to_logits.weight"}

    half = make_prior(kind, code_vector_init=0.5)
    rows = half.net.token_emb.emb.weight.clone()
    half.start_from_code_vectors(books)
    # one vector, so the two rows differ only by their random parts, weighted √(1 − share)
    gap = half.net.token_emb.emb.weight[0] - half.net.token_emb.emb.weight[1]
    assert torch.allclose(gap, 0.5**0.5 * (rows[0] - rows[1]), atol=1e-6)

    with pytest.raises(ValueError, match=r"sizes \[5, 6\]"):
        model.start_from_code_vectors((books[0], books[1][:6]))


@pytest.mark.slow
def test_importing_the_prior_warns_of_nothing():
    """x-transformers' torch.jit.script FutureWarning is filtered where we import it (a fresh
    interpreter: the import is once per process)."""
    done = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", "import vqct.prior.base as b; b.x_transformers_classes()"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "FutureWarning" not in done.stderr, done.stderr[-2000:]
