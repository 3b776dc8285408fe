"""``data.kind=hf``: a Hugging Face ``datasets`` data set, read map-style.

``data.root`` is a folder written by ``save_to_disk`` (read with ``load_from_disk``), any other
folder or a Hub id (read with ``load_dataset``: an imagefolder, parquet files…; it prepares Arrow
files in the library's cache, ``HF_DATASETS_CACHE``, once). Either way the rows are Arrow tables
memory-mapped from disk, so a set larger than memory needs no streaming: streaming
(``IterableDataset``) has no index, and training needs one for the seedable sampler's order and
for resuming mid-epoch in every process alike.

Images are read undecoded (``datasets.Image(decode=False)``: the encoded bytes, or the file they
point to) and decoded like every file of the other kinds (``images.read_image``), so the pixels
are those a folder of the same files gives.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from vqct.common.config import ConfigError
from vqct.common.errors import UserValueError

from .config import SPLIT_KEYS, DataConfig
from .folders import in_split
from .images import Unreadable, label_array, read_image, to_rgb
from .items import DecodedImages

logger = logging.getLogger("vqct.tokenizer.data")

# Files that save_to_disk writes at the top of its folder: a DatasetDict's, or a lone Dataset's.
SAVED_MARKERS = ("dataset_dict.json", "state.json")


def _datasets():
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            "data.kind=hf needs the datasets package: pip install 'vqct[data]' (or pip install datasets)"
        ) from None
    return datasets


def _load(root: str) -> dict:
    """Split name → ``datasets.Dataset`` of the set at ``root``; a lone saved Dataset is ``{None: it}``."""
    datasets = _datasets()
    folder = Path(root).expanduser()
    saved = folder.is_dir() and any((folder / marker).is_file() for marker in SAVED_MARKERS)
    try:
        loaded = (
            datasets.load_from_disk(str(folder))
            if saved
            else datasets.load_dataset(str(folder) if folder.is_dir() else root)
        )
    except (OSError, ValueError) as error:  # not found (locally or on the Hub), no network, no data files
        raise UserValueError(f"data.kind=hf: cannot load data.root={root!r}: {type(error).__name__}: {error}") from None
    if isinstance(loaded, datasets.Dataset):
        return {None: loaded}
    return dict(loaded)


def _split_name(config: DataConfig) -> tuple[str, bool]:
    """(the set's split that ``config.split`` reads, whether that split is cut into train and a
    validation hold-out: data.hf_splits.validation null)."""
    unknown = set(config.hf_splits) - set(SPLIT_KEYS)
    if unknown:
        raise ConfigError(f"unknown key data.hf_splits.{sorted(unknown)[0]}; valid: {', '.join(SPLIT_KEYS)}")
    train = config.hf_splits.get("train")
    if not train:
        raise ConfigError("data.hf_splits.train must name the set's training split")
    validation = config.hf_splits.get("validation")
    return (validation, False) if config.split == "validation" and validation else (train, not validation)


def _check_image_column(dataset, key: str, name: str, where: str) -> None:
    """``dataset``'s column ``name`` (data.``key``) exists and holds images."""
    if name not in dataset.column_names:
        raise UserValueError(
            f"data.{key}={name!r} is not a column of {where}; its columns: {', '.join(dataset.column_names)}"
        )
    feature = dataset.features[name]
    if not isinstance(feature, _datasets().Image):
        raise UserValueError(f"data.{key}={name!r} of {where} holds {feature}, not images (a datasets.Image column)")


class HFImages(DecodedImages):
    """Rows of one split of a ``datasets`` set: an image column and an optional label column."""

    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        if config.root is None:
            raise ConfigError(
                "data.root must be set for data.kind='hf': a Hub id, a load_dataset folder or a save_to_disk folder"
            )
        if config.split not in SPLIT_KEYS:
            raise ConfigError(f"data.split={config.split!r}: data.kind=hf reads {' or '.join(SPLIT_KEYS)}")
        name, held_out = _split_name(config)
        splits = _load(config.root)
        if None in splits:  # a lone Dataset: its only split, whatever it was called
            if config.split == "validation" and not held_out:
                raise UserValueError(
                    f"data.root={config.root!r} is one saved Dataset, without splits: set "
                    "data.hf_splits.validation=null to validate on a fixed 2% of it"
                )
            dataset, name = splits[None], "train"
        elif name not in splits:
            key = "train" if held_out or config.split == "train" else "validation"
            hint = " (or data.hf_splits.validation=null: a fixed 2% of train)" if key == "validation" else ""
            raise UserValueError(
                f"data.hf_splits.{key}={name!r}: {config.root} has no split {name!r}; its splits: "
                f"{', '.join(map(str, splits))}{hint}"
            )
        else:
            dataset = splits[name]
        where = f"{config.root} split {name!r}"
        columns = {"image_column": config.image_column, "label_column": config.label_column}
        columns = {key: column for key, column in columns.items() if column is not None}
        for key, column in columns.items():
            _check_image_column(dataset, key, column, where)
        dataset = dataset.select_columns(list(columns.values()))
        for column in columns.values():  # the encoded bytes, decoded as every kind's files are
            dataset = dataset.cast_column(column, _datasets().Image(decode=False))
        self.rows = dataset
        self.split_name = name
        count = len(dataset)
        if held_out:  # a row's index in the split is its stable name
            keep = in_split([str(i) for i in range(count)], config.split)
            self.indices = np.flatnonzero(keep)
        else:
            self.indices = np.arange(count)
        self.source = where
        logger.info(
            "hf %s: %d rows of %s%s",
            config.split,
            len(self.indices),
            where,
            (" (a 2% hold-out)" if config.split == "validation" else " (less a 2% validation hold-out)")
            if held_out
            else "",
        )

    def __len__(self) -> int:
        return len(self.indices)

    def _decode(self, value: dict | None, name: str, convert):
        if value is None or (value.get("bytes") is None and not value.get("path")):
            raise Unreadable(name, ValueError("no image in this row"))
        data = value.get("bytes")  # None: the row points to an image file
        return read_image(name if data is not None else value["path"], convert, data=data)

    def _read(self, index: int) -> tuple[Image.Image, np.ndarray | None, str]:
        row_index = int(self.indices[index])
        row = self.rows[row_index]
        name = f"{self.config.root}/{self.split_name}/{row_index}"
        image = self._decode(row[self.config.image_column], name, to_rgb)
        label = None
        if self.config.label_column is not None:
            label = self._decode(row[self.config.label_column], f"{name} ({self.config.label_column})", label_array)
        return image, label, name
