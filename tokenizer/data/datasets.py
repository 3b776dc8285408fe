"""``build_dataset``: the Dataset of each kind (the built-in sets, image files, ``datasets`` sets,
tar shards), with augmentation that is a pure function of (seed, index, epoch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset, default_collate

from vqct.common.config import ConfigError, check_values
from vqct.common.errors import UserFileNotFoundError, UserValueError

from .config import DataConfig
from .folders import CELEBAHQ_PARTS, LAYOUTS, list_split
from .hf import HFImages
from .images import Unreadable, label_array, read_image, to_rgb
from .items import Augmented, DecodedImages
from .photos import MAX_SIZE as PHOTOS_MAX_SIZE
from .photos import MIN_SIZE as PHOTOS_MIN_SIZE
from .photos import PhotosConfig, PhotosDataset
from .shapes import CLASS_NAMES as SHAPES_CLASS_NAMES
from .shapes import ShapesConfig, ShapesDataset
from .shards import TarShards

SHAPES_VALIDATION_SEED_OFFSET = 1_000_003


class _ShapesSplit(Augmented):
    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        seed = config.seed if self.train else config.seed + SHAPES_VALIDATION_SEED_OFFSET
        length = config.length if self.train else config.validation_length
        self.shapes = ShapesDataset(ShapesConfig(size=config.resolution, length=length, seed=seed))

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, index: int) -> dict:
        index = self._check_index(index)
        item = self.shapes[index]
        if self.train and self.config.flip and self._rng(index).random() < 0.5:
            item["image"], item["label"] = item["image"].flip(-1), item["label"].flip(-1)
        return item


class _PhotosSplit(Augmented):
    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        length = config.length if self.train else config.validation_length
        self.photos = PhotosDataset(
            PhotosConfig(
                size=config.resolution,
                length=length,
                seed=config.seed,
                split=config.split,
                flip=self.train and config.flip,
                folder=config.root,
            )
        )

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if self.train:  # new patches each epoch; validation patches stay fixed
            self.photos.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, index: int) -> dict:
        return self.photos[self._check_index(index)]


class ImageFiles(DecodedImages):
    """Image files with optional label maps; unreadable files are skipped (see module doc)."""

    def __init__(
        self,
        config: DataConfig,
        paths: list[Path],
        label_kind: str | None = None,
        label_paths: list[Path] | None = None,
    ) -> None:
        super().__init__(config)
        self.paths, self.label_kind, self.label_paths = paths, label_kind, label_paths
        self.source = f"the files under {config.root}"

    def __len__(self) -> int:
        return len(self.paths)

    def _load_label(self, index: int, image_size: tuple[int, int]) -> np.ndarray | None:
        if self.label_kind == "ade20k":
            return read_image(self.label_paths[index], label_array)
        if self.label_kind != "celebahq":
            return None
        number = int(self.paths[index].stem)
        root = self.paths[index].parent.parent  # images are root/CelebA-HQ-img/{i}.jpg
        folder = root / "CelebAMask-HQ-mask-anno" / str(number // 2000)
        label = None
        for class_id, part in enumerate(CELEBAHQ_PARTS[1:], start=1):
            path = folder / f"{number:05d}_{part}.png"
            mask = read_image(path, label_array, missing_ok=True)
            if mask is None:
                continue
            if label is None:
                label = np.zeros(mask.shape, np.int32)
            if mask.shape != label.shape:
                raise Unreadable(path, ValueError(f"mask size {mask.shape} != {label.shape}"))
            label[mask != 0] = class_id
        return label if label is not None else np.zeros(image_size[::-1], np.int32)

    def _read(self, index: int) -> tuple[Image.Image, np.ndarray | None, str]:
        image = read_image(self.paths[index], to_rgb)
        return image, self._load_label(index, image.size), str(self.paths[index])


def build_dataset(config: DataConfig) -> Dataset:
    """The data set described by ``config`` (see the module docstring for layouts)."""
    check_values(config, prefix="data.")
    if config.split == "all" and config.kind != "folder":
        raise ConfigError(f"data.split=all is for data.kind=folder only, got data.kind={config.kind!r}")
    if config.kind == "shapes":
        length = config.length if config.split == "train" else config.validation_length
        if length < 1 or not 32 <= config.resolution <= 256:
            raise ConfigError(
                f"data.kind=shapes needs data.resolution in 32..256 and a positive data.length "
                f"(train) / data.validation_length; got {config.resolution}, {length}"
            )
        return _ShapesSplit(config)
    if config.kind == "photos":
        length = config.length if config.split == "train" else config.validation_length
        if length < 1 or not PHOTOS_MIN_SIZE <= config.resolution <= PHOTOS_MAX_SIZE:
            raise ConfigError(
                f"data.kind=photos needs data.resolution in {PHOTOS_MIN_SIZE}..{PHOTOS_MAX_SIZE} and "
                f"a positive data.length (train) / data.validation_length; got {config.resolution}, "
                f"{length}"
            )
        return _PhotosSplit(config)
    if config.kind == "hf":
        return HFImages(config)
    if config.kind == "webdataset":
        return TarShards(config)
    if config.root is None:
        raise ConfigError(f"data.root must be set for data.kind={config.kind!r}; expected {LAYOUTS[config.kind]}")
    root = Path(config.root).expanduser()
    if not root.is_dir():
        raise UserFileNotFoundError(f"data.root does not exist or is not a folder: {root} (data.kind={config.kind!r})")
    paths, label_kind, label_paths = list_split(config, root)
    if not paths:
        raise UserValueError(
            f"no images found for data.kind={config.kind!r}, split {config.split!r} under "
            f"{root}; expected {LAYOUTS[config.kind]}"
        )
    return ImageFiles(config, paths, label_kind, label_paths)


def collate(batch: list[dict]) -> dict:
    """Stacks images and labels; paths and captions stay lists of str (torch's default_collate)."""
    return default_collate(batch)


def label_names(kind: str) -> tuple[str, ...]:
    """The class names behind label ids 0, 1, … of data sets of ``kind`` (empty where unknown)."""
    return {"shapes": tuple(SHAPES_CLASS_NAMES), "celebahq": CELEBAHQ_PARTS}.get(kind, ())
