"""Semantic label maps as pictures: one fixed colour per class, and back.

The palette is what the sample grids draw, what ``prior.sample --cond`` reads and what the app's
brushes paint with: class 0 (background) black, the others evenly spaced hues. ``read_label_map``
is the one reader (the CLI's ``--cond``, ``VQCTPrior.generate`` and the app): a map with colours
(a palette "P" PNG, RGB, RGBA, …) is read by colour whatever its mode, so a palette PNG whose
palette holds the class colours at other indices reads as its colours, not its indices; a
single-channel map without a palette (1, L, I, I;16) has no colour, and its values are the
class ids. A pixel less than half opaque (alpha < 128) is background, the same for a file and
the app's canvas. Anti-aliased edges are snapped to the nearest palette colour, but a picture with
many pixels far from every palette colour is refused, naming the colours. (A data set's label
files are another contract: their values are the data set's class ids, ``tokenizer.data``.)
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .errors import UserError
from .image_size import check_image_size

# An RGB pixel farther than this from every palette colour is "not in the palette" (0..441).
SNAP_DISTANCE = 60.0
# Up to this fraction of such pixels (stray brush edges) is tolerated and snapped anyway.
OFF_PALETTE_TOLERANCE = 0.01
# Modes whose values are class ids: one channel (and alpha), no palette.
ID_MODES = ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N")
# A pixel less opaque than this is background, whatever colour it holds.
OPAQUE = 128


class LabelMapError(UserError, ValueError):
    """A label map that cannot be read as class ids (the message names the file and the problem)."""


def palette(num_classes: int) -> np.ndarray:
    """[num_classes, 3] uint8 colours; background black, then hues 0..1 at saturation 0.75."""
    if num_classes < 1:
        raise ValueError(f"a palette needs at least one class, got {num_classes}")
    hues = [k / max(num_classes - 1, 1) for k in range(num_classes - 1)]
    colours = [(0.0, 0.0, 0.0)] + [colorsys.hsv_to_rgb(h, 0.75, 1.0) for h in hues]
    return np.round(np.asarray(colours) * 255).astype(np.uint8)


def colourize(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class ids [..., H, W] → colours [..., 3, H, W] in [-1, 1] (the images' range, for grids)."""
    colours = torch.from_numpy(palette(num_classes)).float().div(127.5).sub(1).to(labels.device)
    return colours[labels.long().clamp(0, num_classes - 1)].movedim(-1, -3)


def save_label_map(labels: torch.Tensor, num_classes: int, path: str | Path) -> None:
    """Class ids [H, W] → a palette PNG: it shows the colours and stores the ids as they are."""
    image = Image.fromarray(labels.cpu().numpy().astype(np.uint8), mode="P")
    image.putpalette(palette(num_classes).flatten().tolist())
    image.save(path)


def labels_from_array(
    array: np.ndarray, num_classes: int, source: str = "the label map", tolerance: float = OFF_PALETTE_TOLERANCE
) -> torch.Tensor:
    """An [H, W] array of ids or an [H, W, 3|4] RGB(A) picture in palette colours → ids [H, W];
    up to ``tolerance`` of the pixels may be far from every palette colour (snapped anyway)."""
    if array.ndim == 2:
        ids = array.astype(np.int64)
        bad = np.unique(ids[(ids < 0) | (ids >= num_classes)])
        if bad.size:
            raise LabelMapError(f"{source}: class ids {bad[:8].tolist()} are outside 0..{num_classes - 1}")
        return torch.from_numpy(ids)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise LabelMapError(
            f"{source}: expected a class-id image or an RGB picture, got an array of shape {array.shape}"
        )
    rgb = array[..., :3].astype(np.float32)
    colours = palette(num_classes).astype(np.float32)
    # One colour at a time: an [H, W, C, 3] difference would take gigabytes for a 4096² upload.
    nearest = np.full(rgb.shape[:2], np.inf, dtype=np.float32)
    ids = np.zeros(rgb.shape[:2], dtype=np.int64)
    for k, colour in enumerate(colours):
        distance = ((rgb - colour) ** 2).sum(-1)
        closer = distance < nearest
        nearest[closer], ids[closer] = distance[closer], k
    off = nearest > SNAP_DISTANCE**2
    if off.mean() > tolerance:
        stray = np.unique(array[..., :3][off].reshape(-1, 3), axis=0)[:5]
        raise LabelMapError(
            f"{source}: {off.mean():.1%} of the pixels are not in the {num_classes}-class palette "
            f"(e.g. RGB {[tuple(int(v) for v in c) for c in stray]}); paint with the palette's colours "
            f"({[tuple(int(v) for v in c) for c in palette(num_classes)]})"
        )
    return torch.from_numpy(ids)


def read_label_map(
    source: str | Path | Image.Image | np.ndarray,
    num_classes: int,
    size: int | None = None,
    tolerance: float = OFF_PALETTE_TOLERANCE,
) -> torch.Tensor:
    """A label-map file, PIL image or array (the app's canvas) → class ids [H, W] (with ``size``:
    centre square, nearest-neighbour resize, before the colours are read); up to ``tolerance`` of
    the pixels may be far from every palette colour."""
    if isinstance(source, np.ndarray):
        source = Image.fromarray(source)
    path = Path(getattr(source, "filename", "") or "the label map") if isinstance(source, Image.Image) else Path(source)
    try:
        image = source if isinstance(source, Image.Image) else Image.open(path)
    except FileNotFoundError:
        raise
    except Exception as error:  # Pillow raises many kinds for files that are not images
        raise LabelMapError(f"{path}: not a readable image ({error})") from error
    check_image_size(image, f"the label map {path}", LabelMapError)
    try:
        image.load()
    except Exception as error:  # cut short, damaged
        raise LabelMapError(f"{path}: not a readable image ({error})") from error
    if size is not None and image.size != (size, size):
        width, height = image.size
        side = min(width, height)  # centre square, as images are cropped
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.NEAREST)
    if image.mode in ID_MODES:
        values = np.asarray(image.getchannel(0) if image.mode == "LA" else image).astype(np.int64)
        opaque = np.asarray(image.getchannel("A")) >= OPAQUE if image.mode == "LA" else True
        return labels_from_array(np.where(opaque, values, 0), num_classes, str(path))
    rgba = np.array(image.convert("RGBA"))  # a palette's colours, transparency included
    rgba[rgba[..., 3] < OPAQUE, :3] = palette(num_classes)[0]
    return labels_from_array(rgba[..., :3], num_classes, str(path), tolerance)
