"""``data.kind=webdataset``: tar shards in the webdataset layout, read map-style.

A shard is an uncompressed tar whose members are grouped into samples by key: the member's path
up to the first dot of its file name (``train/000123.jpg`` and ``train/000123.seg.png`` are sample
``train/000123``, extensions ``jpg`` and ``seg.png``). Each shard's member headers are read once
at start (the stdlib ``tarfile``: headers only, seeking over the data) into an in-memory index of
offsets; an item is then one seek and read. So the set is map-style like a folder: the seedable
sampler orders it and a resumed epoch skips what was seen, in every process alike, which a
webdataset pipeline (an iterable, shuffled in buffers) cannot do. Nothing is written anywhere.

URLs (``http://``, ``s3://``, ``pipe:``) are refused: random access needs a seekable file, so
shards must be local or on a mounted file system.
"""

from __future__ import annotations

import glob
import logging
import re
import tarfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from vqct.common.config import ConfigError
from vqct.common.errors import UserFileNotFoundError, UserValueError

from .config import SPLIT_KEYS, DataConfig
from .folders import in_split
from .images import Unreadable, label_array, read_image, to_rgb
from .items import DecodedImages

logger = logging.getLogger("vqct.tokenizer.data")

REMOTE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+://|pipe:)")
BRACES = re.compile(r"\{([^{}]*)\}")
RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


def expand_braces(pattern: str) -> list[str]:
    """Brace expansion as the shell does it: ``{000..002}`` (zero-padded when either end is) and
    ``{a,b}``; braces holding neither stay as they are."""
    for match in BRACES.finditer(pattern):
        body = match.group(1)
        numbers = RANGE.match(body)
        if numbers:
            first, last = numbers.groups()
            padded = any(len(end.lstrip("-")) > 1 and end.lstrip("-").startswith("0") for end in (first, last))
            width = max(len(first), len(last)) if padded else 0
            step = 1 if int(last) >= int(first) else -1
            choices = [str(n).zfill(width) for n in range(int(first), int(last) + step, step)]
        elif "," in body:
            choices = body.split(",")
        else:
            continue
        head, tail = pattern[: match.start()], pattern[match.end() :]
        return [expanded for choice in choices for expanded in expand_braces(head + choice + tail)]
    return [pattern]


def shard_paths(pattern: str, root: str | None, split: str) -> list[Path]:
    """The shards ``pattern`` names (braces expanded, then globs matched, sorted), relative to
    ``root`` when given; each once, in that order."""
    key = f"data.shards.{split}={pattern!r}"
    if REMOTE.match(pattern):
        raise ConfigError(
            f"{key}: local or mounted paths only (reading a sample seeks inside its tar); "
            "download the shards or mount their bucket"
        )
    base = Path(root).expanduser() if root else Path()
    found: list[Path] = []
    for expanded in expand_braces(pattern):
        path = base / Path(expanded).expanduser()
        if glob.has_magic(str(path)):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
            if not matches:
                raise UserFileNotFoundError(f"{key}: nothing matches {path}")
            found += matches
        elif path.is_file():
            found.append(path)
        else:
            raise UserFileNotFoundError(f"{key}: no such shard: {path}")
    return list(dict.fromkeys(found))


