"""One tiny labelled image set written in several kinds' layouts, so a test can read the same
images through two kinds and compare: 6 train and 2 validation images (40 x 32 noise PNGs, not
square so resizing and cropping matter) with label maps of class ids 0..4."""

import io
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TRAIN, VALIDATION = 6, 2
NAMES = {
    "train": [f"{i:06d}" for i in range(TRAIN)],
    "validation": [f"{i:06d}" for i in range(TRAIN, TRAIN + VALIDATION)],
}
ADE20K_FOLDERS = {"train": "training", "validation": "validation"}
AUGMENTED = dict(resolution=32, crop="random", flip=True, seed=7)  # what items of two kinds must agree under


def image_and_label(number: int) -> tuple[Image.Image, Image.Image]:
    rng = np.random.default_rng(number)
    image = Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8))
    label = np.zeros((32, 40), np.uint8)
    label[:, number % 8 :] = 1 + number % 4  # class 0 then one other class, placed by the number
    label[:4] = 4
    return image, Image.fromarray(label)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def write_ade20k(root: Path) -> Path:
    """The set in ADE20K's layout (images/<split>/*.png, annotations/<split>/*.png): data.kind=ade20k
    reads its images and labels, data.kind=folder with root/train.txt its train images."""
    for split, names in NAMES.items():
        for name in names:
            image, label = image_and_label(int(name))
            for folder, picture in (("images", image), ("annotations", label)):
                path = root / folder / ADE20K_FOLDERS[split] / f"{name}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                picture.save(path)
    (root / "train.txt").write_text("".join(f"images/training/{name}.png\n" for name in NAMES["train"]))
    return root


def hf_splits(root: Path) -> dict:
    """Split name → a ``datasets.Dataset`` of the files ``write_ade20k`` wrote under ``root``
    (columns image and seg, bytes embedded)."""
    import datasets

    features = datasets.Features({"image": datasets.Image(), "seg": datasets.Image()})
    splits = {}
    for split, names in NAMES.items():
        folder = ADE20K_FOLDERS[split]
        columns = {
            "image": [{"bytes": (root / "images" / folder / f"{n}.png").read_bytes(), "path": None} for n in names],
            "seg": [{"bytes": (root / "annotations" / folder / f"{n}.png").read_bytes(), "path": None} for n in names],
        }
        splits[split] = datasets.Dataset.from_dict(columns, features=features)
    return splits


def write_hf_saved(ade20k_root: Path, out: Path) -> Path:
    """The set as a DatasetDict written by save_to_disk."""
    import datasets

    datasets.DatasetDict(hf_splits(ade20k_root)).save_to_disk(str(out))
    return out


def write_shards(ade20k_root: Path, out: Path, per_shard: int = 3) -> Path:
    """The set as webdataset shards: train-000000.tar, train-000001.tar (3 samples each) and
    validation-000000.tar; a sample is <key>.png, <key>.seg.png and <key>.cls (ignored)."""
    out.mkdir(parents=True, exist_ok=True)
    for split, names in NAMES.items():
        folder = ADE20K_FOLDERS[split]
        for shard, start in enumerate(range(0, len(names), per_shard)):
            with tarfile.open(out / f"{split}-{shard:06d}.tar", "w") as tar:
                for name in names[start : start + per_shard]:
                    members = {
                        f"{name}.png": (ade20k_root / "images" / folder / f"{name}.png").read_bytes(),
                        f"{name}.seg.png": (ade20k_root / "annotations" / folder / f"{name}.png").read_bytes(),
                        f"{name}.cls": b"3",
                    }
                    for member, data in members.items():
                        info = tarfile.TarInfo(member)
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
    return out


def tree(folder: Path) -> dict[str, float]:
    """Every file below ``folder`` with its modification time: what reading must leave alone."""
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in sorted(folder.rglob("*"))}


def assert_same_items(got, expected, epochs=(0, 1)):
    """Item by item and epoch by epoch, ``got`` has ``expected``'s pixels and labels."""
    assert len(got) == len(expected)
    for epoch in epochs:  # augmentation from (seed, index, epoch), the same in both kinds
        got.set_epoch(epoch)
        expected.set_epoch(epoch)
        for i in range(len(expected)):
            mine, reference = got[i], expected[i]
            assert torch.equal(mine["image"], reference["image"]), (epoch, i)
            assert ("label" in mine) == ("label" in reference)
            if "label" in reference:
                assert mine["label"].dtype == torch.int64 and torch.equal(mine["label"], reference["label"])
