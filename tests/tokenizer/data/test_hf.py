"""data.kind=hf: a ``datasets`` set reads as the same files in a folder do, map-style."""

import sys

import pytest
import torch

from tests.tokenizer.data.tiny_sets import (
    AUGMENTED,
    NAMES,
    assert_same_items,
    hf_splits,
    tree,
    write_ade20k,
    write_hf_saved,
)
from vqct.common.config import ConfigError
from vqct.common.errors import UserValueError
from vqct.tokenizer.data import DataConfig, build_dataset

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_ade20k(tmp_path_factory.mktemp("ade20k"))


@pytest.fixture(scope="module")
def saved(files, tmp_path_factory):
    return write_hf_saved(files, tmp_path_factory.mktemp("hf") / "saved")


def _hf(root, **overrides):
    return build_dataset(DataConfig(kind="hf", root=str(root), **overrides))


@pytest.mark.parametrize("split", ["train", "validation"])
def test_items_equal_the_same_files_read_as_ade20k_images_and_labels(files, saved, split):
    reference = build_dataset(DataConfig(kind="ade20k", root=str(files), split=split, **AUGMENTED))
    got = _hf(saved, split=split, label_column="seg", **AUGMENTED)
    assert_same_items(got, reference)
    item = got[0]
    assert item["image"].shape == (3, 32, 32) and item["label"].shape == (32, 32)
    assert item["path"] == f"{saved}/{split}/0" and item["substituted"] is False
    if split == "train":  # the augmentation does something: a random crop of a 40-wide image, flips
        got.set_epoch(0)
        first = [got[i]["image"] for i in range(len(got))]
        got.set_epoch(1)
        assert any(not torch.equal(a, got[i]["image"]) for i, a in enumerate(first))


def test_without_a_label_column_items_equal_a_folder_of_the_files(files, saved):
    reference = build_dataset(DataConfig(kind="folder", root=str(files), **AUGMENTED))  # root/train.txt
    got = _hf(saved, **AUGMENTED)
    assert_same_items(got, reference)
    assert "label" not in got[0]


def test_a_load_dataset_folder_reads_the_same(files, tmp_path, monkeypatch):
    """Parquet files named by split, read with datasets.load_dataset (its Arrow cache under tmp)."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "parquet"
    folder.mkdir()
    for split, dataset in hf_splits(files).items():
        dataset.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
    reference = build_dataset(DataConfig(kind="ade20k", root=str(files), split="validation", **AUGMENTED))
    assert_same_items(_hf(folder, split="validation", label_column="seg", **AUGMENTED), reference, epochs=(0,))


def test_reading_writes_nothing_beside_the_set(saved):
    before = tree(saved)
    dataset = _hf(saved, label_column="seg")
    [dataset[i] for i in range(len(dataset))]
    assert tree(saved) == before


def test_validation_null_holds_out_a_fixed_part_of_train(saved):
    config = dict(hf_splits={"train": "train", "validation": None}, resolution=32)
    train, validation = _hf(saved, **config), _hf(saved, split="validation", **config)
    assert (len(train), len(validation)) == (len(NAMES["train"]) - 1, 1)
    names = {train[i]["path"] for i in range(len(train))}, {validation[0]["path"]}
    assert not names[0] & names[1] and len(names[0] | names[1]) == len(NAMES["train"])
    assert all(name.startswith(f"{saved}/train/") for name in names[0] | names[1])


def test_a_lone_saved_dataset_is_its_train_split(files, tmp_path):
    lone = tmp_path / "lone"
    hf_splits(files)["train"].save_to_disk(str(lone))
    assert len(_hf(lone, resolution=32)) == len(NAMES["train"])
    with pytest.raises(UserValueError, match="hf_splits.validation=null"):
        _hf(lone, split="validation", resolution=32)
    assert len(_hf(lone, split="validation", resolution=32, hf_splits={"train": "x", "validation": None})) == 1


def test_the_split_mapping_names_the_sets_splits(saved):
    renamed = {"train": "validation", "validation": "train"}  # any split can play either part
    assert len(_hf(saved, hf_splits=renamed, resolution=32)) == len(NAMES["validation"])
    with pytest.raises(UserValueError) as error:
        _hf(saved, split="validation", hf_splits={"train": "train", "validation": "test"})
    message = str(error.value)
    assert "data.hf_splits.validation='test'" in message and "its splits: train, validation" in message
    assert "hf_splits.validation=null" in message
    with pytest.raises(ConfigError, match="data.hf_splits.tset"):
        _hf(saved, hf_splits={"train": "train", "tset": "x"})


def test_errors_name_the_column_and_list_the_columns(saved):
    with pytest.raises(UserValueError) as error:
        _hf(saved, image_column="picture")
    assert "data.image_column='picture'" in str(error.value) and "its columns: image, seg" in str(error.value)
    with pytest.raises(UserValueError, match="data.label_column='mask'.*its columns: image, seg"):
        _hf(saved, label_column="mask")


def test_a_column_that_holds_no_images_is_named(tmp_path):
    root = tmp_path / "numbers"
    datasets.Dataset.from_dict({"image": [1, 2]}).save_to_disk(str(root))
    with pytest.raises(UserValueError, match="data.image_column='image'.*not images"):
        _hf(root)


def test_missing_root_set_and_package_are_user_errors(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="data.root"):
        build_dataset(DataConfig(kind="hf"))
    with pytest.raises(UserValueError, match="cannot load data.root="):
        _hf(tmp_path / "nowhere")
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"data.kind=hf needs the datasets package: pip install 'vqct\[data\]'"):
        _hf(tmp_path)


def test_an_unreadable_row_is_skipped_by_name(files, tmp_path):
    splits = hf_splits(files)
    rows = splits["train"].to_dict()
    rows["image"][1] = {"bytes": b"not a png", "path": None}
    root = tmp_path / "broken"
    datasets.Dataset.from_dict(rows, features=splits["train"].features).save_to_disk(str(root))
    dataset = _hf(root, resolution=32)
    assert dataset[1]["substituted"] and dataset[1]["path"] == f"{root}/train/2"
    assert dataset.skipped == {f"{root}/train/1"}
