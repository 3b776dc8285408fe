"""data.kind=webdataset: tar shards read map-style, as the same files in a folder are."""

import gzip
import shutil
import tarfile

import pytest
import torch

from tests.tokenizer.data.tiny_sets import AUGMENTED, NAMES, assert_same_items, tree, write_ade20k, write_shards
from vqct.common.config import ConfigError
from vqct.common.errors import UserFileNotFoundError, UserValueError
from vqct.tokenizer.data import DataConfig, build_dataset
from vqct.tokenizer.data.shards import expand_braces

SHARDS = {"train": "train-{000000..000001}.tar", "validation": "validation-*.tar"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_ade20k(tmp_path_factory.mktemp("ade20k"))


@pytest.fixture(scope="module")
def shards(files, tmp_path_factory):
    return write_shards(files, tmp_path_factory.mktemp("shards"))


def _shards(root, **overrides):
    return build_dataset(DataConfig(kind="webdataset", root=str(root), **{"shards": SHARDS, **overrides}))


@pytest.mark.parametrize("split", ["train", "validation"])
def test_items_equal_the_same_files_read_as_ade20k_images_and_labels(files, shards, split):
    reference = build_dataset(DataConfig(kind="ade20k", root=str(files), split=split, **AUGMENTED))
    got = _shards(shards, split=split, label_extension="seg.png", **AUGMENTED)
    assert_same_items(got, reference)
    first = NAMES[split][0]
    assert got[0]["path"] == f"{shards}/{split}-000000.tar/{first}" and got[0]["label"].shape == (32, 32)


def test_without_a_label_extension_items_equal_a_folder_of_the_files(files, shards):
    reference = build_dataset(DataConfig(kind="folder", root=str(files), **AUGMENTED))  # root/train.txt
    got = _shards(shards, **AUGMENTED)
    assert_same_items(got, reference)
    assert "label" not in got[0]


def test_reading_writes_nothing_beside_the_shards(shards):
    before = tree(shards)
    dataset = _shards(shards, label_extension="seg.png")
    [dataset[i] for i in range(len(dataset))]
    assert tree(shards) == before


def test_patterns_expand_braces_then_globs(shards, tmp_path):
    assert expand_braces("a-{000..002}.tar") == ["a-000.tar", "a-001.tar", "a-002.tar"]
    assert expand_braces("{a,b}-{8..10}") == ["a-8", "a-9", "a-10", "b-8", "b-9", "b-10"]
    assert expand_braces("x-{y}.tar") == ["x-{y}.tar"]
    absolute = {"train": str(shards / "train-*.tar"), "validation": str(shards / "validation-{000000,000000}.tar")}
    assert len(build_dataset(DataConfig(kind="webdataset", shards=absolute, resolution=32))) == len(NAMES["train"])
    validation = build_dataset(DataConfig(kind="webdataset", shards=absolute, split="validation", resolution=32))
    assert len(validation) == len(NAMES["validation"]) and len(validation.shards) == 1  # named twice, read once


def test_no_validation_shards_hold_out_a_fixed_part_of_train(shards):
    config = dict(shards={"train": SHARDS["train"]}, resolution=32)
    train, validation = _shards(shards, **config), _shards(shards, split="validation", **config)
    assert (len(train), len(validation)) == (len(NAMES["train"]) - 1, 1)
    names = {train[i]["path"] for i in range(len(train))}, {validation[0]["path"]}
    assert not names[0] & names[1] and len(names[0] | names[1]) == len(NAMES["train"])


def test_urls_and_missing_shards_are_named(shards):
    with pytest.raises(ConfigError, match="local or mounted paths only"):
        _shards(shards, shards={"train": "https://example.com/train-{0..9}.tar"})
    with pytest.raises(ConfigError, match="local or mounted paths only"):
        _shards(shards, shards={"train": "s3://bucket/train.tar"})
    with pytest.raises(UserFileNotFoundError, match=r"data.shards.train='train-000009.tar': no such shard"):
        _shards(shards, shards={"train": "train-000009.tar"})
    with pytest.raises(UserFileNotFoundError, match="nothing matches"):
        _shards(shards, shards={"train": "test-*.tar"})
    with pytest.raises(ConfigError, match="needs data.shards.train"):
        _shards(shards, shards={})
    with pytest.raises(ConfigError, match="data.shards.tarin"):
        _shards(shards, shards={"tarin": "train-*.tar"})


def test_a_compressed_shard_and_a_missing_label_are_named(shards, tmp_path):
    with open(shards / "train-000000.tar", "rb") as source, gzip.open(tmp_path / "train.tar.gz", "wb") as packed:
        shutil.copyfileobj(source, packed)
    with pytest.raises(UserValueError, match="uncompressed tar"):
        _shards(tmp_path, shards={"train": "train.tar.gz"})
    with pytest.raises(UserValueError, match=r"data.label_extension='mask.png': sample '000000'.*cls, png, seg.png"):
        _shards(shards, label_extension="mask.png")
    with pytest.raises(UserValueError, match="extensions found: cls, png, seg.png"):
        _shards(shards, image_extensions=["jpg"])


def test_an_unreadable_member_is_skipped_by_name(files, tmp_path):
    shards = write_shards(files, tmp_path / "shards")
    with tarfile.open(shards / "train-000000.tar") as tar:
        start = tar.getmember(f"{NAMES['train'][1]}.png").offset_data  # the second sample's image
    data = bytearray((shards / "train-000000.tar").read_bytes())
    data[start : start + 64] = bytes(64)
    (shards / "train-000000.tar").write_bytes(bytes(data))
    dataset = _shards(shards, resolution=32)
    assert dataset[1]["substituted"] and dataset.skipped == {f"{shards}/train-000000.tar/{NAMES['train'][1]}"}
    assert torch.equal(dataset[1]["image"], dataset[2]["image"])
