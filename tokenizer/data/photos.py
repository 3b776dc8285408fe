"""Built-in "photos" data set: patches of the colour photographs shipped inside scikit-image.

The scikit-image wheel carries a few real photographs in its ``skimage/data`` package folder; they
are read from there directly (never through ``skimage.data``'s fetchers, which may download), so
the set works offline once ``pip install scikit-image`` (the ``offline`` extra) is done.

Train and validation patches come from different photographs (``PHOTOS`` below), so validation
measures reconstruction of unseen images, not of unseen crops of the training images. An item is a
pure function of (seed, split, index, epoch): it picks a photograph of its split uniformly, a square
crop whose side is log-uniform between ``size`` and ``max_scale * size`` pixels (at most the
photograph's short side) at a uniform position, resizes it to ``size`` (bicubic, antialiased when
shrinking) and, with ``flip``, mirrors it with probability 1/2. Photographs are decoded once per
process and cached, not per item.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from vqct.common.config import ConfigError
from vqct.common.errors import UserFileNotFoundError, UserValueError

SPLITS = ("train", "validation")
MIN_SIZE, MAX_SIZE = 8, 256  # the smallest photograph (chelsea) is 451 x 300


@dataclass(frozen=True)
class Photo:
    name: str  # what items report as "path"
    file: str  # file name in scikit-image's data folder
    split: str
    content: str  # and width x height in pixels


# Colour photographs only (the greyscale ones, camera, brick, moon, coins..., are left out).
# Validation is two photographs of everyday content, each unlike any training photograph: a close-up
# of a cat (fur, eyes, soft background) and an outdoor scene at dusk (sky gradient, thin lattice
# towers, point lights). Content shows across both frames: about 1% of their 32-pixel patches or
# fewer are near-black (mean below 30/255), so validation metrics describe ordinary photographs.
# The mostly black ones (hubble_deep_field: ~90% of patches near-black; retina: ~15%, its corners)
# train but do not validate.
# The stereo pair motorcycle_left/right is the same scene twice, so both halves share one split
# (items pick files uniformly, so that scene gets 2/7 of the training patches).
PHOTOS = (
    Photo("astronaut", "astronaut.png", "train", "portrait of astronaut Eileen Collins, 512 x 512"),
    Photo("coffee", "coffee.png", "train", "cup of coffee on a wooden table, 600 x 400"),
    Photo("hubble_deep_field", "hubble_deep_field.jpg", "train", "galaxies on a black sky, 1000 x 872"),
    Photo("ihc", "ihc.png", "train", "immunohistochemistry microscopy of colon tissue, 512 x 512"),
    Photo("motorcycle_left", "motorcycle_left.png", "train", "motorcycle in a workshop (stereo left), 741 x 500"),
    Photo("motorcycle_right", "motorcycle_right.png", "train", "the same scene (stereo right), 741 x 500"),
    Photo("retina", "retina.jpg", "train", "fundus photograph of a retina, 1411 x 1411"),
    Photo("chelsea", "chelsea.png", "validation", "close-up of Chelsea the cat, 451 x 300"),
    Photo("rocket", "rocket.jpg", "validation", "Falcon 9 rocket on its launch pad at dusk, 640 x 427"),
)


def split_photos(split: str) -> tuple[Photo, ...]:
    if split not in SPLITS:
        raise ConfigError(f"photos split must be one of {', '.join(SPLITS)}, got {split!r}")
    return tuple(photo for photo in PHOTOS if photo.split == split)


def data_folder() -> Path:
    """scikit-image's ``skimage/data`` folder, found without importing scikit-image."""
    spec = find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "data.kind=photos reads the colour photographs shipped inside scikit-image, which "
            "is not installed: pip install scikit-image (or pip install -e '.[offline]')"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@functools.cache
def _decode(path: str) -> np.ndarray:
    """The photograph at ``path`` as a read-only uint8 [H, W, 3] array, decoded once per process."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    pixels.setflags(write=False)
    return pixels


def load_photo(photo: Photo, folder: Path) -> np.ndarray:
    path = folder / photo.file
    if not path.is_file():
        raise UserFileNotFoundError(
            f"data.kind=photos: photograph {photo.file!r} not found in {folder}; it ships with "
            f"scikit-image >= 0.22 (pip install scikit-image), or set data.root to a folder holding "
            f"{', '.join(p.file for p in PHOTOS)}"
        )
    try:
        return _decode(str(path))
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise UserValueError(f"data.kind=photos: cannot decode {path}: {type(error).__name__}: {error}") from None


def crop_box(rng: np.random.Generator, height: int, width: int, size: int, max_scale: float) -> tuple[int, int, int]:
    """(top, left, side) of a square crop: side log-uniform in [size, max_scale * size], capped by
    the short side of the image; position uniform."""
    short = min(height, width)
    low, high = min(size, short), min(max_scale * size, short)
    side = int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))
    side = min(max(side, low), short)
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    return top, left, side


@dataclass(frozen=True)
class PhotosConfig:
    size: int = 32
    length: int = 10000
    seed: int = 0
    split: str = "train"  # train | validation: which photographs (see PHOTOS)
    flip: bool = False  # random horizontal flip (data.py applies it to train only)
    max_scale: float = 4.0  # largest crop side, in multiples of size
    folder: str | None = None  # where the photograph files are; None: scikit-image's data folder

    def __post_init__(self) -> None:
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise ConfigError(f"data.kind=photos needs a resolution in {MIN_SIZE}..{MAX_SIZE}, got {self.size}")
        if self.length < 0:
            raise ConfigError(f"length must be >= 0, got {self.length}")
        if self.max_scale < 1:
            raise ConfigError(f"max_scale must be >= 1, got {self.max_scale}")
        split_photos(self.split)


class PhotosDataset(Dataset):
    """Deterministic random-scale patches of one split's photographs: {"image", "path"}."""

    def __init__(self, config: PhotosConfig | None = None, **overrides) -> None:
        self.config = dataclasses.replace(config or PhotosConfig(), **overrides)
        self.photos = split_photos(self.config.split)
        self.folder = Path(self.config.folder).expanduser() if self.config.folder else data_folder()
        for photo in self.photos:  # fail now, not in a worker; also fills this process's cache
            load_photo(photo, self.folder)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.config.length

    def __getitem__(self, index: int) -> dict:
        n = self.config.length
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for PhotosDataset of length {n}")
        rng = np.random.default_rng([self.config.seed, SPLITS.index(self.config.split), index % n, self.epoch])
        photo = self.photos[int(rng.integers(len(self.photos)))]
        pixels = load_photo(photo, self.folder)  # cached: a dictionary look-up after the first call
        size = self.config.size
        top, left, side = crop_box(rng, pixels.shape[0], pixels.shape[1], size, self.config.max_scale)
        crop = np.ascontiguousarray(pixels[top : top + side, left : left + side])
        if side != size:
            crop = np.asarray(Image.fromarray(crop).resize((size, size), Image.BICUBIC))
        if self.config.flip and rng.random() < 0.5:
            crop = crop[:, ::-1]
        image = np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32) / np.float32(127.5) - np.float32(1)
        return {"image": torch.from_numpy(image), "path": photo.name}
