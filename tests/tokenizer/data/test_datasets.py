import io
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from torch.utils.data import DataLoader

from vqct.common.errors import UserValueError
from vqct.tokenizer.data import CELEBAHQ_PARTS, KINDS, DataConfig, build_dataset, collate


def _build(**overrides):
    return build_dataset(DataConfig(**overrides))


def _save(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def _solid(colour, size=(40, 32), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def _noise_jpeg_bytes(size=64) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _check_image(image: torch.Tensor, resolution: int) -> None:
    assert image.dtype == torch.float32
    assert image.shape == (3, resolution, resolution)
    assert image.min() >= -1.0 and image.max() <= 1.0


# ---------------------------------------------------------------- shapes


def test_shapes_splits_deterministic_and_disjoint():
    train = _build(kind="shapes", resolution=32, length=12, validation_length=5, seed=4)
    again = _build(kind="shapes", resolution=32, length=12, validation_length=5, seed=4)
    validation = _build(kind="shapes", split="validation", resolution=32, length=12, validation_length=5, seed=4)
    longer = _build(kind="shapes", split="validation", resolution=32, length=99, validation_length=5, seed=4)
    assert (len(train), len(validation)) == (12, 5)
    for i in range(len(train)):
        assert torch.equal(train[i]["image"], again[i]["image"])
    for i in range(len(validation)):
        # The validation split must not depend on the train length.
        assert torch.equal(validation[i]["image"], longer[i]["image"])
        assert not any(torch.equal(validation[i]["image"], train[j]["image"]) for j in range(len(train)))
    item = train[0]
    _check_image(item["image"], 32)
    assert item["label"].shape == (32, 32) and item["label"].dtype == torch.int64
    assert isinstance(item["caption"], str)
    assert _build(kind="shapes", resolution=48, length=2)[1]["image"].shape == (3, 48, 48)


def test_shapes_flip_moves_image_and_label_together():
    plain = _build(kind="shapes", resolution=32, length=16)
    flipped = _build(kind="shapes", resolution=32, length=16, flip=True)
    seen = set()
    for i in range(16):
        a, b = plain[i], flipped[i]
        if torch.equal(a["image"], b["image"]):
            assert torch.equal(a["label"], b["label"])
            seen.add("same")
        else:
            assert torch.equal(a["image"].flip(-1), b["image"])
            assert torch.equal(a["label"].flip(-1), b["label"])
            seen.add("flipped")
    assert seen == {"same", "flipped"}
    validation = _build(kind="shapes", split="validation", resolution=32, validation_length=8, flip=True)
    reference = _build(kind="shapes", split="validation", resolution=32, validation_length=8)
    assert all(torch.equal(validation[i]["image"], reference[i]["image"]) for i in range(8))


# ---------------------------------------------------------------- folder: modes, bad files


@pytest.fixture
def mixed_folder(tmp_path):
    root = tmp_path / "imgs"
    files = {
        "rgb": _save(root / "a_rgb.png", _solid((255, 0, 0))),
        "grey": _save(root / "sub" / "grey.png", _solid(200, mode="L")),
        "cmyk": _save(root / "sub" / "deeper" / "cmyk.jpg", _solid((255, 0, 0, 0), mode="CMYK"), quality=100),
        "rgba": _save(root / "sub" / "rgba.png", _solid((255, 0, 0, 0), mode="RGBA")),
        "la": _save(root / "la.png", _solid((0, 0), mode="LA")),
        "white16": _save(root / "w16.png", Image.fromarray(np.full((32, 40), 65535, np.uint16))),
        "grey16": _save(root / "g16.png", Image.fromarray(np.full((32, 40), 32768, np.uint16))),
        "bmp": _save(root / "x.BMP", _solid((0, 0, 255))),
    }
    palette = Image.new("P", (40, 32), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    files["palette"] = _save(root / "sub" / "palette.png", palette)
    files["corrupt"] = root / "sub" / "corrupt.jpg"
    files["corrupt"].write_bytes(np.random.default_rng(1).bytes(2000))
    files["truncated"] = root / "truncated.jpg"
    jpeg = _noise_jpeg_bytes()
    files["truncated"].write_bytes(jpeg[: len(jpeg) // 2])
    (root / "notes.txt").write_text("not an image")
    (root / "validation.txt").write_text("")  # no hold-out: train is every file
    return root, files


def _item_for(dataset, path: Path) -> dict:
    return dataset[[Path(p) for p in dataset.paths].index(path)]


def test_folder_modes_converted_and_bad_files_skipped(mixed_folder, caplog):
    root, files = mixed_folder
    dataset = _build(kind="folder", root=str(root), resolution=16)
    assert len(dataset) == len(files)  # nested files found, .txt ignored
    with caplog.at_level(logging.WARNING, logger="vqct.tokenizer.data"):
        for _ in range(2):
            items = [dataset[i] for i in range(len(dataset))]
    for item in items:
        _check_image(item["image"], 16)
        assert "label" not in item
    returned = {item["path"] for item in items}
    assert str(files["corrupt"]) not in returned and str(files["truncated"]) not in returned
    assert dataset.skipped == {str(files["corrupt"]), str(files["truncated"])}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("corrupt.jpg" in m for m in warnings) == 1  # logged once despite two passes
    assert sum("truncated.jpg" in m for m in warnings) == 1

    def mean_rgb(key):
        return _item_for(dataset, files[key])["image"].mean(dim=(1, 2))

    assert torch.allclose(mean_rgb("rgb"), torch.tensor([1.0, -1.0, -1.0]))
    assert torch.allclose(mean_rgb("grey"), torch.full((3,), 200 / 127.5 - 1))
    assert torch.allclose(mean_rgb("palette"), torch.tensor([-1.0, 1.0, -1.0]))
    assert torch.allclose(mean_rgb("rgba"), torch.ones(3))  # transparent red on white -> white
    assert torch.allclose(mean_rgb("la"), torch.ones(3))
    assert torch.allclose(mean_rgb("white16"), torch.ones(3))
    assert torch.allclose(mean_rgb("grey16"), torch.zeros(3), atol=0.01)  # 32768 -> mid grey, not clipped
    assert torch.allclose(mean_rgb("bmp"), torch.tensor([-1.0, -1.0, 1.0]))
    cyan = mean_rgb("cmyk")
    assert cyan[0] < -0.8 and cyan[1] > 0.8 and cyan[2] > 0.8


def test_bad_file_replaced_by_next_item_deterministically(tmp_path):
    root = tmp_path / "d"
    (root / "b.jpg").parent.mkdir(parents=True)
    (root / "b.jpg").write_bytes(b"not a jpeg at all")
    _save(root / "a.png", _solid((255, 0, 0)))
    _save(root / "c.png", _solid((0, 0, 255)))
    (root / "validation.txt").write_text("")
    dataset = _build(kind="folder", root=str(root), resolution=8)
    assert [Path(p).name for p in dataset.paths] == ["a.png", "b.jpg", "c.png"]
    assert dataset[1]["path"] == str(root / "c.png")
    assert dataset[1]["path"] == str(root / "c.png")
    (root / "c.png").write_bytes(b"broken too")
    fresh = _build(kind="folder", root=str(root), resolution=8)
    assert fresh[1]["path"] == str(root / "a.png")  # wraps around
    (root / "a.png").write_bytes(b"x")
    with pytest.raises(UserValueError, match="could be read"):
        _build(kind="folder", root=str(root), resolution=8)[0]


def test_folder_holdout_and_split_files(tmp_path):
    root = tmp_path / "many"
    for i in range(120):
        _save(root / f"g{i % 3}" / f"{i:03d}.png", _solid((i, i, i), size=(8, 8)))
    train = _build(kind="folder", root=str(root), resolution=8)
    validation = _build(kind="folder", root=str(root), split="validation", resolution=8)
    assert len(validation) == 2  # 2% of 120
    assert set(train.paths).isdisjoint(validation.paths)
    assert len(train) + len(validation) == 120
    assert validation.paths == _build(kind="folder", root=str(root), split="validation", resolution=8).paths

    small = tmp_path / "small"
    for i in range(3):
        _save(small / f"{i}.png", _solid((0, 0, 0), size=(8, 8)))
    assert len(_build(kind="folder", root=str(small), split="validation", resolution=8)) == 1
    assert len(_build(kind="folder", root=str(small), resolution=8)) == 2

    (small / "validation.txt").write_text("./1.png\n\n")
    assert [Path(p).name for p in _build(kind="folder", root=str(small), split="validation", resolution=8).paths] == [
        "1.png"
    ]
    # Only validation.txt exists: train is everything else.
    assert [Path(p).name for p in _build(kind="folder", root=str(small), resolution=8).paths] == ["0.png", "2.png"]
    (small / "train.txt").write_text("# nothing\n")
    with pytest.raises(ValueError, match=str(small)):
        _build(kind="folder", root=str(small), resolution=8)
    (small / "train.txt").write_text("missing.png\n")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        _build(kind="folder", root=str(small), resolution=8)


# ---------------------------------------------------------------- crop / flip alignment


def test_random_crop_and_flip_keep_image_and_label_aligned(tmp_path):
    # A 64x32 ADE20K-style pair: left half red with label 1, right half blue with label 2.
    root = tmp_path / "ade"
    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[:, :32, 0] = 255
    pixels[:, 32:, 2] = 255
    labels = np.full((32, 64), 2, np.uint8)
    labels[:, :32] = 1
    _save(root / "images" / "training" / "x.png", Image.fromarray(pixels))
    _save(root / "annotations" / "training" / "x.png", Image.fromarray(labels))
    dataset = _build(kind="ade20k", root=str(root), resolution=32, crop="random", flip=True)
    offsets, flips = set(), set()
    for epoch in range(40):
        dataset.set_epoch(epoch)
        item = dataset[0]
        image, label = item["image"], item["label"]
        red = image[0] > 0
        assert torch.equal(red, label == 1) and torch.equal(image[2] > 0, label == 2)
        offsets.add(int((label == 1).sum()))
        if 0 < int(red[0].sum()) < 32:
            flips.add(bool(red[0, -1]))
    assert len(offsets) > 5 and flips == {False, True}
    dataset.set_epoch(3)
    assert torch.equal(dataset[0]["image"], dataset[0]["image"])  # fixed per (index, epoch)


def test_validation_uses_centre_crop_without_flip(tmp_path):
    root = tmp_path / "coco"
    pixels = np.zeros((16, 48, 3), np.uint8)
    pixels[:, :, 0] = np.arange(48, dtype=np.uint8)[None, :] * 5
    _save(root / "val2017" / "1.png", Image.fromarray(pixels))
    dataset = _build(kind="coco", root=str(root), split="validation", resolution=16, crop="random", flip=True)
    for epoch in range(10):
        dataset.set_epoch(epoch)
        row = dataset[0]["image"][0, 0]
        assert torch.allclose(row, torch.arange(16, 32) * 5 / 127.5 - 1)


# ---------------------------------------------------------------- data set layouts


def _celeba(root: Path, number: int, parts: dict[str, np.ndarray]) -> None:
    _save(root / "CelebA-HQ-img" / f"{number}.jpg", _solid((128, 128, 128), size=(64, 64)))
    for part, mask in parts.items():
        folder = root / "CelebAMask-HQ-mask-anno" / str(number // 2000)
        rgb = np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2)
        _save(folder / f"{number:05d}_{part}.png", Image.fromarray(rgb))


def test_celebahq_merges_parts_in_order_and_splits(tmp_path):
    root = tmp_path / "celeba"
    skin = np.zeros((32, 32), bool)
    skin[4:28, 4:28] = True
    hair = np.zeros((32, 32), bool)
    hair[:12, :] = True
    cloth = np.zeros((32, 32), bool)
    cloth[28:, :] = True
    _celeba(root, 0, {"hair": hair, "skin": skin, "cloth": cloth})  # creation order is irrelevant
    _celeba(root, 1, {})
    _celeba(root, 2001, {"nose": skin})  # second mask folder, zero-padded names
    dataset = _build(kind="celebahq", root=str(root), resolution=16)
    assert [Path(p).name for p in dataset.paths] == ["0.jpg", "1.jpg", "2001.jpg"]
    label = dataset[0]["label"]  # 64px image -> 16, 32px masks -> 16 (nearest)
    assert label.shape == (16, 16) and label.dtype == torch.int64
    assert (label[:6] == CELEBAHQ_PARTS.index("hair")).all()  # hair painted over skin
    assert label[10, 8] == CELEBAHQ_PARTS.index("skin")
    assert label[12, 0] == 0 and (label[14:] == CELEBAHQ_PARTS.index("cloth")).all()
    assert (dataset[1]["label"] == 0).all()
    assert (dataset[2]["label"][2:14, 2:14] == CELEBAHQ_PARTS.index("nose")).all()
    _check_image(dataset[2]["image"], 16)
    assert CELEBAHQ_PARTS[0] == "background" and len(CELEBAHQ_PARTS) == 19
    with pytest.raises(ValueError, match="celebahq"):  # default split: indices >= 27000 only
        _build(kind="celebahq", root=str(root), split="validation", resolution=16)

    (root / "train.txt").write_text("0\n2001.jpg\n")
    (root / "validation.txt").write_text("1\n")
    assert [Path(p).name for p in _build(kind="celebahq", root=str(root), resolution=16).paths] == ["0.jpg", "2001.jpg"]
    assert [Path(p).name for p in _build(kind="celebahq", root=str(root), split="validation", resolution=16).paths] == [
        "1.jpg"
    ]


def test_cub_layout(tmp_path):
    root = tmp_path / "CUB_200_2011"
    names = {1: "001.Albatross/a.jpg", 2: "001.Albatross/b.jpg", 3: "002.Auklet/c.jpg"}
    for i, name in names.items():
        _save(root / "images" / name, _solid((10 * i, 0, 0)))
    (root / "images.txt").write_text("".join(f"{i} {n}\n" for i, n in names.items()))
    (root / "train_test_split.txt").write_text("1 1\n2 0\n3 1\n")
    train = _build(kind="cub", root=str(root), resolution=8)
    validation = _build(kind="cub", root=str(root), split="validation", resolution=8)
    assert [Path(p).name for p in train.paths] == ["a.jpg", "c.jpg"]
    assert [Path(p).name for p in validation.paths] == ["b.jpg"]
    item = validation[0]
    _check_image(item["image"], 8)
    assert "label" not in item and item["path"].endswith("b.jpg")


def test_ade20k_and_coco_layouts(tmp_path):
    root = tmp_path / "ADEChallengeData2016"
    for split, stems in (("training", ["t1", "t2"]), ("validation", ["v1"])):
        for k, stem in enumerate(stems):
            _save(root / "images" / split / f"{stem}.jpg", _solid((0, 255, 0), size=(24, 20)))
            _save(root / "annotations" / split / f"{stem}.png", Image.new("L", (24, 20), 150 - k))
    train = _build(kind="ade20k", root=str(root), resolution=10)
    validation = _build(kind="ade20k", root=str(root), split="validation", resolution=10)
    assert (len(train), len(validation)) == (2, 1)
    assert (train[0]["label"] == 150).all() and (train[1]["label"] == 149).all()
    assert train[0]["label"].shape == (10, 10) and train[0]["label"].dtype == torch.int64
    (root / "annotations" / "validation" / "v1.png").unlink()
    with pytest.raises(FileNotFoundError, match="v1.png"):
        _build(kind="ade20k", root=str(root), split="validation", resolution=10)

    coco = tmp_path / "coco"
    _save(coco / "train2017" / "000000000009.jpg", _solid((0, 0, 0)))
    _save(coco / "val2017" / "000000000139.jpg", _solid((0, 0, 0)))
    assert _build(kind="coco", root=str(coco), resolution=8)[0]["path"].endswith("000000000009.jpg")
    assert _build(kind="coco", root=str(coco), split="validation", resolution=8)[0]["path"].endswith("139.jpg")


# ---------------------------------------------------------------- errors, config, collate


def test_errors_name_the_problem(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as error:
        _build(kind="folder", root=str(missing))
    assert str(missing) in str(error.value) and "data.root" in str(error.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    for kind in ("folder", "celebahq", "cub", "coco", "ade20k"):
        with pytest.raises(ValueError) as error:
            _build(kind=kind, root=str(empty))
        assert str(empty) in str(error.value) and kind in str(error.value)
    with pytest.raises(ValueError) as error:
        _build(kind="imagenet", root=str(empty))
    assert all(kind in str(error.value) for kind in KINDS)
    with pytest.raises(ValueError, match="data.root"):
        _build(kind="coco")
    with pytest.raises(ValueError, match="split"):
        _build(kind="shapes", split="test")


def test_structured_config_and_collate(mixed_folder):
    root, _ = mixed_folder
    schema = OmegaConf.structured(DataConfig)
    merged = OmegaConf.merge(schema, OmegaConf.from_dotlist([f"root={root}", "kind=folder", "resolution=8"]))
    config = OmegaConf.to_object(merged)
    assert isinstance(config, DataConfig)
    batch = next(iter(DataLoader(build_dataset(config), batch_size=4, collate_fn=collate)))
    assert batch["image"].shape == (4, 3, 8, 8) and isinstance(batch["path"], list)
    shapes = next(iter(DataLoader(_build(kind="shapes", resolution=32, length=3), batch_size=3, collate_fn=collate)))
    assert shapes["label"].shape == (3, 32, 32) and shapes["label"].dtype == torch.int64
    assert len(shapes["caption"]) == 3 and isinstance(shapes["caption"][0], str)


def test_folder_split_all_takes_every_image(tmp_path):
    from PIL import Image

    from vqct.tokenizer.data import DataConfig, build_dataset

    for i in range(60):
        Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / f"{i:02d}.png")
    config = dict(kind="folder", root=str(tmp_path), resolution=8)
    sizes = {split: len(build_dataset(DataConfig(**config, split=split))) for split in ("train", "validation", "all")}
    assert sizes == {"train": 59, "validation": 1, "all": 60}
    with pytest.raises(ValueError, match="split=all is for data.kind=folder"):
        build_dataset(DataConfig(kind="shapes", split="all", resolution=32))


def test_validation_sample_is_spread_over_the_whole_split():
    from vqct.common.loop import spread_sample

    sample = spread_sample(list(range(100)), 8)
    assert list(sample) == [0, 12, 25, 37, 50, 62, 75, 87]  # not the first 8
    assert list(spread_sample(list(range(5)), 8)) == [0, 1, 2, 3, 4]  # a small split: all of it


def test_the_evaluation_view_is_the_same_data_without_augmentation():
    train = DataConfig(kind="folder", root="somewhere", split="train", resolution=48, crop="random", flip=True, seed=5)
    view = train.evaluation_view()
    assert (view.split, view.crop, view.flip) == ("validation", "center", False)
    assert (view.kind, view.root, view.resolution, view.seed) == ("folder", "somewhere", 48, 5)
    assert train.evaluation_view("train").split == "train" and train.crop == "random"  # the original is untouched


def test_a_symlink_loop_lists_each_real_file_once_in_one_split(tmp_path):
    root = tmp_path / "loop"
    (root / "sub").mkdir(parents=True)
    for name in ("a.png", "b.png", "sub/c.png"):
        Image.new("RGB", (16, 16), (10, 200, 30)).save(root / name)
    (root / "sub" / "back").symlink_to(root, target_is_directory=True)  # root → sub → back → root …
    (root / "alias.png").symlink_to(root / "a.png")  # one image under two names
    everything = build_dataset(DataConfig(kind="folder", root=str(root), split="all", resolution=8))
    assert sorted(Path(p).name for p in everything.paths) == ["a.png", "b.png", "c.png"]
    splits = [
        {
            str(Path(p).resolve())
            for p in build_dataset(DataConfig(kind="folder", root=str(root), split=s, resolution=8)).paths
        }
        for s in ("train", "validation")
    ]
    assert not splits[0] & splits[1] and len(splits[0] | splits[1]) == 3
