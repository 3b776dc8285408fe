"""Image data sets for tokenizer training: the built-in shapes and photos sets and user-supplied folders.

``build_dataset(DataConfig)`` returns a Dataset of dicts: ``"image"`` float32 [3, R, R] in [-1, 1];
``"label"`` int64 [R, R] for sets with semantic maps (shapes, celebahq, ade20k); ``"path"`` for
file-based sets and the photograph's name for photos; ``"caption"`` for shapes. Layouts under
``data.root``:

- ``shapes``: no files. Train is ``ShapesDataset(seed=seed, length=length)``; validation uses seed
  ``seed + 1_000_003`` and ``validation_length`` items, so it does not depend on ``length``.
- ``photos``: no files of your own: random-scale square patches of the colour photographs shipped
  inside scikit-image (``pip install scikit-image``; ``tokenizer/photos.py``), train and validation
  from different photographs (``photos.PHOTOS``). Train has ``length`` items, validation
  ``validation_length``; every item is a crop (``data.crop`` is ignored), flips apply to train only,
  and set_epoch draws new train patches (validation patches stay fixed). ``data.root``, optional,
  replaces scikit-image's data folder with one holding the same files; resolution 8..256.
- ``folder``: every jpg/jpeg/png/bmp/webp/tif/tiff below root (recursive, symlinks followed), sorted
  by relative path; ``split=all`` takes them all (what evaluation of a folder uses). ``root/<split>.txt`` (a path relative to root per line) selects a split; if only
  the other split's list exists, this split is every file not in it. With no lists, validation is
  a fixed 2% hold-out (at least 1 file when there are 2 or more: the files with the smallest CRC32
  of their relative path, so adding files rarely moves old ones) and train is everything else.
- ``celebahq`` (CelebAMask-HQ): ``CelebA-HQ-img/{i}.jpg`` and
  ``CelebAMask-HQ-mask-anno/{i // 2000}/{i:05d}_{part}.png``, merged in ``CELEBAHQ_PARTS`` order
  (later parts overwrite earlier ones; missing parts are absent). Splits: ``train.txt`` /
  ``validation.txt`` (an index or file name per line, other-list rule as above), else the standard
  split: indices < 27000 train, the rest validation.
- ``cub`` (CUB-200-2011): ``images.txt`` ("id relpath"), ``train_test_split.txt`` ("id is_train"),
  images under ``images/``; is_train 1 is train, 0 validation.
- ``coco``: ``train2017/*.jpg`` (train), ``val2017/*.jpg`` (validation); images only.
- ``ade20k`` (ADEChallengeData2016): ``images/{training,validation}/*.jpg`` with labels
  ``annotations/{training,validation}/<same stem>.png`` (0..150, kept as is).

Transforms: shorter side resized to R (bicubic, antialiased; labels nearest neighbour to the same
size, whatever their own size), then a centre or random R x R crop and optional horizontal flip,
same box and flip for image and label. Random crop and flip apply to train only, so validation
metrics stay comparable. Their randomness comes from ``default_rng([seed, index, epoch])``, not the
global RNG: an item is a pure function of (config, index, epoch), the same in any worker and after
a resume. Call ``dataset.set_epoch(e)`` to vary augmentations per epoch (reaches workers only when
they are re-created each epoch, i.e. not ``persistent_workers=True``); otherwise epochs repeat.

Decoding: files are fully decoded on load in Pillow's default strict mode, so truncated files raise
and are skipped like corrupt ones. We never set ``ImageFile.LOAD_TRUNCATED_IMAGES`` (if other code
does, truncated images load half grey; a warning says so). An unreadable file is logged once, added
to ``dataset.skipped`` (per process), and index+1, +2, ... is returned instead. Grey, palette,
CMYK, 16-bit (scaled by 1/257, not clipped) and alpha images (composited on white) become RGB.
EXIF orientation is not applied, so pixels stay aligned with label maps.
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile
from torch.utils.data import Dataset, default_collate

from tokenizer.photos import MAX_SIZE as PHOTOS_MAX_SIZE, MIN_SIZE as PHOTOS_MIN_SIZE, PhotosConfig, PhotosDataset
from tokenizer.shapes import ShapesConfig, ShapesDataset

logger = logging.getLogger(__name__)

KINDS = ("shapes", "photos", "folder", "celebahq", "cub", "coco", "ade20k")
SPLITS = ("train", "validation", "all")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
CELEBAHQ_PARTS = (
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear",
    "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth",
)
CELEBAHQ_TRAIN_SIZE = 27000
SHAPES_VALIDATION_SEED_OFFSET = 1_000_003
LAYOUTS = {
    "folder": f"image files ({', '.join(IMAGE_EXTENSIONS)}) below root, optionally listed in root/<split>.txt",
    "celebahq": "root/CelebA-HQ-img/{i}.jpg, root/CelebAMask-HQ-mask-anno/{i//2000}/{i:05d}_{part}.png "
                "and optional root/train.txt, root/validation.txt",
    "cub": "root/images.txt, root/train_test_split.txt and root/images/<relpath>",
    "coco": "root/train2017/*.jpg and root/val2017/*.jpg",
    "ade20k": "root/images/{training,validation}/*.jpg and root/annotations/{training,validation}/*.png",
}
# Everything Pillow raises for unreadable, truncated or unconvertible files.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


@dataclass
class DataConfig:
    kind: str = "shapes"  # shapes | photos (scikit-image's photographs) | folder | celebahq | cub | coco | ade20k
    root: str | None = None  # data set folder; required for every kind but shapes and photos (optional there)
    split: str = "train"  # train | validation | all (folder only: every image, for evaluation)
    resolution: int = 64
    crop: str = "center"  # center | random (random applies to train only)
    flip: bool = False  # random horizontal flip, train only
    length: int = 10000  # shapes and photos only: train samples
    validation_length: int = 256  # shapes and photos only
    seed: int = 0


class _Unreadable(Exception):
    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(f"{path}: {type(error).__name__}: {error}")
        self.path = path


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's convert clips 16-bit values at 255; scale the full 16-bit range instead.
        # Mode "I" has no bit depth, so it is assumed to hold 16-bit data (as 16-bit PNG/TIFF do).
        values = np.clip(np.asarray(image, dtype=np.float64), 0, 65535) / 257.0
        return Image.fromarray(np.round(values).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")  # L, P, CMYK, 1, YCbCr...; always a copy, safe after close


def _label_array(image: Image.Image) -> np.ndarray:
    # Palette label PNGs store class ids as palette indices, so the raw array is the label.
    array = np.asarray(image)
    if array.ndim == 3:  # e.g. RGB masks: any channel is the same value
        array = array[..., 0]
    return array.astype(np.int32)


def _read(path: Path, convert, missing_ok: bool = False):
    try:
        with Image.open(path) as image:
            image.load()  # decode everything now so truncation raises here, not later
            return convert(image)
    except _DECODE_ERRORS as error:
        if missing_ok and isinstance(error, FileNotFoundError):
            return None
        raise _Unreadable(path, error) from error


def _transform(image: Image.Image, label: np.ndarray | None, resolution: int, random_crop: bool,
               flip: bool, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    width, height = image.size
    scale = resolution / min(width, height)
    size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    if size != image.size:
        image = image.resize(size, Image.BICUBIC)  # Pillow widens the kernel when shrinking
    label_image = None
    if label is not None:
        label_image = Image.fromarray(label.astype(np.int32))  # mode "I": any class id
        if label_image.size != size:
            label_image = label_image.resize(size, Image.NEAREST)
    if random_crop:
        left, top = int(rng.integers(0, size[0] - resolution + 1)), int(rng.integers(0, size[1] - resolution + 1))
    else:
        left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    box = (left, top, left + resolution, top + resolution)
    pixels = np.asarray(image.crop(box), dtype=np.float32) / 127.5 - 1.0
    labels = None if label_image is None else np.asarray(label_image.crop(box), dtype=np.int64)
    if flip and rng.random() < 0.5:
        pixels = pixels[:, ::-1]
        labels = None if labels is None else labels[:, ::-1]
    image_tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
    return image_tensor, None if labels is None else torch.from_numpy(np.ascontiguousarray(labels))


def load_image(source: str | Path | Image.Image, resolution: int) -> torch.Tensor:
    """One image (a file or a PIL image) → [3, resolution, resolution] in [-1, 1], prepared as the
    data sets prepare theirs: any mode converted to RGB, short side resized, centre crop."""
    if isinstance(source, Image.Image):
        image = _to_rgb(source)
    else:
        try:
            image = _read(Path(source), _to_rgb)
        except _Unreadable as error:
            if isinstance(error.__cause__, FileNotFoundError):
                raise FileNotFoundError(f"no such image: {source}") from None
            raise ValueError(f"not a readable image: {error}") from None
    pixels, _ = _transform(image, None, resolution, False, False, np.random.default_rng(0))
    return pixels


class _Augmented(Dataset):
    """Shared epoch handling: augmentation randomness is a function of (seed, index, epoch)."""

    def __init__(self, config: DataConfig) -> None:
        self.config = config
        self.train = config.split == "train"
        self.epoch = 0
        self.skipped: set[str] = set()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, index, self.epoch])

    def _check_index(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a data set of length {n}")
        return index % n


class _ShapesSplit(_Augmented):
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


class _PhotosSplit(_Augmented):
    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        length = config.length if self.train else config.validation_length
        self.photos = PhotosDataset(PhotosConfig(size=config.resolution, length=length, seed=config.seed,
                                                 split=config.split, flip=self.train and config.flip,
                                                 folder=config.root))

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if self.train:  # new patches each epoch; validation patches stay fixed
            self.photos.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, index: int) -> dict:
        return self.photos[self._check_index(index)]


class ImageFiles(_Augmented):
    """Image files with optional label maps; unreadable files are skipped (see module doc)."""

    def __init__(self, config: DataConfig, paths: list[Path], label_kind: str | None = None,
                 label_paths: list[Path] | None = None) -> None:
        super().__init__(config)
        self.paths, self.label_kind, self.label_paths = paths, label_kind, label_paths
        self._bad: set[int] = set()
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            logger.warning("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated images will load "
                           "half grey instead of being skipped")

    def __len__(self) -> int:
        return len(self.paths)

    def _load_label(self, index: int, image_size: tuple[int, int]) -> np.ndarray | None:
        if self.label_kind == "ade20k":
            return _read(self.label_paths[index], _label_array)
        if self.label_kind != "celebahq":
            return None
        number = int(self.paths[index].stem)
        root = self.paths[index].parent.parent  # images are root/CelebA-HQ-img/{i}.jpg
        folder = root / "CelebAMask-HQ-mask-anno" / str(number // 2000)
        label = None
        for class_id, part in enumerate(CELEBAHQ_PARTS[1:], start=1):
            path = folder / f"{number:05d}_{part}.png"
            mask = _read(path, _label_array, missing_ok=True)
            if mask is None:
                continue
            if label is None:
                label = np.zeros(mask.shape, np.int32)
            if mask.shape != label.shape:
                raise _Unreadable(path, ValueError(f"mask size {mask.shape} != {label.shape}"))
            label[mask != 0] = class_id
        return label if label is not None else np.zeros(image_size[::-1], np.int32)

    def __getitem__(self, index: int) -> dict:
        index = self._check_index(index)
        rng = self._rng(index)
        for offset in range(len(self)):
            candidate = (index + offset) % len(self)
            if candidate in self._bad:
                continue
            try:
                image = _read(self.paths[candidate], _to_rgb)
                label = self._load_label(candidate, image.size)
            except _Unreadable as error:
                self._bad.add(candidate)
                if str(error.path) not in self.skipped:
                    self.skipped.add(str(error.path))
                    logger.warning("skipping unreadable file %s", error)
                continue
            pixels, labels = _transform(image, label, self.config.resolution,
                                        self.train and self.config.crop == "random",
                                        self.train and self.config.flip, rng)
            item = {"image": pixels, "path": str(self.paths[candidate])}
            if labels is not None:
                item["label"] = labels
            return item
        raise RuntimeError(f"none of the {len(self)} files under {self.config.root} could be read")


def _read_list(path: Path) -> list[str] | None:
    if not path.is_file():
        return None
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _split_lists(root: Path, split: str) -> tuple[list[str] | None, list[str] | None]:
    """(this split's list, the other split's list), each None where its file is absent."""
    other = SPLITS[1 - SPLITS.index(split)]
    return _read_list(root / f"{split}.txt"), _read_list(root / f"{other}.txt")


def _require_files(paths: list[Path], source: str) -> None:
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} image(s) listed in {source} do not exist, e.g. {missing[0]}")


def _list_images(folder: Path, recursive: bool) -> list[Path]:
    if not folder.is_dir():
        return []
    if not recursive:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    found = []
    for directory, _, names in os.walk(folder, followlinks=True):
        found += [Path(directory, n) for n in names if Path(n).suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _folder(root: Path, split: str) -> list[Path]:
    if split == "all":
        return _list_images(root, recursive=True)
    own, other = _split_lists(root, split)
    if own is not None:
        paths = [root / Path(line) for line in own]
        _require_files(paths, str(root / f"{split}.txt"))
        return paths
    files = _list_images(root, recursive=True)
    relative = [p.relative_to(root).as_posix() for p in files]
    if other is not None:
        excluded = {Path(line).as_posix() for line in other}
        return [p for p, r in zip(files, relative) if r not in excluded]
    count = min(max(1, len(files) // 50), len(files) - 1) if len(files) > 1 else 0
    by_hash = sorted(relative, key=lambda r: (zlib.crc32(r.encode("utf-8")), r))
    held_out = set(by_hash[:count])
    return [p for p, r in zip(files, relative) if (r in held_out) == (split == "validation")]


def _celebahq(root: Path, split: str) -> list[Path]:
    image_dir = root / "CelebA-HQ-img"

    def numbers(lines: list[str], source: str) -> list[int]:
        try:
            return [int(Path(line).stem) for line in lines]
        except ValueError as error:
            raise ValueError(f"{source}: expected image indices or names like 123.jpg ({error})") from None

    own, other = _split_lists(root, split)
    if own is not None:
        paths = [image_dir / f"{i}.jpg" for i in numbers(own, str(root / f"{split}.txt"))]
        _require_files(paths, str(root / f"{split}.txt"))
        return paths
    available = sorted((int(p.stem), p) for p in _list_images(image_dir, False) if p.stem.isdigit())
    if other is not None:
        excluded = set(numbers(other, "the other split list"))
        return [p for i, p in available if i not in excluded]
    return [p for i, p in available if (i < CELEBAHQ_TRAIN_SIZE) == (split == "train")]


def _cub(root: Path, split: str) -> list[Path]:
    images, flags = root / "images.txt", root / "train_test_split.txt"
    if not (images.is_file() and flags.is_file()):
        return []
    relpaths = dict(line.split(maxsplit=1) for line in _read_list(images))
    is_train = dict(line.split() for line in _read_list(flags))
    wanted = "1" if split == "train" else "0"
    ids = sorted((i for i in relpaths if is_train.get(i) == wanted), key=int)
    paths = [root / "images" / relpaths[i] for i in ids]
    _require_files(paths, str(images))
    return paths


def _ade20k(root: Path, split: str) -> tuple[list[Path], list[Path]]:
    folder = "training" if split == "train" else "validation"
    images = _list_images(root / "images" / folder, recursive=False)
    labels = [root / "annotations" / folder / f"{p.stem}.png" for p in images]
    _require_files(labels, f"{root / 'annotations' / folder} (one .png per image)")
    return images, labels


def build_dataset(config: DataConfig) -> Dataset:
    """The data set described by ``config`` (see the module docstring for layouts)."""
    for key, valid in (("kind", KINDS), ("split", SPLITS), ("crop", ("center", "random"))):
        if getattr(config, key) not in valid:
            raise ValueError(f"unknown data.{key} {getattr(config, key)!r}; valid: {', '.join(valid)}")
    if config.split == "all" and config.kind != "folder":
        raise ValueError(f"data.split=all is for data.kind=folder only, got data.kind={config.kind!r}")
    if config.resolution < 1 or config.seed < 0:
        raise ValueError(f"data.resolution must be >= 1 and data.seed >= 0, got {config.resolution}, {config.seed}")
    if config.kind == "shapes":
        length = config.length if config.split == "train" else config.validation_length
        if length < 1 or not 32 <= config.resolution <= 256:
            raise ValueError(f"data.kind=shapes needs data.resolution in 32..256 and a positive data.length "
                             f"(train) / data.validation_length; got {config.resolution}, {length}")
        return _ShapesSplit(config)
    if config.kind == "photos":
        length = config.length if config.split == "train" else config.validation_length
        if length < 1 or not PHOTOS_MIN_SIZE <= config.resolution <= PHOTOS_MAX_SIZE:
            raise ValueError(f"data.kind=photos needs data.resolution in {PHOTOS_MIN_SIZE}..{PHOTOS_MAX_SIZE} and "
                             f"a positive data.length (train) / data.validation_length; got {config.resolution}, "
                             f"{length}")
        return _PhotosSplit(config)
    if config.root is None:
        raise ValueError(f"data.root must be set for data.kind={config.kind!r}; expected {LAYOUTS[config.kind]}")
    root = Path(config.root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data.root does not exist or is not a folder: {root} (data.kind={config.kind!r})")
    label_kind, label_paths = None, None
    if config.kind == "folder":
        paths = _folder(root, config.split)
    elif config.kind == "celebahq":
        paths, label_kind = _celebahq(root, config.split), "celebahq"
    elif config.kind == "cub":
        paths = _cub(root, config.split)
    elif config.kind == "coco":
        paths = _list_images(root / ("train2017" if config.split == "train" else "val2017"), recursive=False)
    else:
        (paths, label_paths), label_kind = _ade20k(root, config.split), "ade20k"
    if not paths:
        raise ValueError(f"no images found for data.kind={config.kind!r}, split {config.split!r} under "
                         f"{root}; expected {LAYOUTS[config.kind]}")
    return ImageFiles(config, paths, label_kind, label_paths)


def collate(batch: list[dict]) -> dict:
    """Stacks images and labels; paths and captions stay lists of str (torch's default_collate)."""
    return default_collate(batch)
