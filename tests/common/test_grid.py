"""The grids every command writes: images enlarged by whole pixels to at least 128 px, one row per
kind, each row's label drawn beside it."""

import numpy as np
import torch

from vqct.common.grid import GAP, LABEL_WIDTH, MAX_COLUMNS, MIN_CELL, labelled_grid


def test_rows_are_enlarged_by_whole_pixels_and_labelled():
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    grid = labelled_grid([("map", images), ("sample", -images)])
    assert grid.size == (LABEL_WIDTH + 3 * (MIN_CELL + GAP) + GAP, 2 * (MIN_CELL + GAP) + GAP)
    pixels = np.asarray(grid)
    tile = pixels[GAP : GAP + MIN_CELL, LABEL_WIDTH + GAP : LABEL_WIDTH + GAP + MIN_CELL]
    expected = ((images[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    assert np.array_equal(tile[::4, ::4], expected) and np.array_equal(tile[3::4, 3::4], expected)  # 4×4 blocks
    label = pixels[: MIN_CELL + GAP, :LABEL_WIDTH]
    assert (label < 100).any() and (label == 255).mean() > 0.8  # dark text on the white margin


def test_a_row_shows_at_most_eight_images_and_large_images_are_not_enlarged():
    grid = labelled_grid([("real", torch.zeros(20, 3, 256, 256))])
    assert grid.size == (LABEL_WIDTH + MAX_COLUMNS * (256 + GAP) + GAP, 256 + 2 * GAP)
