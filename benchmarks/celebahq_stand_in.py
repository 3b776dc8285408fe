"""A generated stand-in for CelebAMask-HQ in its on-disk layout, for rehearsals and benchmarks
where the real data set (a download behind a form) cannot be had.

Each item is a flat-coloured "face" drawn from ellipses and boxes, one mask PNG per part in
CelebAMask-HQ's naming (``CelebAMask-HQ-mask-anno/{i // 2000}/{i:05d}_{part}.png``, white on
black, RGB as in the real set) and a picture at twice the mask size (the real set: 1024 px
pictures, 512 px masks). ``distinct`` faces are drawn; the rest of ``count`` are hard links to
them, so a 16,000-item set takes seconds and little disk while every file a loader opens is
there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from vqct.tokenizer.data import CELEBAHQ_PARTS


def face(rng: np.random.Generator, size: int, parts=CELEBAHQ_PARTS[1:]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A picture [2·size, 2·size, 3] and {part: bool mask [size, size]} for the ``parts`` asked."""
    y, x = np.mgrid[:size, :size] / size * 64  # geometry in units of a 64 px face
    cy, cx = 34 + rng.integers(-3, 4), 32 + rng.integers(-3, 4)

    def box(dy, dx, hy, hx):
        return (abs(y - cy - dy) < hy) & (abs(x - cx - dx) < hx)

    shapes = {
        "skin": ((y - cy) / 22) ** 2 + ((x - cx) / 17) ** 2 < 1,
        "nose": box(3, 0, 3, 2),
        "eye_g": box(-4, 0, 3, 13) & ~box(-4, 0, 2, 12),
        "l_eye": box(-4, -7, 2, 3),
        "r_eye": box(-4, 7, 2, 3),
        "l_brow": box(-8, -7, 1, 4),
        "r_brow": box(-8, 7, 1, 4),
        "l_ear": box(0, -18, 4, 2),
        "r_ear": box(0, 18, 4, 2),
        "mouth": box(11, 0, 1, 5),
        "u_lip": box(9, 0, 1, 6),
        "l_lip": box(13, 0, 1, 6),
        "hair": (y < cy - 14) & (abs(x - cx) < 22),
        "hat": y < cy - 24,
        "ear_r": box(5, -18, 1, 1),
        "neck_l": box(24, 0, 1, 8),
        "neck": box(26, 0, 4, 9),
        "cloth": y > cy + 26,
    }
    masks = {part: shapes[part] for part in parts}
    picture = np.full((size, size, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    for part in CELEBAHQ_PARTS[1:]:  # later parts paint over earlier ones, as the label merge does
        if part in masks:
            picture[masks[part]] = rng.integers(0, 256, 3)
    return np.asarray(Image.fromarray(picture).resize((2 * size, 2 * size), Image.BICUBIC)), masks


def write_stand_in(
    root: Path, count: int, *, size: int = 256, distinct: int | None = None, parts=CELEBAHQ_PARTS[1:], seed: int = 0
) -> Path:
    """Items 0 … count-1 under ``root`` (masks ``size`` px); ``distinct`` drawn (default: all),
    the others hard links to them. Returns ``root``."""
    distinct = min(distinct or count, count)
    rng = np.random.default_rng(seed)
    pictures = Path(root) / "CelebA-HQ-img"
    pictures.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        folder = Path(root) / "CelebAMask-HQ-mask-anno" / str(number // 2000)
        folder.mkdir(parents=True, exist_ok=True)
        picture_file = pictures / f"{number}.jpg"
        if number < distinct:
            picture, masks = face(rng, size, parts)
            Image.fromarray(picture).save(picture_file, quality=95)
            for part, mask in masks.items():
                white = np.repeat(mask[..., None], 3, 2).astype(np.uint8) * 255
                Image.fromarray(white).save(folder / f"{number:05d}_{part}.png")
            continue
        source = number % distinct
        os.link(pictures / f"{source}.jpg", picture_file)
        source_folder = Path(root) / "CelebAMask-HQ-mask-anno" / str(source // 2000)
        for part in parts:
            os.link(source_folder / f"{source:05d}_{part}.png", folder / f"{number:05d}_{part}.png")
    return Path(root)
