"""What a data set is: its kind, folder, split, resolution and augmentation."""

from __future__ import annotations

from dataclasses import dataclass, replace

KINDS = ("shapes", "photos", "folder", "celebahq", "cub", "coco", "ade20k")
SPLITS = ("train", "validation", "all")


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

    def evaluation_view(self, split: str = "validation") -> DataConfig:
        """The same data set's ``split`` as evaluation reads it: centre crop, no flip."""
        return replace(self, split=split, crop="center", flip=False)
