"""The built-in photos data set: patches of scikit-image's colour photographs (tokenizer/data/photos.py)."""

import pickle
from importlib.util import find_spec

import numpy as np
import pytest
import torch

from vqct.tokenizer.data import DataConfig, build_dataset, photos
from vqct.tokenizer.data.photos import (
    PHOTOS,
    PhotosConfig,
    PhotosDataset,
    crop_box,
    split_photos,
)

needs_skimage = pytest.mark.skipif(
    find_spec("skimage") is None, reason="needs scikit-image's photographs: pip install scikit-image"
)
CONFIG = PhotosConfig(size=16, length=40, seed=3)


def _names(dataset, count=None) -> set[str]:
    return {dataset[i]["path"] for i in range(count or len(dataset))}


def test_split_assignment_is_fixed_and_disjoint():
    train = {p.name for p in split_photos("train")}
    validation = {p.name for p in split_photos("validation")}
    assert validation == {"chelsea", "rocket"} and not train & validation
    assert train | validation == {p.name for p in PHOTOS} and len(PHOTOS) == 9
    assert {"motorcycle_left", "motorcycle_right"} <= train  # a stereo pair never straddles splits
    with pytest.raises(ValueError, match="split"):
        split_photos("all")


@needs_skimage
def test_items_are_deterministic_per_seed_and_index():
    first, second = PhotosDataset(CONFIG), PhotosDataset(CONFIG)
    for i in (0, 7, 39, -1):
        assert torch.equal(first[i]["image"], second[i]["image"]) and first[i]["path"] == second[i]["path"]
    assert not torch.equal(first[0]["image"], first[1]["image"])
    other = PhotosDataset(CONFIG, seed=4)
    assert not any(torch.equal(first[i]["image"], other[i]["image"]) for i in range(3))
    with pytest.raises(IndexError):
        first[40]


@needs_skimage
def test_items_shape_range_dtype():
    dataset = PhotosDataset(CONFIG)
    for i in range(10):
        item = dataset[i]
        image = item["image"]
        assert set(item) == {"image", "path"}
        assert image.shape == (3, 16, 16) and image.dtype == torch.float32 and image.is_contiguous()
        assert -1.0 <= image.min() and image.max() <= 1.0
    stack = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
    assert stack.std() > 0.2 and stack.min() < -0.9 and stack.max() > 0.9  # scaled to [-1, 1], not [0, 1]


@needs_skimage
def test_every_photograph_is_colour():
    folder = photos.data_folder()
    for photo in PHOTOS:
        pixels = photos.load_photo(photo, folder)
        assert pixels.ndim == 3 and pixels.shape[2] == 3 and min(pixels.shape[:2]) >= 300
        assert np.abs(pixels[..., 0].astype(int) - pixels[..., 2]).mean() > 5, photo.name  # not grey


@needs_skimage
def test_train_and_validation_come_from_disjoint_photographs():
    train = _names(build_dataset(DataConfig(kind="photos", resolution=16, length=200)))
    validation = _names(
        build_dataset(DataConfig(kind="photos", split="validation", resolution=16, validation_length=60))
    )
    assert train == {p.name for p in split_photos("train")}  # every training photograph is used
    assert validation == {"chelsea", "rocket"}
    assert not train & validation


@needs_skimage
def test_build_dataset_lengths_epochs_and_flips():
    base = dict(kind="photos", resolution=16, length=12, validation_length=5, seed=1, flip=True)
    train = build_dataset(DataConfig(**base))
    validation = build_dataset(DataConfig(**base, split="validation"))
    assert (len(train), len(validation)) == (12, 5)
    first = [train[i]["image"] for i in range(12)]
    fixed = [validation[i]["image"] for i in range(5)]
    train.set_epoch(1)
    validation.set_epoch(1)
    assert not any(torch.equal(a, train[i]["image"]) for i, a in enumerate(first))  # new patches
    assert all(torch.equal(a, validation[i]["image"]) for i, a in enumerate(fixed))  # same patches
    # Flips are for train only: validation with flip=True equals validation without.
    unflipped = build_dataset(DataConfig(**{**base, "flip": False}, split="validation"))
    assert all(torch.equal(a, unflipped[i]["image"]) for i, a in enumerate(fixed))
    plain = build_dataset(DataConfig(**{**base, "flip": False}))
    train.set_epoch(0)
    mirrored = [
        torch.equal(train[i]["image"], plain[i]["image"].flip(-1))
        and not torch.equal(train[i]["image"], plain[i]["image"])
        for i in range(12)
    ]
    same = [torch.equal(train[i]["image"], plain[i]["image"]) for i in range(12)]
    assert any(mirrored) and any(same) and all(m or s for m, s in zip(mirrored, same))
    with pytest.raises(IndexError):
        train[12]


@needs_skimage
def test_photographs_are_decoded_once_per_process_and_not_pickled():
    photos._decode.cache_clear()
    dataset = PhotosDataset(CONFIG, length=30)
    decoded = photos._decode.cache_info().misses
    assert decoded == len(split_photos("train"))
    for i in range(30):
        dataset[i]
    PhotosDataset(CONFIG)
    assert photos._decode.cache_info().misses == decoded
    assert len(pickle.dumps(dataset)) < 10_000  # DataLoader workers get names, not pixels


def test_crop_sides_span_one_to_four_times_the_resolution():
    rng = np.random.default_rng(0)
    boxes = [crop_box(rng, 300, 451, 32, 4.0) for _ in range(2000)]
    sides = np.array([side for _, _, side in boxes])
    assert sides.min() >= 32 and sides.max() <= 128
    assert sides.min() < 36 and sides.max() > 120  # both ends of the range are drawn
    assert np.mean(sides < 64) == pytest.approx(0.5, abs=0.05)  # log-uniform: half below the geometric middle
    assert all(0 <= top <= 300 - s and 0 <= left <= 451 - s for top, left, s in boxes)
    large = [crop_box(rng, 300, 451, 256, 4.0)[2] for _ in range(50)]
    assert min(large) >= 256 and max(large) <= 300  # capped by the photograph's short side


def test_missing_photographs_name_the_folder(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as error:
        build_dataset(DataConfig(kind="photos", root=str(tmp_path), resolution=16))
    assert str(tmp_path) in str(error.value) and "pip install scikit-image" in str(error.value)
    monkeypatch.setattr(photos, "data_folder", lambda: tmp_path / "data")
    with pytest.raises(FileNotFoundError) as error:
        build_dataset(DataConfig(kind="photos", split="validation", resolution=16))
    assert str(tmp_path / "data") in str(error.value) and "photos" in str(error.value)


def test_missing_scikit_image_says_how_to_install(monkeypatch):
    monkeypatch.setattr(photos, "find_spec", lambda name: None)
    with pytest.raises(ImportError) as error:
        build_dataset(DataConfig(kind="photos", resolution=16))
    assert "pip install scikit-image" in str(error.value) and "photos" in str(error.value)


def test_bad_settings_are_refused():
    for kwargs in (dict(resolution=4), dict(resolution=512), dict(length=0), dict(split="all")):
        with pytest.raises(ValueError, match="photos|split"):
            build_dataset(DataConfig(kind="photos", **kwargs))
