"""Image grids a person can judge: every image enlarged (nearest neighbour, so pixels stay
pixels) to at least ``MIN_CELL`` pixels, one row per kind of image, each row labelled in the
picture itself ("map", "sample", "reconstruction", "real"). Every grid the toolkit writes
(training, ``vqct-sample``, ``vqct-evaluate prior``) is one of these."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

MIN_CELL = 128  # pixels an image is shown at, at least
MAX_COLUMNS = 8  # images a row shows
GAP = 4
LABEL_WIDTH = 150
BACKGROUND = (255, 255, 255)


def labelled_grid(rows: list[tuple[str, torch.Tensor]]) -> Image.Image:
    """``rows``: (label, images [N, 3, H, W] in [-1, 1]) → one PIL image, the first ``MAX_COLUMNS``
    images of each row side by side after its label."""
    height, width = rows[0][1].shape[-2:]
    scale = max(1, math.ceil(MIN_CELL / min(height, width)))
    cell_h, cell_w = height * scale, width * scale
    columns = min(MAX_COLUMNS, max(len(images) for _, images in rows))
    canvas = Image.new(
        "RGB",
        (LABEL_WIDTH + columns * (cell_w + GAP) + GAP, len(rows) * (cell_h + GAP) + GAP),
        BACKGROUND,
    )
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=20)
    for r, (label, images) in enumerate(rows):
        top = GAP + r * (cell_h + GAP)
        draw.text((GAP * 2, top + cell_h // 2), label, fill=(0, 0, 0), font=font, anchor="lm")
        pixels = ((images[:columns].detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
        for c, image in enumerate(pixels.permute(0, 2, 3, 1).numpy()):
            tile = Image.fromarray(np.ascontiguousarray(image)).resize((cell_w, cell_h), Image.NEAREST)
            canvas.paste(tile, (LABEL_WIDTH + GAP + c * (cell_w + GAP), top))
    return canvas


def save_labelled_grid(rows: list[tuple[str, torch.Tensor]], path: Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    labelled_grid(rows).save(path)
