import numpy as np
import pytest
import torch
from PIL import Image

from vqct.common.labels import LabelMapError, palette, read_label_map, save_label_map
from vqct.tokenizer.data.shapes import CLASS_NAMES, NUM_CLASSES, SHAPE_NAMES


def test_palette_has_black_background_and_distinct_colours():
    colours = palette(NUM_CLASSES)
    assert colours.dtype == np.uint8 and colours.shape == (NUM_CLASSES, 3)
    assert colours[0].tolist() == [0, 0, 0]
    assert len({tuple(c) for c in colours.tolist()}) == NUM_CLASSES
    assert CLASS_NAMES[0] == "background" and CLASS_NAMES[1:] == SHAPE_NAMES


def test_saved_map_reads_back_and_crops_to_the_centre_square(tmp_path):
    labels = torch.arange(6 * 10).reshape(6, 10) % 9
    save_label_map(labels, 9, tmp_path / "map.png")
    assert torch.equal(read_label_map(tmp_path / "map.png", 9), labels)
    assert torch.equal(read_label_map(tmp_path / "map.png", 9, size=6), labels[:, 2:8])


def test_a_painted_rgb_map_reads_as_its_classes(tmp_path):
    colours = palette(9)
    picture = colours[np.arange(64).reshape(8, 8) % 9]
    picture[0, 0] = np.clip(colours[0].astype(int) + 20, 0, 255)  # an anti-aliased edge pixel snaps back
    Image.fromarray(picture.astype(np.uint8)).save(tmp_path / "painted.png")
    assert torch.equal(read_label_map(tmp_path / "painted.png", 9), torch.from_numpy(np.arange(64).reshape(8, 8) % 9))


def test_class_ids_beyond_the_classes_name_the_file_and_ids(tmp_path):
    Image.fromarray(np.full((4, 4), 12, dtype=np.uint8), mode="L").save(tmp_path / "ids.png")
    with pytest.raises(LabelMapError, match=r"ids\.png: class ids \[12\] are outside 0\.\.8"):
        read_label_map(tmp_path / "ids.png", 9)


def test_a_file_that_is_no_image_is_named(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(LabelMapError, match=r"notes\.png: not a readable image"):
        read_label_map(tmp_path / "notes.png", 9)


MODES = ["1", "L", "P", "RGB", "RGBA", "I;16"]


def drawn(ids: np.ndarray, mode: str, num_classes: int, rng) -> Image.Image:
    """Class ids as a map in ``mode``: colours where the mode has them (a palette holding the class
    colours at shuffled indices, transparent pixels of any colour for background), ids where not."""
    colours = palette(num_classes)
    if mode == "1":
        return Image.fromarray(ids.astype(bool))
    if mode in ("L", "I;16"):
        return Image.fromarray(ids.astype(np.uint8 if mode == "L" else np.uint16))
    if mode == "P":
        index = rng.permutation(256)[:num_classes]  # class k's colour sits at palette entry index[k]
        entries = rng.integers(0, 256, (256, 3), dtype=np.uint8)
        entries[index] = colours
        image = Image.fromarray(index[ids].astype(np.uint8), mode="P")
        image.putpalette(entries.flatten().tolist())
        return image
    rgb = colours[ids]
    if mode == "RGB":
        return Image.fromarray(rgb)
    alpha = np.full(ids.shape, 255, np.uint8)
    hidden = (ids == 0) & (rng.random(ids.shape) < 0.5)  # background drawn transparent, in any colour
    rgb[hidden], alpha[hidden] = rng.integers(0, 256, (int(hidden.sum()), 3), dtype=np.uint8), rng.integers(0, 128)
    return Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA")


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_reads_as_the_classes_drawn_at_any_aspect_ratio(tmp_path, mode):
    rng = np.random.default_rng(MODES.index(mode))
    for draw in range(6):
        height, width = (int(v) for v in np.exp(rng.uniform(0, np.log(80), 2)).round())
        num_classes = 2 if mode == "1" else 9
        ids = rng.integers(0, num_classes, (height, width))
        path = tmp_path / f"{mode.replace(';', '')}-{draw}.png"
        drawn(ids, mode, num_classes, rng).save(path)
        assert Image.open(path).mode == mode
        assert torch.equal(read_label_map(path, num_classes), torch.from_numpy(ids)), (mode, height, width)
        side = min(height, width)
        left, top = (width - side) // 2, (height - side) // 2
        expected = Image.fromarray(ids.astype(np.int32)).crop((left, top, left + side, top + side)).resize((8, 8), 0)
        assert torch.equal(read_label_map(path, num_classes, size=8), torch.from_numpy(np.asarray(expected, np.int64)))


def test_reading_a_map_holds_at_most_64_bytes_a_pixel():
    import tracemalloc

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 9, (256, 2048))  # an aspect ratio of 8
    picture = palette(9)[ids]
    tracemalloc.start()
    try:
        read_label_map(picture, 9)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 64 * ids.size, f"{peak / ids.size:.1f} bytes a pixel"
