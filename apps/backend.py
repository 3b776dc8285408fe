"""What the demo's three tabs compute, free of any UI: synthesis from a painted label map,
completion of a painted region, and inspection of an image's codes and words.

Every user mistake raises ``DemoInputError`` with a sentence the UI shows as it is (the app
keeps serving): no image, a file that is not an image or is cut short, an image above
``common.image_size.MAX_PIXELS`` (refused from its header, before any pixel is decoded), an empty region, a map
painted outside the palette. Grayscale, palette and RGBA images are converted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqct.common.config import ConfigError, check_values
from vqct.common.errors import UserError
from vqct.common.hub import load_pretrained
from vqct.common.image_size import check_image_size
from vqct.common.labels import LabelMapError, palette, read_label_map
from vqct.common.metrics import pixel_metrics
from vqct.prior import SamplingConfig, VQCTPrior
from vqct.prior.sampling_flags import SEED_LIMIT
from vqct.tokenizer import DECODE_ERRORS, LANGUAGE_KINDS, VQCTTokenizer, load_image, to_pil_images

# Brush strokes are anti-aliased against the canvas: allow more stray edge pixels than a file.
PAINTED_OFF_PALETTE_TOLERANCE = 0.05


class DemoInputError(UserError, ValueError):
    """Bad input from the UI; the message is meant for the user."""


@dataclass
class Timed:
    images: list[Image.Image]
    seconds: float
    notes: tuple[str, ...] = ()  # what was done to the input that the user did not ask for
    condition: Image.Image | None = None  # the label map as the prior read it, one colour a cell (or sub-cell)


def to_pil(images: torch.Tensor, scale: int = 1) -> list[Image.Image]:
    """[B, 3, H, W] in [-1, 1] → PIL images, enlarged ``scale``× without smoothing (tiny models)."""
    pictures = to_pil_images(images)
    if scale > 1:
        pictures = [p.resize((p.width * scale, p.height * scale), Image.NEAREST) for p in pictures]
    return pictures


# the most images one request makes (the sliders' top)
MAX_IMAGES = 16


def _checked_whole(value, what: str, low: int, high: int) -> int:
    """A whole number in ``low .. high`` from the UI or the API (a float, a string, NaN …)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DemoInputError(f"{what} must be a whole number, got {value!r}") from None
    if not number.is_integer() or not low <= number <= high:
        raise DemoInputError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


def _checked_seed(seed) -> int:
    """A seed torch accepts, the range of the command line's ``--seed``."""
    return _checked_whole(seed, "the seed", 0, SEED_LIMIT - 1)


def check_upload(path) -> None:
    """An uploaded file (a path or a file object), before anything decodes it: an image Pillow reads
    whole, of at most ``common.image_size.MAX_PIXELS``. The size comes from the header, so a huge image is refused at
    once. Messages never name the file's path on the server."""
    try:
        image = Image.open(path)
    except DECODE_ERRORS:
        raise DemoInputError(
            "the uploaded file is not an image this app reads (PNG, JPEG, WebP, BMP, GIF or TIFF; SVG is not one)"
        ) from None
    with image:
        check_image_size(image, "the uploaded image", DemoInputError)
        try:
            image.load()
        except DECODE_ERRORS:
            raise DemoInputError(
                f"the uploaded {image.format} file is cut short or damaged: its pixels cannot be read"
            ) from None


def _checked_array(image, what: str) -> np.ndarray:
    if image is None:
        raise DemoInputError(f"no {what}: upload or draw one first")
    array = np.asarray(image)
    if array.dtype == object or array.ndim not in (2, 3):
        raise DemoInputError(f"the {what} is not an image")
    check_image_size((array.shape[1], array.shape[0]), f"the {what}", DemoInputError)
    return array


def _flatten_alpha(array: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """RGB(A)/grey array → RGB uint8; transparent pixels become ``background``."""
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, -1)
    if array.shape[2] == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255
        array = array[..., :3] * alpha + np.asarray(background, np.float32) * (1 - alpha)
    return np.asarray(array[..., :3]).round().astype(np.uint8)