def index_shard(path: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """Sample key → {extension (lower case): (offset, size) of the member's data} of one shard."""
    samples: dict[str, dict[str, tuple[int, int]]] = {}
    try:
        with tarfile.open(path, "r:") as tar:  # "r:": uncompressed only; a compressed tar cannot be seeked
            for member in tar:
                directory, _, file_name = member.name.rpartition("/")
                stem, dot, extension = file_name.partition(".")
                if not member.isfile() or not dot or not stem:  # folders, links, hidden and extension-less files
                    continue
                key = f"{directory}/{stem}" if directory else stem
                samples.setdefault(key, {})[extension.lower()] = (member.offset_data, member.size)
    except (tarfile.TarError, OSError) as error:
        raise UserValueError(
            f"data.kind=webdataset: cannot index {path} ({type(error).__name__}: {error}); shards must be "
            "uncompressed tar files"
        ) from None
    return samples


class TarShards(DecodedImages):
    """The samples of one split's shards: an image member each and optionally a label member."""

    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        unknown = set(config.shards) - set(SPLIT_KEYS)
        if unknown:
            raise ConfigError(f"unknown key data.shards.{sorted(unknown)[0]}; valid: {', '.join(SPLIT_KEYS)}")
        if config.split not in SPLIT_KEYS:
            raise ConfigError(f"data.split={config.split!r}: data.kind=webdataset reads {' or '.join(SPLIT_KEYS)}")
        if not config.shards.get("train"):
            raise ConfigError(
                "data.kind=webdataset needs data.shards.train, a shard pattern such as "
                "'shards/train-{000000..000009}.tar' (and data.shards.validation, or a 2% hold-out of train)"
            )
        image_extensions = [e.lower().lstrip(".") for e in config.image_extensions]
        label_extension = config.label_extension.lower().lstrip(".") if config.label_extension else None
        if label_extension in image_extensions:  # e.g. jpg images with png maps: png is never the image
            image_extensions.remove(label_extension)
        if not image_extensions:
            raise ConfigError(f"data.image_extensions={config.image_extensions} leaves no image extension")
        held_out = not config.shards.get("validation")  # train and validation both cut from train's shards
        split = "train" if held_out else config.split
        self.shards = shard_paths(config.shards[split], config.root, split)
        started = time.perf_counter()
        names, members, seen_extensions, without_image = [], [], set(), 0
        progress = tqdm(self.shards, desc="indexing shards", unit="shard", disable=len(self.shards) < 8, leave=False)
        for shard_number, shard in enumerate(progress):
            for key, sample in index_shard(shard).items():
                seen_extensions |= sample.keys()
                image = next((sample[e] for e in image_extensions if e in sample), None)
                if image is None:
                    without_image += 1
                    continue
                label = (0, 0)
                if label_extension is not None:
                    if label_extension not in sample:
                        raise UserValueError(
                            f"data.label_extension={label_extension!r}: sample {key!r} of {shard} has none "
                            f"(its members: {', '.join(sorted(sample))})"
                        )
                    label = sample[label_extension]
                names.append(f"{shard.name}/{key}")
                members.append((shard_number, *image, *label))
        where = f"the shards data.shards.{split}={config.shards[split]!r}"
        if not members:
            raise UserValueError(
                f"no samples with an image ({', '.join(image_extensions)}: data.image_extensions) in {where}; "
                f"extensions found: {', '.join(sorted(seen_extensions)) or 'none'}"
            )
        # one row a sample: shard number, image offset and size, label offset and size
        members = np.asarray(members, dtype=np.int64)
        if held_out:
            keep = in_split(names, config.split)
            members = members[np.asarray(keep, dtype=bool)]
            names = [name for name, kept in zip(names, keep) if kept]
        self.members, self.keys, self.has_label = members, names, label_extension is not None
        self.source = where
        logger.info(
            "webdataset %s: %d samples from %d shards%s, indexed in %.1f s%s",
            config.split,
            len(members),
            len(self.shards),
            (" (a 2% hold-out of train)" if config.split == "validation" else " (less a 2% validation hold-out)")
            if held_out
            else "",
            time.perf_counter() - started,
            f"; {without_image} samples without an image left out" if without_image else "",
        )

    def __len__(self) -> int:
        return len(self.members)

    def _member(self, shard: Path, offset: int, size: int, name: str) -> bytes:
        try:
            with open(shard, "rb") as file:  # opened per read: nothing to carry into forked workers
                file.seek(offset)
                data = file.read(size)
        except OSError as error:
            raise Unreadable(name, error) from error
        if len(data) != size:
            raise Unreadable(name, EOFError(f"{shard} ends inside this member"))
        return data

    def _read(self, index: int) -> tuple[Image.Image, np.ndarray | None, str]:
        shard_number, image_offset, image_size, label_offset, label_size = (int(v) for v in self.members[index])
        shard = self.shards[shard_number]
        name = f"{shard.parent / self.keys[index]}"
        image = read_image(name, to_rgb, data=self._member(shard, image_offset, image_size, name))
        label = None
        if self.has_label:
            label_name = f"{name} ({self.config.label_extension})"
            label = read_image(label_name, label_array, data=self._member(shard, label_offset, label_size, label_name))
        return image, label, name
