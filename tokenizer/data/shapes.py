"""Procedural "shapes" data set: captioned images of textured geometric shapes.

Every sample is a pure function of (seed, index, size, max_shapes), so the data
set needs no files and is identical in every worker process. Captions list
adjectives directly before their noun ("a small red striped circle"), which is
what the adjective->noun graph miner relies on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from vqct.common.config import ConfigError

SHAPE_NAMES = ("circle", "square", "triangle", "diamond", "star", "ring", "cross", "ellipse")
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 220, 40),
    "orange": (245, 140, 30),
    "purple": (140, 60, 190),
    "pink": (245, 130, 190),
    "brown": (130, 80, 40),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
TEXTURES = ("plain", "striped", "dotted", "checkered")
SIZES = ("small", "large")
CLASS_NAMES = ("background",) + SHAPE_NAMES
NUM_CLASSES = len(CLASS_NAMES)

# Radii as fractions of the image side; the gap keeps "small" and "large" distinct.
_RADIUS = {"small": (0.11, 0.16), "large": (0.20, 0.27)}
_COLOUR_NAMES = tuple(COLOURS)
_PLACEMENT_TRIES = 10


@dataclass(frozen=True)
class ShapesConfig:
    size: int = 64
    length: int = 10000
    seed: int = 0
    max_shapes: int = 3

    def __post_init__(self) -> None:
        if not 32 <= self.size <= 256:
            raise ConfigError(f"size must be in 32..256, got {self.size}")
        if self.length < 0:
            raise ConfigError(f"length must be >= 0, got {self.length}")
        if self.max_shapes < 1:
            raise ConfigError(f"max_shapes must be >= 1, got {self.max_shapes}")


@dataclass(frozen=True)
class _Shape:
    shape: int
    colour: str
    texture: str
    size: str
    x: float  # centre, as a fraction of the image side
    y: float
    radius: float
    angle: float
    tex_angle: float
    tex_scale: float  # texture period relative to the radius
    jitter: tuple[float, float, float]


@dataclass(frozen=True)
class _Scene:
    shapes: tuple[_Shape, ...]
    bg_colours: tuple[tuple[float, ...], tuple[float, ...]]
    bg_angle: float


def _sample_scene(rng: np.random.Generator, max_shapes: int) -> _Scene:
    # Everything here is a scalar draw, so captions cost no rendering; _render
    # keeps drawing from the same generator afterwards.
    shapes: list[_Shape] = []
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        shape = int(rng.integers(len(SHAPE_NAMES)))
        colour = _COLOUR_NAMES[rng.integers(len(_COLOUR_NAMES))]
        texture = TEXTURES[rng.integers(len(TEXTURES))]
        size = SIZES[rng.integers(len(SIZES))]
        radius = float(rng.uniform(*_RADIUS[size]))
        # Keep centres apart so earlier shapes usually stay visible under later ones.
        for _ in range(_PLACEMENT_TRIES):
            x, y = (float(v) for v in rng.uniform(radius, 1.0 - radius, size=2))
            if all(math.hypot(x - o.x, y - o.y) >= 0.6 * (radius + o.radius) for o in shapes):
                break
        shapes.append(
            _Shape(
                shape,
                colour,
                texture,
                size,
                x,
                y,
                radius,
                # Small tilts only: a square turned 45 degrees would be a diamond.
                angle=float(rng.uniform(-0.3, 0.3)),
                tex_angle=float(rng.uniform(0.0, math.pi)),
                tex_scale=float(rng.uniform(0.35, 0.55)),
                jitter=tuple(float(v) for v in rng.uniform(-0.06, 0.06, size=3)),
            )
        )
    # Muted greyish endpoints so that every shape colour stands out.
    bg = tuple(
        tuple(float(c) for c in np.clip(rng.uniform(0.3, 0.7) + rng.uniform(-0.12, 0.12, 3), 0, 1)) for _ in range(2)
    )
    return _Scene(tuple(shapes), bg, float(rng.uniform(0.0, 2 * math.pi)))


def _phrase(s: _Shape) -> str:
    texture = [] if s.texture == "plain" else [s.texture]
    return " ".join(["a", s.size, s.colour, *texture, SHAPE_NAMES[s.shape]])


def _relation(a: _Shape, b: _Shape) -> str:
    """Where a lies relative to b; image y grows downwards."""
    dx, dy = b.x - a.x, b.y - a.y
    if abs(dy) > abs(dx):
        return "above" if dy > 0 else "below"
    return "beside"


def _caption(scene: _Scene) -> str:
    phrases = [_phrase(s) for s in scene.shapes]
    if len(phrases) == 1:
        return f"{phrases[0]} on a plain background"
    rest = phrases[1:]
    listed = rest[0] if len(rest) == 1 else ", ".join(rest[:-1]) + " and " + rest[-1]
    return f"{phrases[0]} {_relation(scene.shapes[0], scene.shapes[1])} {listed}"


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside test in shape coordinates: unit radius, v pointing down."""
    if shape == "circle":
        return u * u + v * v <= 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.75
    if shape == "triangle":
        return (v <= 0.5) & (v >= math.sqrt(3.0) * np.abs(u) - 1.0)
    if shape == "diamond":
        return np.abs(u) / 0.7 + np.abs(v) <= 1.0
    if shape == "ring":
        rr = u * u + v * v
        return (rr <= 1.0) & (rr >= 0.36)
    if shape == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))
    if shape == "ellipse":
        return u * u + (v / 0.55) ** 2 <= 1.0
    if shape == "star":
        # Fold onto the half-sector between a tip (angle 0) and the next inner vertex.
        sector = 2 * math.pi / 5
        phi = np.mod(np.arctan2(u, -v), sector)
        phi = np.minimum(phi, sector - phi)
        rho = np.sqrt(u * u + v * v)
        px, py = rho * np.cos(phi), rho * np.sin(phi)
        inner = 0.45
        dx, dy = inner * math.cos(sector / 2) - 1.0, inner * math.sin(sector / 2)
        return dx * py - dy * (px - 1.0) >= 0.0
    raise ValueError(f"unknown shape {shape!r}")