class DemoModels:
    """The prior (with its tokenizer) and the tokenizer the Inspect tab reads images with."""

    def __init__(self, prior: str | Path, tokenizer: str | Path | None = None, device: str = "cpu"):
        self.prior = load_pretrained(VQCTPrior, prior, "--prior").to(device).eval()
        self.tokenizer = (
            load_pretrained(VQCTTokenizer, tokenizer, "--tokenizer").to(device).eval()
            if tokenizer
            else self.prior.tokenizer
        )
        self.device = device
        self.scale = max(1, 256 // self.prior.resolution)  # show tiny images at about 256 px

    @property
    def num_classes(self) -> int:
        return self.prior.num_classes

    def palette_hex(self) -> list[str]:
        return ["#" + "".join(f"{int(v):02x}" for v in c) for c in palette(max(self.num_classes, 1))]

    def labels_from_picture(self, picture) -> torch.Tensor:
        """A painted or uploaded map (RGB(A) array, any size) → class ids at the prior's resolution,
        read as every map is (``common.labels.read_label_map``)."""
        array = np.array(_checked_array(picture, "label map"))
        if array.ndim == 3:  # Clear canvas leaves white, which no palette colour is: background
            array[(array[..., :3] == 255).all(-1), :3] = palette(max(self.num_classes, 1))[0]
        try:
            return read_label_map(array, self.num_classes, self.prior.resolution, PAINTED_OFF_PALETTE_TOLERANCE)
        except LabelMapError as error:
            raise DemoInputError(str(error)) from None

    def requested_map(self, composite, background, example):
        """The map a synthesis request means. ``example`` is the example map the server last put on
        the canvas (None once the user uploads or clears). For a moment after an example is chosen the
        browser still sends the canvas it had before, whose background is not the example; painting
        never changes the background (brush strokes go to a layer). So a background other than the
        example's means the canvas has not drawn the example yet, and the example is the map."""
        if example is None or background is None:
            return composite
        if isinstance(example, (str, Path)):
            with Image.open(example) as image:
                example = np.asarray(image.convert("RGBA"))
        try:
            caught_up = torch.equal(self.labels_from_picture(background), self.labels_from_picture(example))
        except DemoInputError:  # a background that is no map at all is not the example either
            caught_up = False
        return composite if caught_up else example

    def cells(self, labels: torch.Tensor) -> torch.Tensor:
        """The map as the prior reads it: the majority class of each token cell, or of each of its
        sub-cells with ``model.label_detail`` > 1, [s·h, s·w] (-1: no class)."""
        return self.prior.prior.read_map(labels[None], self.prior.token_grid)[0]

    def cells_picture(self, cells: torch.Tensor) -> Image.Image:
        colours = palette(max(self.num_classes, 1))[cells.clamp(0, self.num_classes - 1).numpy()]
        side = self.prior.resolution * self.scale
        return Image.fromarray(colours).resize((side, side), Image.NEAREST)

    def map_notes(self, picture, labels: torch.Tensor, cells: torch.Tensor) -> tuple[str, ...]:
        """What happened to a painted map on its way to the prior, where the user would not see it."""
        height, width = np.asarray(picture).shape[:2]
        notes = []
        if height != width:
            side = min(height, width)
            notes.append(f"the {width}×{height} map was centre-cropped to {side}×{side}")
        if bool((labels > 0).any()) and not bool((cells > 0).any()):
            rows, columns = cells.shape
            unit = "a token cell's sub-cell" if self.prior.prior_config.label_detail > 1 else "a token cell"
            notes.append(
                f"every painted shape is smaller than {unit} ({rows}×{columns} of them): "
                "the prior sees an empty map; paint larger shapes"
            )
        return tuple(notes)

    def _image(self, picture, resolution: int) -> torch.Tensor:
        array = _flatten_alpha(_checked_array(picture, "image"), (255, 255, 255))
        return load_image(Image.fromarray(array), resolution)

    def _sampling(self, temperature: float, top_k: int | None, guidance: float) -> SamplingConfig:
        """The sampling options a request gives, checked as the command line's flags are
        (``common.config.check_values``): NaN, a negative temperature, a fractional top-k."""
        kind = self.prior.prior_config.kind
        top_k = _checked_whole(top_k or 0, "top-k", 0, 2**31 - 1)
        try:
            sampling = SamplingConfig(
                temperature=float(temperature),
                top_k=top_k if top_k and kind == "autoregressive" else None,
                guidance_scale=float(guidance),
            )
            check_values(sampling, name=lambda key: {"top_k": "top-k", "guidance_scale": "guidance"}.get(key, key))
        except (TypeError, ValueError) as error:  # ConfigError is a ValueError
            raise DemoInputError(str(error) if isinstance(error, ConfigError) else f"not a number: {error}") from None
        if sampling.guidance_scale != 1.0 and self.prior.prior_config.condition == "none":
            raise DemoInputError("guidance needs a conditional prior; this one is unconditional: set it to 1")
        return sampling

    def synthesize(
        self, picture, num: int, seed: int, temperature: float, top_k: int | None, guidance: float, progress=None
    ) -> Timed:
        """``num`` images for the painted map (or unconditional samples for an unconditional prior)."""
        started = time.perf_counter()
        condition, notes, seen = None, (), None
        if self.prior.prior_config.condition == "semantic":
            condition = self.labels_from_picture(picture)
            cells = self.cells(condition)
            notes, seen = self.map_notes(picture, condition, cells), self.cells_picture(cells)
        sampling = self._sampling(temperature, top_k, guidance)
        sampling.batch_size = 1 if progress is not None else sampling.batch_size
        generator = torch.Generator(self.device).manual_seed(_checked_seed(seed))
        num = _checked_whole(num, "the number of images", 1, MAX_IMAGES)
        images = []
        for k in range(num):
            if progress is not None:
                progress((k, num), desc=f"sampling image {k + 1} of {num}")
            cond = condition[None] if condition is not None else None
            _, sample = self.prior.generate(cond, num=1, sampling=sampling, generator=generator)
            images.append(sample)
        return Timed(to_pil(torch.cat(images), self.scale), time.perf_counter() - started, notes, seen)

    def complete(
        self, picture, region_layer, num: int, seed: int, temperature: float, top_k: int | None, progress=None
    ) -> Timed:
        """``num`` completions of ``picture`` with the painted ``region_layer`` (alpha > 0) regenerated."""
        started = time.perf_counter()
        image = self._image(picture, self.prior.resolution)
        if region_layer is None:
            raise DemoInputError("no region: paint over the part of the image to regenerate")
        layer = np.asarray(region_layer)
        painted = (
            layer[..., 3] > 0
            if layer.ndim == 3 and layer.shape[2] == 4
            else layer.reshape(layer.shape[0], layer.shape[1], -1).max(-1) > 127
        )
        if not painted.any():
            raise DemoInputError("the region to regenerate is empty: paint over the part of the image to replace")
        mask = Image.fromarray(painted.astype(np.uint8) * 255)
        region = load_image(mask, self.prior.resolution).mean(0) > 0
        sampling = self._sampling(temperature, top_k, 1.0)
        generator = torch.Generator(self.device).manual_seed(_checked_seed(seed))
        num = _checked_whole(num, "the number of completions", 1, MAX_IMAGES)
        results = []
        for k in range(num):
            if progress is not None:
                progress((k, num), desc=f"completing {k + 1} of {num}")
            try:
                _, completed, _ = self.prior.complete(image[None], region[None], sampling=sampling, generator=generator)
            except ValueError as error:
                raise DemoInputError(str(error)) from None
            results.append(completed)
        return Timed(to_pil(torch.cat(results), self.scale), time.perf_counter() - started)

    @torch.no_grad()
    def inspect(self, picture) -> dict:
        """Reconstruction, PSNR, the (adjective, noun) of each patch with its box, and the image's usage."""
        resolution = self.tokenizer.config.autoencoder.resolution
        image = self._image(picture, resolution)[None].to(self.device)
        codes = self.tokenizer.encode(image)
        reconstruction = self.tokenizer.decode(codes).clamp(-1, 1)
        psnr = float(pixel_metrics(image, reconstruction)["psnr"][0])
        scale = max(1, 256 // resolution)
        factor = self.tokenizer.downsample_factor * scale
        patches, table = [], []
        if self.tokenizer.config.quantizer.kind in LANGUAGE_KINDS:
            for row, line in enumerate(self.tokenizer.words(codes)[0]):
                for col, (adjective, noun) in enumerate(line):
                    label = " ".join(w for w in (adjective, noun) if w)
                    patches.append(
                        ((col * factor, row * factor, (col + 1) * factor - 1, (row + 1) * factor - 1), label)
                    )
                    table.append([row, col, adjective or "", noun or ""])
        usage = {
            name: (int(codes[0, g].unique().numel()), size)
            for g, (name, size) in enumerate(zip(self.tokenizer.group_names, self.tokenizer.codebook_sizes))
        }
        return {
            "image": to_pil(image, scale)[0],
            "reconstruction": to_pil(reconstruction, scale)[0],
            "psnr": psnr,
            "patches": patches,  # ((x0, y0, x1, y1) on the enlarged image, "adjective noun")
            "words": table,  # [row, column, adjective, noun]
            "usage": usage,
        }
