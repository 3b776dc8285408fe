"""Decoding one image file: strict, any mode to RGB, then resized and cropped like every data set
(``tokenizer.data`` describes the rules)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqct.common.errors import UserError, UserFileNotFoundError, UserValueError
from vqct.common.image_size import MAX_PIXELS, check_image_size
from vqct.common.metrics import to_8bit

# Everything Pillow raises for unreadable, truncated or unconvertible files.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


class Unreadable(Exception):
    def __init__(self, path: Path | str, error: Exception) -> None:
        super().__init__(f"{path}: {type(error).__name__}: {error}")
        self.path = path


def to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # Pillow's convert clips 16-bit values at 255; scale the full 16-bit range instead.
        # Mode "I" has no bit depth, so it is assumed to hold 16-bit data (as 16-bit PNG/TIFF do).
        values = np.clip(np.asarray(image, dtype=np.float64), 0, 65535) / 257.0
        return Image.fromarray(np.round(values).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")  # L, P, CMYK, 1, YCbCr...; always a copy, safe after close


def label_array(image: Image.Image) -> np.ndarray:
    # Palette label PNGs store class ids as palette indices, so the raw array is the label.
    array = np.asarray(image)
    if array.ndim == 3:  # e.g. RGB masks: any channel is the same value
        array = array[..., 0]
    return array.astype(np.int32)


def read_image(path: Path | str, convert, missing_ok: bool = False, data: bytes | None = None):
    """The image file at ``path`` decoded and converted; with ``data``, those bytes are the file
    (an Arrow row, a tar member) and ``path`` only names it in errors. A picture above
    ``MAX_PIXELS`` is unreadable from its header, before a pixel is decoded."""
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as image:
            check_image_size(image, f"the image {path}")
            image.load()  # decode everything now so truncation raises here, not later
            return convert(image)
    except DECODE_ERRORS as error:
        if missing_ok and isinstance(error, FileNotFoundError):
            return None
        raise Unreadable(path, error) from error


def transform(
    image: Image.Image,
    label: np.ndarray | None,
    resolution: int,
    random_crop: bool,
    flip: bool,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    width, height = image.size
    scale = resolution / min(width, height)
    size = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    if random_crop:
        left, top = int(rng.integers(0, size[0] - resolution + 1)), int(rng.integers(0, size[1] - resolution + 1))
    else:
        left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    box = (left, top, left + resolution, top + resolution)
    pixels = np.asarray(resized_window(image, size, box, Image.BICUBIC), dtype=np.float32) / 127.5 - 1.0
    labels = None
    if label is not None:  # mode "I": any class id
        labels = np.asarray(resized_window(Image.fromarray(label.astype(np.int32)), size, box, Image.NEAREST), np.int64)
    if flip and rng.random() < 0.5:
        pixels = pixels[:, ::-1]
        labels = None if labels is None else labels[:, ::-1]
    image_tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
    return image_tensor, None if labels is None else torch.from_numpy(np.ascontiguousarray(labels))


def resized_window(image: Image.Image, size: tuple[int, int], box: tuple[int, int, int, int], resample) -> Image.Image:
    """``image`` resized to ``size`` (Pillow widens the kernel when shrinking), then cropped to
    ``box``. A resized image above ``MAX_PIXELS`` (a 16,777,216×1 picture at resolution 32 would be
    17 billion pixels) is never made: only the window is resampled, from the source region it
    covers. Below that the whole image is resized first, which keeps every result bit for bit as
    before (the window's resampling differs from it by a level or two at its edges)."""
    if size[0] * size[1] <= MAX_PIXELS:
        return (image if size == image.size else image.resize(size, resample)).crop(box)
    x_scale, y_scale = image.width / size[0], image.height / size[1]
    source = (box[0] * x_scale, box[1] * y_scale, box[2] * x_scale, box[3] * y_scale)
    return image.resize((box[2] - box[0], box[3] - box[1]), resample, box=source)


def load_image(source: str | Path | Image.Image, resolution: int) -> torch.Tensor:
    """One image (a file or a PIL image) → [3, resolution, resolution] in [-1, 1], prepared as the
    data sets prepare theirs: any mode converted to RGB, short side resized, centre crop."""
    if isinstance(source, Image.Image):
        check_image_size(source, "the image")
        image = to_rgb(source)
    else:
        try:
            image = read_image(Path(source), to_rgb)
        except Unreadable as error:
            if isinstance(error.__cause__, FileNotFoundError):
                raise UserFileNotFoundError(f"no such image: {source}") from None
            if isinstance(error.__cause__, UserError):  # too large: its own message says so
                raise error.__cause__ from None
            raise UserValueError(f"not a readable image: {error}") from None
    pixels, _ = transform(image, None, resolution, False, False, np.random.default_rng(0))
    return pixels


def to_pil_images(images: torch.Tensor) -> list[Image.Image]:
    """[B, 3, H, W] in [-1, 1] → PIL images with the 8-bit values a saved PNG holds (``load_image``'s inverse)."""
    return [Image.fromarray(array) for array in to_8bit(images.cpu()).byte().permute(0, 2, 3, 1).numpy()]
