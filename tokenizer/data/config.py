"""What a data set is: its kind, where it is, split, resolution and augmentation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from vqct.common.config import chosen, ranged

KINDS = ("shapes", "photos", "folder", "celebahq", "cub", "coco", "ade20k", "hf", "webdataset")
SPLITS = ("train", "validation", "all")
# The splits that data.hf_splits and data.shards name (split=all is for folders only).
SPLIT_KEYS = ("train", "validation")
WEBDATASET_IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp"]


@dataclass
class DataConfig:
    # shapes | photos (scikit-image's photographs) | folder | celebahq | cub | coco | ade20k
    # | hf (a Hugging Face `datasets` set) | webdataset (tar shards)
    kind: str = chosen("shapes", KINDS)
    # data set folder; required for every kind but shapes and photos (optional there). hf: a Hub id,
    # a folder `datasets.load_dataset` reads (imagefolder, parquet…) or a `save_to_disk` folder;
    # webdataset (optional): the folder that relative shard patterns start from
    root: str | None = None
    split: str = chosen("train", SPLITS)  # train | validation | all (folder only: every image, for evaluation)
    resolution: int = ranged(64, 1)
    crop: str = chosen("center", ("center", "random"))  # random applies to train only
    flip: bool = False  # random horizontal flip, train only
    length: int = ranged(10000, 0)  # shapes and photos only: train samples
    validation_length: int = ranged(256, 0)  # shapes and photos only
    seed: int = ranged(0, 0)
    # hf: the set's split that data.split train / validation reads; validation null: a fixed 2%
    # hold-out of the train split (what a set with one split needs)
    hf_splits: dict[str, str | None] = field(default_factory=lambda: {"train": "train", "validation": "validation"})
    image_column: str = "image"  # hf: the column of images
    label_column: str | None = None  # hf: a column of semantic maps (images of class ids); null: no labels
    # webdataset: one shard pattern per split, {train: ..., validation: ...}: brace ranges and lists
    # (train-{000000..000009}.tar) and globs (*.tar); local or mounted paths; no validation: a
    # fixed 2% hold-out of the train shards' samples
    shards: dict[str, str] = field(default_factory=dict)
    # webdataset: a sample's image is its member with the first of these extensions it has
    image_extensions: list[str] = field(default_factory=lambda: list(WEBDATASET_IMAGE_EXTENSIONS))
    label_extension: str | None = None  # webdataset: the extension of its semantic map (e.g. seg.png); null: none

    def evaluation_view(self, split: str = "validation") -> DataConfig:
        """The same data set's ``split`` as evaluation reads it: centre crop, no flip."""
        return replace(self, split=split, crop="center", flip=False)
