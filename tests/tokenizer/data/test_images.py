"""One image-loading path bounds what it allocates: the header's size before decoding, the
resized image after (an extreme aspect ratio is only resampled where it is kept)."""

import numpy as np
import pytest
from PIL import Image

from vqct.common.errors import UserValueError
from vqct.common.image_size import MAX_PIXELS
from vqct.tokenizer import load_image
from vqct.tokenizer.data import images


def test_load_image_refuses_a_file_above_the_pixel_limit(tmp_path):
    path = tmp_path / "big.png"
    Image.new("1", (4097, 4096)).save(path)
    with pytest.raises(UserValueError, match=r"big.png is 4097×4096 pixels; the limit is 4096×4096"):
        load_image(path, 8)


def test_no_resize_allocates_more_than_the_pixel_limit(tmp_path, monkeypatch):
    path = tmp_path / "strip.png"
    Image.new("RGB", (65536, 1), (200, 10, 30)).save(path)  # short side 1: ×32 would be 67M pixels
    resize = Image.Image.resize

    def bounded_resize(self, size, *args, **kwargs):
        assert size[0] * size[1] <= MAX_PIXELS, f"resize to {size} allocates {size[0] * size[1]:,} pixels"
        return resize(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", bounded_resize)
    pixels = load_image(path, 32)
    assert pixels.shape == (3, 32, 32)
    assert np.allclose(pixels[:, 0, 0].numpy(), np.array([200, 10, 30]) / 127.5 - 1, atol=1e-6)


@pytest.mark.parametrize("crop", [False, True])
def test_the_window_path_matches_resizing_the_whole_image(monkeypatch, crop):
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 256, (7, 90, 3), dtype=np.uint8))
    label = rng.integers(0, 5, (7, 90))
    whole = images.transform(picture, label, 16, crop, False, np.random.default_rng(1))
    monkeypatch.setattr(images, "MAX_PIXELS", 16 * 16)  # every resize above one window takes the window path
    window = images.transform(picture, label, 16, crop, False, np.random.default_rng(1))
    assert (whole[0] - window[0]).abs().max() <= 3 / 127.5  # a level or two at the window's edges
    assert (whole[1] != window[1]).float().mean() < 0.05
