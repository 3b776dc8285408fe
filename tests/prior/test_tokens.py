import json

import pytest
import torch

from tests.tokenizer.data.tiny_sets import NAMES, write_ade20k, write_hf_saved, write_shards
from vqct.prior.sequence import TokenVocabulary, condition_tokens
from vqct.prior.tokens import (
    MANIFEST,
    NO_CLASS,
    TokenDataset,
    cache_tokens,
    check_cache_tokenizer,
    encode_dataset,
    main,
    shard_path,
)
from vqct.tokenizer.data import DataConfig, build_dataset
from vqct.tokenizer.model import VQCTTokenizer


@pytest.fixture
def tokenizer(tiny_language_codebook, tiny_config):
    config = tiny_config()
    config.autoencoder.resolution = 32
    return VQCTTokenizer.build(config, tiny_language_codebook).eval()


def shapes(n=10):
    return build_dataset(DataConfig(kind="shapes", split="validation", resolution=32, validation_length=n))


def test_cache_holds_the_tokenizers_codes_and_the_label_maps(tokenizer, tmp_path):
    dataset = shapes()
    manifest = encode_dataset(
        tokenizer, dataset, tmp_path, shard_size=4, batch_size=3, device=torch.device("cpu"), meta={"tokenizer": "t"}
    )
    assert (manifest["shards"], manifest["items"], manifest["complete"]) == (3, 10, True)
    cached = TokenDataset(tmp_path)
    images = torch.stack([dataset[i]["image"] for i in range(10)])
    assert torch.equal(cached.codes, tokenizer.encode(images))
    maps = torch.stack([dataset[i]["label"] for i in range(10)])
    # reduced to the token grid, one byte a cell, and read by the prior exactly as the full maps
    assert cached.labels.shape == (10, 16, 16) and cached.labels.dtype == torch.uint8
    vocabulary = TokenVocabulary(num_adjectives=5, num_nouns=5, num_classes=int(maps.max()) + 1)
    assert torch.equal(condition_tokens(vocabulary, cached.labels, 16, 16), condition_tokens(vocabulary, maps, 16, 16))
    assert cached[7]["label"].dtype == torch.int64 and cached[7]["codes"].dtype == torch.int64
    assert cached[7]["codes"].shape == (2, 16, 16) and len(cached) == 10


def test_label_detail_caches_sub_cells_and_a_cache_of_another_detail_is_refused(tokenizer, tmp_path):
    dataset = shapes(4)
    options = dict(shard_size=4, batch_size=4, device=torch.device("cpu"), meta={"tokenizer": "t"})
    encode_dataset(tokenizer, dataset, tmp_path, label_detail=2, **options)
    maps = torch.stack([dataset[i]["label"] for i in range(4)])
    # a 16×16 grid at 32 px: 2×2 sub-cells of one pixel each, the maps themselves
    assert torch.equal(TokenDataset(tmp_path).labels, maps.to(torch.uint8))
    with pytest.raises(ValueError, match="another tokenizer or data set"):
        encode_dataset(tokenizer, dataset, tmp_path, label_detail=1, **options)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    del manifest["label_detail"]  # a cache from before label_detail: token-grid maps
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    encode_dataset(tokenizer, dataset, tmp_path, **options)  # detail 1: accepted as the same cache
    with pytest.raises(ValueError, match="another tokenizer or data set"):
        encode_dataset(tokenizer, dataset, tmp_path, label_detail=2, **options)


