"""``VQCTPrior``: a trained stage-two prior together with the tokenizer it was trained on.

One ``save_pretrained`` folder (or Hub repo) holds both: the tokenizer's weights and config ride
inside the prior's, so ``VQCTPrior.from_pretrained(id)`` gives a model that turns label maps into
images with nothing else to fetch, and a prior can never be paired with the wrong tokenizer.
``tokenizer_source`` records where that tokenizer came from (a folder or Hub id) for the record.

Sampling options (``SamplingConfig``) are shared by both prior kinds where they mean the same;
``top_k``, ``top_p`` and ``use_cache`` are autoregressive only, ``steps`` and
``choice_temperature`` masked only. A prior carries the options it was trained to be sampled with
(the train config's ``sampling``, as transformers models carry a generation config): ``generate``
uses them unless given others, and ``sampling_with(**overrides)`` changes some of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from huggingface_hub import ModelCard, PyTorchModelHubMixin
from PIL import Image
from torch import nn

from vqct.common.card import HUB_ID, is_local_path, model_card
from vqct.common.errors import UserValueError
from vqct.common.hub import SafePretrained
from vqct.common.image_size import MAX_SIDE
from vqct.common.labels import read_label_map
from vqct.tokenizer import VQCTTokenizer, load_image, to_pil_images

from .build import build_prior
from .config import PriorConfig, SamplingConfig, resolve_prior_config
from .sequence import TokenVocabulary


class VQCTPrior(
    nn.Module,
    SafePretrained,
    PyTorchModelHubMixin,
    library_name="vqct",
    tags=["vqct", "image-generation", "autoregressive", "semantic-image-synthesis"],
):
    """Label map (or nothing) → images, through the prior then the tokenizer's decoder."""

    # config.json as save_pretrained writes it, read strictly on load (common.hub)
    SAVED_CONFIG = {
        "prior_config": PriorConfig,
        "tokenizer_config": VQCTTokenizer,
        "token_grid": tuple[int, int],
        "tokenizer_source": str,
        "data": dict | None,
        "sampling": SamplingConfig | None,
        "card": dict | None,
    }
    RENAMED_SAVED_KEYS = {"grid": "token_grid"}  # saved by 0.1

    def __init__(
        self,
        *,
        prior_config: dict,
        tokenizer_config: dict,
        token_grid: list[int],
        tokenizer_source: str = "",
        data: dict | None = None,
        sampling: dict | None = None,
        card: dict | None = None,
    ):
        """``card``: the model card's record (``common.card``)."""
        super().__init__()
        self.prior_config: PriorConfig = resolve_prior_config(prior_config)
        self.tokenizer = VQCTTokenizer(**tokenizer_config).eval().requires_grad_(False)
        sizes = self.tokenizer.codebook_sizes
        if not sizes:
            raise UserValueError(
                "this tokenizer has no codes (model.quantizer.kind=none, the continuous reference): "
                "a prior needs a quantized tokenizer"
            )
        classes = self.prior_config.num_classes if self.prior_config.condition != "none" else 0
        self.vocabulary = TokenVocabulary(sizes[0], sizes[1] if len(sizes) == 2 else 0, classes)
        self.prior = build_prior(self.prior_config, self.vocabulary)
        self.token_grid = tuple(token_grid)
        largest = MAX_SIDE // self.tokenizer.downsample_factor  # its images within the pixel limit
        if (
            len(self.token_grid) != 2
            or self.token_grid[0] != self.token_grid[1]
            or not 1 <= self.token_grid[0] <= largest
        ):
            raise UserValueError(
                f"token_grid={list(token_grid)}: must be a square grid of 1×1 to {largest}×{largest} cells "
                f"(square images of at most {MAX_SIDE}×{MAX_SIDE} pixels)"
            )
        self.tokenizer_source = tokenizer_source
        self.data = data or {}  # the data config it was trained on: resolution, kind (for default maps)
        self.sampling = SamplingConfig(**(sampling or {}))
        self.sampling.options(self.prior_config.kind)  # options of the other kind are an error here too
        self.card = dict(card or {})

    @classmethod
    def build(
        cls,
        config: PriorConfig,
        tokenizer: VQCTTokenizer,
        *,
        token_grid: tuple[int, int],
        tokenizer_source: str,
        data: dict,
        sampling: SamplingConfig | None = None,
    ) -> VQCTPrior:
        """A fresh prior around a copy of the trained ``tokenizer``."""
        model = cls(
            prior_config=asdict(config),
            tokenizer_config=tokenizer.init_kwargs,
            token_grid=list(token_grid),
            tokenizer_source=tokenizer_source,
            data=data,
            sampling=asdict(sampling or SamplingConfig()),
        )
        model.tokenizer.load_state_dict(tokenizer.state_dict())
        if config.code_vector_init > 0:
            model.prior.start_from_code_vectors(model.tokenizer.group_codebooks())
        return model

    def saved_arguments(self) -> dict:
        return super().saved_arguments() | {"tokenizer_config": self.tokenizer.init_kwargs}  # its card as it is now

    def card_for(self, repo_id: str | None, samples: bool) -> ModelCard:
        """The model card (``common.card``): its base model is its tokenizer's repo, where it has one."""
        semantic = self.prior_config.condition == "semantic"
        source = self.tokenizer_source
        base = self.tokenizer.card.get("repo_id") or (
            source if HUB_ID.match(source) and not is_local_path(source) else None
        )
        return model_card(
            kind="prior",
            record=self.card,
            data=(self.card.get("run_config") or {}).get("data") or self.data,
            config=self.card.get("run_config")
            or {"prior": asdict(self.prior_config), "sampling": asdict(self.sampling)},
            repo_id=repo_id,
            samples=samples,
            pipeline_tag="image-to-image" if semantic else "unconditional-image-generation",
            tags=["vqct", "image-generation", self.prior_config.kind]
            + (["semantic-image-synthesis"] if semantic else []),
            base_model=base,
        )

    def sampling_with(self, **overrides) -> SamplingConfig:
        """This prior's sampling options with ``overrides`` applied; an override of None keeps the
        prior's value (so command-line flags left out change nothing)."""
        return replace(self.sampling, **{name: value for name, value in overrides.items() if value is not None})

    def train(self, mode: bool = True) -> VQCTPrior:
        super().train(mode)
        self.tokenizer.eval()  # frozen: never in training mode
        return self

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def num_classes(self) -> int:
        return self.vocabulary.num_classes

    @property
    def resolution(self) -> int:
        return self.token_grid[0] * self.tokenizer.downsample_factor

    def _check_images(self, images: torch.Tensor) -> None:
        size = (self.resolution, self.resolution)
        if images.dim() != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != size:
            raise ValueError(f"images must be [B, 3, {size[0]}, {size[1]}] in [-1, 1], got {tuple(images.shape)}")

    @torch.no_grad()
    def generate(
        self,
        condition: torch.Tensor | None = None,
        *,
        num: int | None = None,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
        known_codes: torch.Tensor | None = None,
        known_cells: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes [B, G, h, w], images [B, 3, H, W] in [-1, 1]), ``sampling.batch_size`` at a time.

        ``sampling``: None uses the prior's own options (``self.sampling``).
        ``condition``: label maps [B, H, W] (semantic prior; None samples with NULL condition
        tokens, the unconditional mode learned through condition dropout) or class ids [B]; ``num``
        when there is none. ``known_codes`` with ``known_cells`` [B, h, w] (True = keep) completes: the masked
        prior keeps exactly those cells; the autoregressive one keeps the raster prefix before the
        first cell to regenerate (in every image of the batch) and resamples everything after it.
        """
        sampling = sampling or self.sampling
        options = sampling.options(self.prior_config.kind)
        total = next((len(t) for t in (condition, known_codes) if t is not None), num)
        if total is None or total < 1:
            raise ValueError("pass a condition, known codes or num >= 1")
        if condition is None and self.prior_config.condition == "semantic":
            # no map: every cell NULL, the unconditional mode that condition dropout trained
            condition = torch.full((total, self.resolution, self.resolution), -1, dtype=torch.long)
        codes = []
        for start in range(0, total, sampling.batch_size):
            part = slice(start, min(start + sampling.batch_size, total))
            cond = condition[part] if condition is not None else None
            known = known_codes[part] if known_codes is not None else None
            cells = known_cells[part] if known_cells is not None else None
            if self.prior_config.kind == "masked":  # keeps exactly the known cells
                kept = {"known_codes": known, "known_mask": cells}
            else:  # keeps the raster prefix before the first cell to regenerate
                kept = {"prefix_codes": known, "prefix_cells": _raster_prefix(cells) if known is not None else 0}
            batch = part.stop - part.start
            codes.append(
                self.prior.sample(cond, self.token_grid, generator=generator, batch_size=batch, **kept, **options)
            )
        codes = torch.cat(codes)
        return codes, self.decode(codes)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Images [B, 3, H, W] → codes [B, G, h, w], ``batch_size`` images at a time: the encoder's
        first activation alone is ~34 MB an image at 256 px, so thousands at once would not fit."""
        return torch.cat(
            [
                self.tokenizer.encode(images[i : i + batch_size].to(self.device))
                for i in range(0, len(images), batch_size)
            ]
        )

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """Codes [B, G, h, w] → images, ``batch_size`` at a time (as ``encode``)."""
        return torch.cat(
            [self.tokenizer.decode(codes[i : i + batch_size].to(self.device)) for i in range(0, len(codes), batch_size)]
        )

    def known_cells(self, region: torch.Tensor) -> torch.Tensor:
        """A pixel region to regenerate [B, H, W] (True = regenerate) → cells to keep [B, h, w]:
        a cell is kept only when none of its pixels is in the region."""
        if region.dim() != 3 or tuple(region.shape[-2:]) != (self.resolution, self.resolution):
            raise ValueError(f"the region must be [B, {self.resolution}, {self.resolution}], got {tuple(region.shape)}")
        factor = self.tokenizer.downsample_factor
        touched = F.max_pool2d(region[:, None].float(), factor)[:, 0] > 0
        return ~touched

    @torch.no_grad()
    def complete(
        self,
        images: torch.Tensor,
        region: torch.Tensor,
        condition: torch.Tensor | None = None,
        *,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Regenerate ``region`` [B, H, W] (True = regenerate) of ``images``: the cells outside it
        keep the images' own codes. Returns (codes, images, kept cells [B, h, w])."""
        self._check_images(images)
        kept = self.known_cells(region.to(self.device))
        if kept.all():
            raise UserValueError("the region to regenerate is empty: paint the part of the image to replace")
        if self.prior_config.kind == "autoregressive":  # what it can keep: the raster prefix
            cells = kept.flatten(1)
            kept = (
                (torch.arange(cells.shape[1], device=kept.device) < _raster_prefix(kept))
                .expand_as(cells)
                .reshape(kept.shape)
            )
        known = self.encode(images)
        codes, generated = self.generate(
            condition, sampling=sampling, generator=generator, known_codes=known, known_cells=kept
        )
        return codes, generated, kept

    def generate_images(
        self,
        label_maps: Sequence[str | Path | Image.Image] | None = None,
        *,
        num_images_per_map: int = 1,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        num: int | None = None,
    ) -> list[Image.Image]:
        """Label maps as files or PIL images (palette PNGs, or pictures painted in the palette's
        colours: ``common.labels``) → ``num_images_per_map`` PIL images for each, map by map (the
        first map's images first); with none, ``num_images_per_map`` images of the unconditional
        mode. ``generator`` (a ``torch.Generator`` on the model's device) or ``seed`` (default 0)
        makes the draw repeatable. ``num``: the old name of ``num_images_per_map``."""
        count = _per_input_count(num_images_per_map, num, "num_images_per_map")
        condition = None
        if label_maps is not None:
            maps = [read_label_map(source, self.num_classes, self.resolution) for source in label_maps]
            condition = torch.stack(maps).repeat_interleave(count, 0).to(self.device)
        generator = _generator(generator, seed, self.device)
        _, images = self.generate(condition, num=count, sampling=sampling, generator=generator)
        return to_pil_images(images)

    def complete_images(
        self,
        image: str | Path | Image.Image,
        mask: str | Path | Image.Image,
        *,
        num_images_per_image: int = 1,
        label_map: str | Path | Image.Image | None = None,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        num: int | None = None,
    ) -> list[Image.Image]:
        """An image and a mask (files or PIL images; white marks what to regenerate) →
        ``num_images_per_image`` completions as PIL images, with ``label_map`` as the condition
        where given. ``generator`` or ``seed`` as in ``generate_images``; ``num``: the old name of
        ``num_images_per_image``."""
        count = _per_input_count(num_images_per_image, num, "num_images_per_image")
        pixels = load_image(image, self.resolution)[None].expand(count, -1, -1, -1).to(self.device)
        region = mask_region(mask, self.resolution)[None].expand(count, -1, -1)
        condition = None
        if label_map is not None:
            condition = read_label_map(label_map, self.num_classes, self.resolution)[None].expand(count, -1, -1)
        generator = _generator(generator, seed, self.device)
        _, images, _ = self.complete(pixels, region, condition, sampling=sampling, generator=generator)
        return to_pil_images(images)


def _per_input_count(count: int, old: int | None, name: str) -> int:
    """How many images each input gets; ``old`` is the value of the renamed ``num``, with a notice."""
    if old is not None:
        warnings.warn(f"num= is now {name}= (num will be removed in 0.4)", FutureWarning, stacklevel=3)
        count = old
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise UserValueError(f"{name}={count!r}: must be an integer, at least 1")
    return count


def _generator(generator: torch.Generator | None, seed: int | None, device: torch.device) -> torch.Generator:
    """The caller's generator, or one seeded with ``seed`` (0 when neither is given)."""
    if generator is not None and seed is not None:
        raise ValueError("pass generator= or seed=, not both")
    return generator if generator is not None else torch.Generator(device).manual_seed(seed or 0)


def mask_region(mask: str | Path | Image.Image, resolution: int) -> torch.Tensor:
    """A mask picture → [resolution, resolution] bool, True where it is white (> 127), prepared as
    images are (short side resized, centre crop)."""
    return load_image(mask, resolution).mean(0) > 0  # grey in [-1, 1]: white where above 0


def _raster_prefix(known_cells: torch.Tensor) -> int:
    """Cells [B, h, w] (True = known) → how many leading raster cells are known in every image."""
    unknown = ~known_cells.to(torch.bool).flatten(1)
    first = torch.where(
        unknown.any(1), unknown.float().argmax(1), torch.tensor(unknown.shape[1], device=unknown.device)
    )
    return int(first.min())
