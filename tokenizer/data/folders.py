"""Where each data-set kind keeps its images and label maps under ``data.root``, and which of them
form each split (``tokenizer.data`` describes every layout)."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from vqct.common.errors import UserFileNotFoundError, UserValueError

from .config import SPLITS, DataConfig

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
CELEBAHQ_PARTS = (
    "background",
    "skin",
    "nose",
    "eye_g",
    "l_eye",
    "r_eye",
    "l_brow",
    "r_brow",
    "l_ear",
    "r_ear",
    "mouth",
    "u_lip",
    "l_lip",
    "hair",
    "hat",
    "ear_r",
    "neck_l",
    "neck",
    "cloth",
)
CELEBAHQ_TRAIN_SIZE = 27000
LAYOUTS = {
    "folder": f"image files ({', '.join(IMAGE_EXTENSIONS)}) below root, optionally listed in root/<split>.txt",
    "celebahq": "root/CelebA-HQ-img/{i}.jpg, root/CelebAMask-HQ-mask-anno/{i//2000}/{i:05d}_{part}.png "
    "and optional root/train.txt, root/validation.txt",
    "cub": "root/images.txt, root/train_test_split.txt and root/images/<relpath>",
    "coco": "root/train2017/*.jpg and root/val2017/*.jpg",
    "ade20k": "root/images/{training,validation}/*.jpg and root/annotations/{training,validation}/*.png",
}


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
        raise UserFileNotFoundError(f"{len(missing)} image(s) listed in {source} do not exist, e.g. {missing[0]}")


def _list_images(folder: Path, recursive: bool) -> list[Path]:
    if not folder.is_dir():
        return []
    if not recursive:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    # Symlinks are followed, but every real folder is entered and every real file kept once (the
    # first by relative path): a link loop cannot multiply files, and one image cannot be in both
    # splits under two names.
    found, seen_folders = [], set()
    for directory, subfolders, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen_folders:
            subfolders[:] = []
            continue
        seen_folders.add(real)
        subfolders.sort()
        found += [Path(directory, n) for n in names if Path(n).suffix.lower() in IMAGE_EXTENSIONS]
    unique, seen_files = [], set()
    for path in sorted(found, key=lambda p: p.relative_to(folder).as_posix()):
        real = os.path.realpath(path)
        if real not in seen_files and os.path.isfile(real):
            seen_files.add(real)
            unique.append(path)
    return unique


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
    return [p for p, keep in zip(files, in_split(relative, split)) if keep]


def in_split(names: list[str], split: str) -> list[bool]:
    """Whether each item, named by a stable name, is in ``split`` of a set without split lists:
    validation is a fixed 2% hold-out (at least 1 item when there are 2 or more: the names with
    the smallest CRC32, so adding items rarely moves old ones), train is everything else."""
    count = min(max(1, len(names) // 50), len(names) - 1) if len(names) > 1 else 0
    by_hash = sorted(names, key=lambda name: (zlib.crc32(name.encode("utf-8")), name))
    held_out = set(by_hash[:count])
    return [(name in held_out) == (split == "validation") for name in names]


def _celebahq(root: Path, split: str) -> list[Path]:
    image_dir = root / "CelebA-HQ-img"

    def numbers(lines: list[str], source: str) -> list[int]:
        try:
            return [int(Path(line).stem) for line in lines]
        except ValueError as error:
            raise UserValueError(f"{source}: expected image indices or names like 123.jpg ({error})") from None

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


def list_split(config: DataConfig, root: Path) -> tuple[list[Path], str | None, list[Path] | None]:
    """(image paths, label kind, label paths) of ``config``'s split of a file-based kind."""
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
    return paths, label_kind, label_paths