def _texture_mask(texture: str, p: np.ndarray, q: np.ndarray, period: float) -> np.ndarray:
    """Where the texture's second tone goes; p, q are rotated pixel offsets."""
    if texture == "plain":
        return np.zeros(p.shape, dtype=bool)
    if texture == "striped":
        return np.mod(p / period, 1.0) < 0.5
    if texture == "dotted":
        dp, dq = np.mod(p, period) - period / 2, np.mod(q, period) - period / 2
        return dp * dp + dq * dq <= (0.32 * period) ** 2
    if texture == "checkered":
        return (np.floor(p / period) + np.floor(q / period)) % 2 == 1
    raise ValueError(f"unknown texture {texture!r}")


def _render(scene: _Scene, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Returns an RGB float32 image in [0, 1] and an int64 label map."""
    coords = np.arange(size, dtype=np.float32) + 0.5
    ramp = coords[None, :] * math.cos(scene.bg_angle) + coords[:, None] * math.sin(scene.bg_angle)
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    start, end = (np.asarray(c, dtype=np.float32) for c in scene.bg_colours)
    image = start + ramp[..., None] * (end - start)
    image += 0.025 * rng.standard_normal((size, size, 1), dtype=np.float32)
    label = np.zeros((size, size), dtype=np.int64)

    for s in scene.shapes:
        cx, cy, r = s.x * size, s.y * size, s.radius * size
        # Only the bounding box is evaluated; 1.1 r covers the tilted square's corners.
        x0, x1 = max(int(cx - 1.1 * r), 0), min(int(cx + 1.1 * r) + 2, size)
        y0, y1 = max(int(cy - 1.1 * r), 0), min(int(cy + 1.1 * r) + 2, size)
        xs = coords[None, x0:x1] - cx
        ys = coords[y0:y1, None] - cy
        cos, sin = math.cos(s.angle), math.sin(s.angle)
        mask = _shape_mask(SHAPE_NAMES[s.shape], (xs * cos + ys * sin) / r, (ys * cos - xs * sin) / r)
        tcos, tsin = math.cos(s.tex_angle), math.sin(s.tex_angle)
        # A floor of 4 px keeps textures resolvable on small shapes at low resolution.
        period = max(4.0, s.tex_scale * r)
        second = _texture_mask(s.texture, xs * tcos + ys * tsin, ys * tcos - xs * tsin, period)

        base = np.asarray(COLOURS[s.colour], dtype=np.float32) / 255 + np.asarray(s.jitter, np.float32)
        base = np.clip(base, 0.0, 1.0)
        luminance = float(base @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
        tone = base * 0.45 if luminance > 0.45 else base + (1 - base) * 0.55
        fill = np.where(second[..., None], tone, base)
        image[y0:y1, x0:x1][mask] = fill[mask]
        label[y0:y1, x0:x1][mask] = 1 + s.shape
    return np.clip(image, 0.0, 1.0), label


class ShapesDataset(Dataset):
    """Deterministic procedural images with per-pixel shape labels and captions."""

    def __init__(self, config: ShapesConfig | None = None, **overrides) -> None:
        self.config = dataclasses.replace(config or ShapesConfig(), **overrides)

    def __len__(self) -> int:
        return self.config.length

    def __getitem__(self, index: int) -> dict:
        n = self.config.length
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for ShapesDataset of length {n}")
        rng = np.random.default_rng([self.config.seed, index % n])
        scene = _sample_scene(rng, self.config.max_shapes)
        image, label = _render(scene, self.config.size, rng)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1) * 2 - 1)),
            "label": torch.from_numpy(label),
            "caption": _caption(scene),
        }


def caption_corpus(config: ShapesConfig, count: int) -> Iterator[str]:
    """Captions of samples 0..count-1 without rendering; count may exceed config.length."""
    for index in range(count):
        yield _caption(_sample_scene(np.random.default_rng([config.seed, index]), config.max_shapes))
