import numpy as np
import pytest
import torch

from vqct.tokenizer.data.shapes import (
    CLASS_NAMES,
    COLOURS,
    NUM_CLASSES,
    SHAPE_NAMES,
    SIZES,
    TEXTURES,
    ShapesConfig,
    ShapesDataset,
    caption_corpus,
)

CONFIG = ShapesConfig(size=32, length=40, seed=3)
KNOWN_WORDS = (
    set(SHAPE_NAMES)
    | set(COLOURS)
    | set(TEXTURES)
    | set(SIZES)
    | {
        "a",
        "and",
        "on",
        "background",
        "beside",
        "above",
        "below",
    }
)


def _equal(a: dict, b: dict) -> bool:
    return torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"]) and a["caption"] == b["caption"]


def _shape_phrases(caption: str) -> list[list[str]]:
    """Attribute runs, each ending in its noun, in drawing order."""
    words = caption.replace(",", "").replace(" on a plain background", "").split()
    phrases, current = [], []
    for word in words:
        if word == "a":
            current = []
        elif word in SHAPE_NAMES:
            phrases.append(current + [word])
        else:
            current.append(word)
    return phrases


def test_deterministic_across_calls_and_instances():
    first, second = ShapesDataset(CONFIG), ShapesDataset(CONFIG)
    for i in (0, 7, 39):
        assert _equal(first[i], first[i])
        assert _equal(first[i], second[i])


def test_seed_and_index_change_samples():
    base = ShapesDataset(CONFIG)
    other = ShapesDataset(CONFIG, seed=4)
    assert not any(_equal(base[i], other[i]) for i in range(3))
    assert not _equal(base[0], base[1])


def test_overrides_replace_config_fields():
    ds = ShapesDataset(CONFIG, size=48, length=5)
    assert len(ds) == 5
    assert ds[0]["image"].shape == (3, 48, 48)
    assert ShapesDataset().config == ShapesConfig()


@pytest.mark.parametrize("size", [32, 64])
def test_image_and_label_format(size):
    ds = ShapesDataset(CONFIG, size=size)
    for i in range(10):
        sample = ds[i]
        image, label = sample["image"], sample["label"]
        assert image.dtype == torch.float32 and image.shape == (3, size, size)
        assert image.min() >= -1.0 and image.max() <= 1.0
        assert image.std() > 0.05
        assert label.dtype == torch.int64 and label.shape == (size, size)
        assert label.min() >= 0 and label.max() < NUM_CLASSES
        assert (label > 0).any()
        assert (label == 0).any()


def test_caption_vocabulary_and_adjective_order():
    for caption in caption_corpus(CONFIG, 200):
        assert set(caption.replace(",", "").split()) <= KNOWN_WORDS, caption
        phrases = _shape_phrases(caption)
        assert 1 <= len(phrases) <= CONFIG.max_shapes
        for *adjectives, noun in phrases:
            assert noun in SHAPE_NAMES
            assert adjectives[0] in SIZES and adjectives[1] in COLOURS, caption
            # "plain" is left out for untextured shapes; it only describes the background.
            textured = len(adjectives) == 3 and adjectives[2] in TEXTURES and adjectives[2] != "plain"
            assert len(adjectives) == 2 or textured, caption


def test_caption_matches_drawn_shapes():
    ds = ShapesDataset(CONFIG)
    for i in range(len(ds)):
        sample = ds[i]
        phrases = _shape_phrases(sample["caption"])
        present = {CLASS_NAMES[c] for c in sample["label"].unique().tolist() if c != 0}
        # Earlier shapes may be hidden, but nothing undescribed may appear.
        assert present <= {phrase[-1] for phrase in phrases}, sample["caption"]
        # The last shape is drawn on top, so it is always visible.
        top = phrases[-1][-1]
        assert top in present, sample["caption"]
        if top in {phrase[-1] for phrase in phrases[:-1]}:
            continue  # the same noun twice: its pixels can't be told apart by label
        _, colour, *texture = phrases[-1][:-1]
        pixels = ((sample["image"][:, sample["label"] == CLASS_NAMES.index(top)] + 1) * 127.5).T.numpy()
        palette = np.array(list(COLOURS.values()), dtype=np.float32)
        nearest = np.linalg.norm(pixels[:, None] - palette[None], axis=2).argmin(axis=1)
        share = (nearest == list(COLOURS).index(colour)).mean()
        # Textures paint part of the shape in a second tone; plain shapes are all one colour.
        assert share >= (0.3 if texture else 1.0), (sample["caption"], share)


def test_relation_word_matches_positions():
    ds = ShapesDataset(CONFIG, size=64, length=60)
    checked = 0
    for i in range(len(ds)):
        sample = ds[i]
        words = sample["caption"].replace(",", "").split()
        nouns = [w for w in words if w in SHAPE_NAMES]
        if len(nouns) < 2 or len(set(nouns)) < len(nouns):
            continue  # label maps can't separate two shapes of the same class
        masks = [sample["label"] == CLASS_NAMES.index(noun) for noun in nouns[:2]]
        if not all(mask.any() for mask in masks):
            continue
        (y0, x0), (y1, x1) = (mask.nonzero().float().mean(0).tolist() for mask in masks)
        relation = next(w for w in words if w in {"above", "below", "beside"})
        if relation == "above":
            assert y0 < y1, sample["caption"]
        elif relation == "below":
            assert y0 > y1, sample["caption"]
        else:
            assert abs(x1 - x0) >= 0.5 * abs(y1 - y0), sample["caption"]
        checked += 1
    assert checked >= 10


def test_caption_corpus_matches_dataset():
    ds = ShapesDataset(CONFIG, max_shapes=4)
    corpus = list(caption_corpus(ds.config, 25))
    assert len(corpus) == 25
    assert corpus == [ds[i]["caption"] for i in range(25)]


def test_single_shape_caption_mentions_background():
    config = ShapesConfig(size=32, max_shapes=1)
    captions = list(caption_corpus(config, 5))
    assert all(c.endswith(" on a plain background") and len(_shape_phrases(c)) == 1 for c in captions)


@pytest.mark.parametrize("size", [31, 257, 0])
def test_invalid_size_raises(size):
    with pytest.raises(ValueError, match=str(size)):
        ShapesConfig(size=size)
    with pytest.raises(ValueError, match=str(size)):
        ShapesDataset(size=size)


def test_out_of_range_index_raises():
    ds = ShapesDataset(CONFIG)
    with pytest.raises(IndexError):
        ds[len(ds)]
    with pytest.raises(IndexError):
        ds[-len(ds) - 1]
    assert _equal(ds[-1], ds[len(ds) - 1])
