"""What every data set's items share: augmentation randomness from (seed, index, epoch), and, for
sets of encoded images (files, Arrow rows, tar members), decoding with unreadable ones skipped."""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image, ImageFile
from torch.utils.data import Dataset

from vqct.common.errors import UserValueError

from .config import DataConfig
from .images import Unreadable, transform

logger = logging.getLogger("vqct.tokenizer.data")


class Augmented(Dataset):
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


class DecodedImages(Augmented):
    """Encoded images with optional label maps, decoded on load and transformed alike whatever
    holds them. Subclasses say how item ``index`` is read (``_read``) and what the set is
    (``source``, for the error when nothing can be read); an unreadable item is logged once,
    added to ``skipped`` and the next readable one returned in its place."""

    source: str = "the data set"

    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        self._bad: set[int] = set()
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            logger.warning(
                "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set: truncated images will load "
                "half grey instead of being skipped"
            )

    def _read(self, index: int) -> tuple[Image.Image, np.ndarray | None, str]:
        """(RGB image, label map or None, the item's name) of item ``index``; raises Unreadable."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        index = self._check_index(index)
        rng = self._rng(index)
        for offset in range(len(self)):
            candidate = (index + offset) % len(self)
            if candidate in self._bad:
                continue
            try:
                image, label, name = self._read(candidate)
            except Unreadable as error:
                self._bad.add(candidate)
                if str(error.path) not in self.skipped:
                    self.skipped.add(str(error.path))
                    logger.warning("skipping unreadable file %s", error)
                continue
            pixels, labels = transform(
                image,
                label,
                self.config.resolution,
                self.train and self.config.crop == "random",
                self.train and self.config.flip,
                rng,
            )
            # substituted: this index's own file was unreadable (evaluation leaves such items out)
            item = {"image": pixels, "path": name, "substituted": candidate != index}
            if labels is not None:
                item["label"] = labels
            return item
        raise UserValueError(
            f"none of the {len(self)} images of {self.source} could be read (each is named in a warning above)"
        )
