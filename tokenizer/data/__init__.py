"""Image data sets for both stages: the built-in shapes and photos sets, user-supplied folders,
Hugging Face ``datasets`` sets and webdataset tar shards.

``build_dataset(DataConfig)`` returns a map-style Dataset of dicts: ``"image"`` float32 [3, R, R] in
[-1, 1]; ``"label"`` int64 [R, R] for sets with semantic maps (shapes, celebahq, ade20k; hf with
``label_column``, webdataset with ``label_extension``); ``"path"`` for file-based sets (for hf
``<root>/<split>/<row>``, for webdataset ``<shard>/<key>``) and the photograph's name for photos;
``"caption"`` for shapes. Layouts under ``data.root``:

- ``shapes``: no files. Train is ``ShapesDataset(seed=seed, length=length)``; validation uses seed
  ``seed + 1_000_003`` and ``validation_length`` items, so it does not depend on ``length``.
- ``photos``: no files of your own: random-scale square patches of the colour photographs shipped
  inside scikit-image (``pip install scikit-image``; ``tokenizer/data/photos.py``), train and validation
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
- ``hf`` (``tokenizer/data/hf.py``, ``pip install 'vqct[data]'``): ``data.root`` is a Hub id, a
  folder ``datasets.load_dataset`` reads (an imagefolder, parquet files…; prepared once into
  ``HF_DATASETS_CACHE``) or a ``save_to_disk`` folder (``load_from_disk``). ``data.hf_splits``
  maps train / validation to the set's split names (default the same names; a set with only
  ``train`` and ``test`` wants ``data.hf_splits.validation=test``); ``data.hf_splits.validation:
  null`` validates on a fixed 2% hold-out of the train split (the rule above, over row numbers),
  and train is the rest: the way to use a set with one split, or a lone saved ``Dataset``. Images
  come from ``data.image_column`` (default ``image``), label maps from ``data.label_column`` (an
  image column of class ids), both ``datasets.Image`` columns read undecoded and decoded as files
  are. No streaming: Arrow files are memory-mapped from disk, so sets larger than memory work
  without it, and an iterable set has no index for the sampler's order and a resume mid-epoch.
  A set larger than the disk: write it as webdataset shards on a mounted file system.
- ``webdataset`` (``tokenizer/data/shards.py``): uncompressed tar shards, members grouped into
  samples by key (the member path up to the first dot of its name: ``000123.jpg`` and
  ``000123.seg.png`` are sample ``000123``). ``data.shards.train`` / ``data.shards.validation``: a
  pattern each, brace ranges and lists (``train-{000000..000099}.tar``) then globs, relative to
  ``data.root`` when it is set; without ``data.shards.validation``, validation is a fixed 2%
  hold-out of the train samples (by shard name and key). The image is the member with the first of
  ``data.image_extensions`` (jpg, jpeg, png, webp) the sample has; with ``data.label_extension``
  (e.g. ``seg.png``) every sample must have that member, its label map. Other members (``.cls``,
  ``.txt``, ``.json``) are ignored, and so are samples without an image (counted in the log). The
  shards' headers are indexed in memory at start (one log line with the counts); an item is one
  seek and read, so the set is map-style like a folder. Local or mounted paths only: URLs
  (``http://``, ``s3://``, ``pipe:``) are refused, since random access needs a seekable file.

Transforms: shorter side resized to R (bicubic, antialiased; labels nearest neighbour to the same
size, whatever their own size), then a centre or random R x R crop and optional horizontal flip,
same box and flip for image and label. Random crop and flip apply to train only, so validation
metrics stay comparable. Their randomness comes from ``default_rng([seed, index, epoch])``, not the
global RNG: an item is a pure function of (config, index, epoch), the same in any worker and after
a resume. Call ``dataset.set_epoch(e)`` to vary augmentations per epoch (reaches workers only when
they are re-created each epoch, i.e. not ``persistent_workers=True``); otherwise epochs repeat.

Decoding: files (and hf rows' image bytes, webdataset members) are fully decoded on load in Pillow's
default strict mode, so truncated files raise and are skipped like corrupt ones. We never set
``ImageFile.LOAD_TRUNCATED_IMAGES`` (if other code does, truncated images load half grey; a warning
says so). An unreadable file is logged once, added to ``dataset.skipped`` (per process; by its
``"path"`` name), and index+1, +2, ... is returned instead. Grey, palette,
CMYK, 16-bit (scaled by 1/257, not clipped) and alpha images (composited on white) become RGB.
EXIF orientation is not applied, so pixels stay aligned with label maps.
"""

from .config import KINDS, SPLITS, DataConfig
from .datasets import ImageFiles, build_dataset, collate, label_names
from .folders import CELEBAHQ_PARTS
from .images import DECODE_ERRORS, load_image, to_pil_images

__all__ = [
    "DECODE_ERRORS",
    "CELEBAHQ_PARTS",
    "KINDS",
    "SPLITS",
    "DataConfig",
    "ImageFiles",
    "build_dataset",
    "collate",
    "label_names",
    "load_image",
    "to_pil_images",
]