def test_a_cell_without_any_classed_pixel_is_cached_as_no_class_and_read_as_null(tokenizer, tmp_path):
    class Ignored(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            label = torch.full((32, 32), 3)
            label[:2, :2] = 255  # the first cell: nothing but an ignore label
            return {"image": torch.zeros(3, 32, 32), "label": label}

    encode_dataset(tokenizer, Ignored(), tmp_path, shard_size=4, batch_size=2, device=torch.device("cpu"), meta={})
    cached = TokenDataset(tmp_path)
    assert cached.labels[0, 0, 0] == NO_CLASS and (cached.labels[0].flatten()[1:] == 3).all()
    vocabulary = TokenVocabulary(num_adjectives=5, num_nouns=5, num_classes=4)
    assert condition_tokens(vocabulary, cached[0]["label"][None], 16, 16)[0, 0] == vocabulary.null


def test_an_interrupted_cache_resumes_with_the_missing_shards_only(tokenizer, tmp_path, monkeypatch):
    dataset = shapes()
    encode_dataset(
        tokenizer, dataset, tmp_path, shard_size=4, batch_size=4, device=torch.device("cpu"), meta={"tokenizer": "t"}
    )
    expected = TokenDataset(tmp_path).codes
    shard_path(tmp_path, 1).unlink()  # as if killed while writing shard 1
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    (tmp_path / MANIFEST).write_text(json.dumps({**manifest, "complete": False}))
    with pytest.raises(FileNotFoundError, match="not a complete token cache"):
        TokenDataset(tmp_path)
    encoded = []
    original = tokenizer.encode
    monkeypatch.setattr(tokenizer, "encode", lambda images: encoded.append(len(images)) or original(images))
    encode_dataset(
        tokenizer, dataset, tmp_path, shard_size=4, batch_size=4, device=torch.device("cpu"), meta={"tokenizer": "t"}
    )
    assert encoded == [4]  # shard 1 only
    assert torch.equal(TokenDataset(tmp_path).codes, expected)
    with pytest.raises(ValueError, match="another tokenizer"):
        encode_dataset(
            tokenizer,
            dataset,
            tmp_path,
            shard_size=4,
            batch_size=4,
            device=torch.device("cpu"),
            meta={"tokenizer": "other"},
        )


def test_command_line(tokenizer, tmp_path, capsys):
    tokenizer.save_pretrained(tmp_path / "tok")
    config = tmp_path / "data.yaml"
    config.write_text("data:\n  kind: shapes\n  resolution: 32\n  length: 6\n  validation_length: 3\n")
    assert (
        main(
            [
                "--tokenizer",
                str(tmp_path / "tok"),
                "--data",
                str(config),
                "--out",
                str(tmp_path / "cache"),
                "--shard-size",
                "4",
            ]
        )
        == 0
    )
    assert (
        len(TokenDataset(tmp_path / "cache" / "train")) == 6
        and len(TokenDataset(tmp_path / "cache" / "validation")) == 3
    )
    assert "train: 6 items in 2 shards" in capsys.readouterr().out


def test_a_missing_tokenizer_is_one_error_line(tmp_path, capsys):
    config = tmp_path / "data.yaml"
    config.write_text("data:\n  kind: shapes\n  resolution: 32\n")
    assert (
        main(["--tokenizer", str(tmp_path / "nothing"), "--data", str(config), "--out", str(tmp_path / "cache")]) == 2
    )
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("kind", ["hf", "webdataset"])
def test_the_new_data_kinds_cache_their_codes_and_label_maps(tokenizer, tmp_path, kind):
    """The token cache reads data.kind=hf and webdataset through build_dataset like any kind: each
    split's codes are the tokenizer's codes of its images, with the label maps beside them."""
    files = write_ade20k(tmp_path / "files")
    if kind == "hf":
        pytest.importorskip("datasets")
        data = DataConfig(kind="hf", root=str(write_hf_saved(files, tmp_path / "hf")), label_column="seg")
    else:
        shards = {"train": "train-*.tar", "validation": "validation-*.tar"}
        root = str(write_shards(files, tmp_path / "shards"))
        data = DataConfig(kind="webdataset", root=root, shards=shards, label_extension="seg.png")
    data.resolution, data.crop, data.flip = 32, "random", True  # the cache turns augmentation off
    manifests = cache_tokens(tokenizer, "t", data, tmp_path / "tokens", device=torch.device("cpu"), batch_size=4)
    assert {split: manifest["items"] for split, manifest in manifests.items()} == {
        "train": len(NAMES["train"]),
        "validation": len(NAMES["validation"]),
    }
    cached, images = TokenDataset(tmp_path / "tokens" / "validation"), build_dataset(data.evaluation_view())
    assert torch.equal(cached.codes, tokenizer.encode(torch.stack([images[i]["image"] for i in range(len(images))])))
    assert cached.labels is not None and cached.labels.shape == (len(NAMES["validation"]), 16, 16)


def test_a_cache_of_a_tokenizer_retrained_in_place_is_refused(tokenizer, tmp_path):
    data = DataConfig(kind="shapes", resolution=32, length=4, validation_length=4)
    cache_tokens(tokenizer, "outputs/tokenizer/final", data, tmp_path, ["validation"], device=torch.device("cpu"))
    check_cache_tokenizer(tmp_path, tokenizer, "outputs/tokenizer/final")  # its own tokenizer: accepted
    with torch.no_grad():
        next(tokenizer.parameters()).add_(1e-3)  # retrained: the same path, other weights
    with pytest.raises(ValueError, match=r"another tokenizer or data set \(tokenizer_identity differ"):
        cache_tokens(tokenizer, "outputs/tokenizer/final", data, tmp_path, ["validation"], device=torch.device("cpu"))
    with pytest.raises(
        ValueError, match=r"tokens=.*: validation was encoded by another tokenizer than outputs/tokenizer/final"
    ):
        check_cache_tokenizer(tmp_path, tokenizer, "outputs/tokenizer/final")
