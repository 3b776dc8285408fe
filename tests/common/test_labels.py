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
