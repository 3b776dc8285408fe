"""``VQCTTokenizer``: encoder → quantizer → decoder, with the paper's baselines in the same class.

``model.quantizer.kind`` picks the row of the paper's tables:
- ``dual``  — VQCT: codebooks generated from the language codebook (word vectors and modifying graph), adjective half + noun half
- ``single`` — ablation "SCB": generated adjective and noun codes stacked in one codebook
- ``vq``    — VQ-VAE / VQGAN: a codebook learned directly
- ``split_vq`` — two codebooks learned directly over the encoder output's halves (VQCT's split and
  sizes without the language codebook: "two codebooks" tested at equal capacity)
- ``cvq``   — CVQ: learned codebook with online re-anchoring of dead codes
- ``gumbel`` — Gumbel-VQ
- ``regvq`` — Reg-VQ (Table 6's tokenizer)
- ``fsq``, ``lfq``, ``simvq`` — the field's quantizers that avoid collapse by reparameterising (no
  learned codebook, or a frozen one through a learned layer), from vector-quantize-pytorch
- ``none``  — no quantizer: the continuous autoencoder, the ceiling every quantizer is measured against

Codes are [B, G, h, w] int64 grids: for ``dual`` G = 2 (codes[:, 0] adjective ids, codes[:, 1]
noun ids), G = 0 for ``none``, otherwise G = 1. Weights, config and the language codebook's words and vectors are saved together
(safetensors + config.json) with ``save_pretrained`` and loaded with ``from_pretrained``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin
from omegaconf import OmegaConf
from PIL import Image
from torch import nn

from vqct.common.card import model_card
from vqct.common.config import ConfigError, check_values, chosen, ranged
from vqct.common.errors import UserValueError
from vqct.common.hub import SafePretrained
from vqct.tokenizer.autoencoder import AutoencoderConfig, Decoder, Encoder

from .data.images import load_image, to_pil_images
from .language.language_codebook import LanguageCodebook
from .quantize import (
    LIBRARY_KINDS,
    ClusteredVectorQuantizer,
    DualQuantizer,
    GumbelQuantizer,
    LearnedVectorQuantizer,
    LibraryQuantizer,
    PassThrough,
    Quantized,
    RegularizedQuantizer,
    SingleQuantizer,
    SplitVectorQuantizer,
)
from .quantize.start import LEARNED_STARTS
from .transfer import CodebookTransfer, TransferConfig

QUANTIZER_KINDS = ("dual", "single", "vq", "split_vq", "cvq", "gumbel", "regvq", *LIBRARY_KINDS, "none")
LANGUAGE_KINDS = ("dual", "single")


# the largest learned codebook a config may ask for: 16 M codes (far beyond any VQ model's)
MAX_CODEBOOK_SIZE = 1 << 24


@dataclass
class QuantizerConfig:
    kind: str = chosen("dual", QUANTIZER_KINDS)
    embed_dim: int = ranged(256, 1)  # code width; ``dual`` gives each half embed_dim / 2
    # vq / cvq / gumbel / regvq / simvq only: language kinds use the language codebook's vocabulary
    codebook_size: int = ranged(6207, 1, MAX_CODEBOOK_SIZE)
    # split_vq: each half's codebook (the paper's A, N)
    split_codebook_sizes: tuple[int, int] = ranged((1949, 4258), 1, MAX_CODEBOOK_SIZE)
    # vq / split_vq / cvq: where a learned codebook starts (tokenizer/quantize/start.py): uniform
    # (taming's ±1/K) | encoder (moved onto the first batch's encoder output, as VQCT's given codes
    # are) | kmeans (k-means centroids of the first batch's encoder output)
    learned_start: str = chosen("uniform", LEARNED_STARTS)
    # fsq: levels per dimension (codes = their product; [8, 8, 8, 3] = 1,536, VQCT's quickstart count);
    # each at least 3 (a level of 2 needs the library's symmetry option, not exposed)
    fsq_levels: tuple[int, ...] = ranged((8, 8, 8, 3), 3, 1 << 16)
    # lfq: 2^bits codes, one sign a bit; the entropy loss spreads them, the commitment loss
    # (MAGVIT-v2's 0.25; the library's default is 0) keeps the encoder near its codes
    lfq_bits: int = ranged(11, 1, 24)
    lfq_entropy_weight: float = ranged(0.1, 0)
    lfq_commitment_weight: float = ranged(0.25, 0)
    # simvq: the rotation trick (Fifty et al.) in place of straight-through; off as in the SimVQ paper
    simvq_rotation_trick: bool = False
    beta: float = ranged(0.25, 0)  # commitment weight
    chunk_size: int = ranged(8192, 1)  # rows per nearest-code matrix product (memory ∝ chunk × K)
    cvq_decay: float = ranged(0.99, 0, 1, high_open=True)
    gumbel_kl_weight: float = ranged(5e-4, 0)
    gumbel_temperature_start: float = ranged(1.0, 0, low_open=True)
    gumbel_temperature_end: float = ranged(0.0625, 0, low_open=True)
    gumbel_anneal_steps: int = ranged(10_000, 1)  # the temperature schedule also serves regvq's sampled positions
    regvq_mask_ratio: float = ranged(0.4, 0, 1)  # share of positions quantized by sampling (the paper's best)
    regvq_prior_weight: float = ranged(0.01, 0)  # weight of KL(code usage ‖ uniform); the paper gives none
    transfer: TransferConfig = field(default_factory=TransferConfig)


@dataclass
class TokenizerModelConfig:
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)


def build_quantizer(
    config: QuantizerConfig, num_adjectives: int, num_nouns: int, word_dim: int, graph_nnz: int
) -> nn.Module:
    kind, dim = config.kind, config.embed_dim
    check_values(config, prefix="model.quantizer.")
    if kind in LANGUAGE_KINDS:
        if num_adjectives == 0 or num_nouns == 0:
            raise ConfigError(f"model.quantizer.kind={kind} needs a language codebook with adjectives and nouns")
        if kind == "dual" and dim % 2:
            raise ConfigError(f"model.quantizer.embed_dim must be even for the dual quantizer, got {dim}")
        transfer = CodebookTransfer(
            num_adjectives=num_adjectives,
            num_nouns=num_nouns,
            word_dim=word_dim,
            graph_nnz=graph_nnz,
            out_dim=dim // 2 if kind == "dual" else dim,
            config=config.transfer,
        )
        quantizer_type = DualQuantizer if kind == "dual" else SingleQuantizer
        return quantizer_type(transfer, beta=config.beta, chunk_size=config.chunk_size)
    if kind == "none":
        return PassThrough()
    if kind in ("gumbel", "regvq"):
        logits = dict(
            codebook_size=config.codebook_size,
            dim=dim,
            temperature_start=config.gumbel_temperature_start,
            temperature_end=config.gumbel_temperature_end,
            anneal_steps=config.gumbel_anneal_steps,
        )
        if kind == "gumbel":
            return GumbelQuantizer(kl_weight=config.gumbel_kl_weight, **logits)
        return RegularizedQuantizer(
            mask_ratio=config.regvq_mask_ratio, prior_weight=config.regvq_prior_weight, **logits
        )
    if kind == "fsq":
        return LibraryQuantizer.fsq(levels=list(config.fsq_levels), dim=dim)
    if kind == "lfq":
        return LibraryQuantizer.lfq(
            bits=config.lfq_bits,
            dim=dim,
            entropy_weight=config.lfq_entropy_weight,
            commitment_weight=config.lfq_commitment_weight,
        )
    if kind == "simvq":
        return LibraryQuantizer.simvq(
            codebook_size=config.codebook_size, dim=dim, beta=config.beta, rotation_trick=config.simvq_rotation_trick
        )
    learned = dict(beta=config.beta, chunk_size=config.chunk_size, start=config.learned_start)
    if kind == "split_vq":
        if dim % 2:
            raise ConfigError(f"model.quantizer.embed_dim must be even for split_vq, got {dim}")
        return SplitVectorQuantizer(codebook_sizes=tuple(config.split_codebook_sizes), dim=dim, **learned)
    if kind == "cvq":
        return ClusteredVectorQuantizer(codebook_size=config.codebook_size, dim=dim, decay=config.cvq_decay, **learned)
    return LearnedVectorQuantizer(codebook_size=config.codebook_size, dim=dim, **learned)


class VQCTTokenizer(
    nn.Module,
    SafePretrained,
    PyTorchModelHubMixin,
    library_name="vqct",
    tags=["vqct", "image-tokenizer", "vector-quantization"],
):
    """Images in [-1, 1] ↔ code grids. Build with ``VQCTTokenizer.build(config, language_codebook)``."""

    # config.json as save_pretrained writes it (init_kwargs), read strictly on load (common.hub)
    SAVED_CONFIG = {
        "model_config": TokenizerModelConfig,
        "adjectives": list[str] | None,
        "nouns": list[str] | None,
        "word_dim": int,
        "graph_nnz": int,
        "trained_with": dict | None,
        "card": dict | None,
    }

    def __init__(
        self,
        *,
        model_config: dict,
        adjectives: list[str] | None = None,
        nouns: list[str] | None = None,
        word_dim: int = 0,
        graph_nnz: int = 0,
        trained_with: dict | None = None,
        card: dict | None = None,
    ):
        """``trained_with``: facts of its training a reader of the saved model needs (the perceptual
        loss it had), recorded in config.json and the model card. ``card``: the model card's record
        (``common.card``)."""
        super().__init__()
        # "model_config", not "config": huggingface_hub's mixin would flatten a dict named config
        self.config = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TokenizerModelConfig), model_config))
        self.adjectives, self.nouns = list(adjectives or []), list(nouns or [])
        self.word_dim, self.graph_nnz = word_dim, graph_nnz
        self.trained_with = dict(trained_with or {})
        self.card = dict(card or {})
        autoencoder, quantizer = self.config.autoencoder, self.config.quantizer
        self.encoder = Encoder(autoencoder)
        self.quant_conv = nn.Conv2d(autoencoder.z_channels, quantizer.embed_dim, 1)
        self.quantizer = build_quantizer(quantizer, len(self.adjectives), len(self.nouns), word_dim, graph_nnz)
        self.post_quant_conv = nn.Conv2d(quantizer.embed_dim, autoencoder.z_channels, 1)
        self.decoder = Decoder(autoencoder)

    def record_training(self, **facts: str) -> None:
        """Facts of this model's training a reader needs (the perceptual loss it had), kept in
        ``trained_with``: saved in config.json and shown in the model card."""
        self.trained_with.update(facts)
        self._hub_mixin_config = {**(self._hub_mixin_config or {}), "trained_with": dict(self.trained_with)}

    def card_for(self, repo_id: str | None, samples: bool) -> ModelCard:
        """The model card (``common.card``): the run's config where recorded, else the model's."""
        run = self.card.get("run_config") or {"model": OmegaConf.to_container(OmegaConf.structured(self.config))}
        return model_card(
            kind="tokenizer",
            record=self.card,
            data=run.get("data") or {},
            config=run,
            repo_id=repo_id,
            samples=samples,
            pipeline_tag="image-to-image",  # an image in, its reconstruction out (and codes between)
            tags=["vqct", "image-tokenizer", "vector-quantization"],
            training=self.trained_with,
        )

    @property
    def init_kwargs(self) -> dict:
        """What rebuilds this architecture (untrained): ``VQCTTokenizer(**model.init_kwargs)``."""
        return {
            "model_config": OmegaConf.to_container(OmegaConf.structured(self.config)),
            "adjectives": list(self.adjectives),
            "nouns": list(self.nouns),
            "word_dim": self.word_dim,
            "graph_nnz": self.graph_nnz,
            "trained_with": dict(self.trained_with),
            "card": dict(self.card),
        }

    @classmethod
    def build(
        cls, config: TokenizerModelConfig, language_codebook: LanguageCodebook | None = None, seed: int = 0
    ) -> VQCTTokenizer:
        """A fresh tokenizer; language quantizers copy the language codebook's words, vectors and graph in."""
        config_dict = OmegaConf.to_container(OmegaConf.structured(config))
        if config.quantizer.kind not in LANGUAGE_KINDS:
            return cls(model_config=config_dict)
        if language_codebook is None:
            raise ConfigError(f"model.quantizer.kind={config.quantizer.kind} needs a language codebook")
        transfer = config.quantizer.transfer
        adjacency = language_codebook.normalized_adjacency(transfer.graph_weighting, transfer.graph_min_count)
        model = cls(
            model_config=config_dict,
            adjectives=language_codebook.adjectives,
            nouns=language_codebook.nouns,
            word_dim=language_codebook.dim,
            graph_nnz=adjacency.values().numel(),
        )
        vectors = torch.cat([language_codebook.adjective_vectors, language_codebook.noun_vectors])
        model.quantizer.transfer.load_word_graph(vectors, adjacency, seed=seed)
        return model

    @property
    def groups(self) -> int:
        return self.quantizer.groups

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return self.quantizer.codebook_sizes

    @property
    def group_names(self) -> tuple[str, ...]:
        """A name per code group: ("adjective", "noun") for VQCT, ("half1", "half2") for split_vq,
        none without a quantizer, ("codebook",) otherwise."""
        names = {"dual": ("adjective", "noun"), "split_vq": ("half1", "half2"), "none": ()}
        return names.get(self.config.quantizer.kind, ("codebook",))

    def group_codebooks(self) -> tuple[torch.Tensor, ...]:
        """The codes each group's indices point into (generated ones for VQCT)."""
        return self.quantizer.group_codebooks()

    @property
    def downsample_factor(self) -> int:
        return self.config.autoencoder.downsample_factor

    def quantize(self, images: torch.Tensor) -> Quantized:
        return self.quantizer(self.quant_conv(self.encoder(images)))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, Quantized]:
        """Reconstructions and the quantizer's output (for the training losses)."""
        quantized = self.quantize(images)
        return self.decoder(self.post_quant_conv(quantized.quantized)), quantized

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [-1, 1] → codes [B, G, H/f, W/f] (G = 2: adjective ids, noun ids)."""
        if not self.groups:
            raise UserValueError("model.quantizer.kind=none is the continuous reference: it has no codes to encode to")
        return self.quantize(images).indices

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, G, h, w] → images [B, 3, h·f, w·f] in about [-1, 1]."""
        if codes.dim() != 4 or codes.shape[1] != self.groups:
            raise ValueError(f"codes must be [B, {self.groups}, h, w], got {tuple(codes.shape)}")
        return self.decoder(self.post_quant_conv(self.quantizer.lookup(codes)))

    @torch.no_grad()
    def encode_images(self, images: Sequence[str | Path | Image.Image], resolution: int | None = None) -> torch.Tensor:
        """Image files or PIL images → codes [B, G, h, w]; each image prepared as the data sets
        prepare theirs (RGB, short side resized to ``resolution``, by default the training
        resolution, centre crop: ``load_image``)."""
        size = resolution or self.config.autoencoder.resolution
        device = next(self.parameters()).device
        return self.encode(torch.stack([load_image(image, size) for image in images]).to(device))

    @torch.no_grad()
    def decode_to_images(self, codes: torch.Tensor) -> list[Image.Image]:
        """Codes [B, G, h, w] → PIL images, the 8-bit values a saved PNG holds."""
        return to_pil_images(self.decode(codes))

    def words(self, codes: torch.Tensor) -> list[list[list[tuple[str | None, str | None]]]]:
        """(adjective, noun) per patch, [B][h][w]. With ``single`` a patch gets one of the two."""
        kind = self.config.quantizer.kind
        if kind not in LANGUAGE_KINDS:
            raise ValueError(f"codes of a '{kind}' tokenizer carry no words; only dual and single ones do")
        codes = codes.cpu()
        if kind == "dual":
            return [
                [
                    [(self.adjectives[a], self.nouns[n]) for a, n in zip(row_a, row_n)]
                    for row_a, row_n in zip(grid[0].tolist(), grid[1].tolist())
                ]
                for grid in codes
            ]
        count = len(self.adjectives)
        return [
            [
                [(self.adjectives[i], None) if i < count else (None, self.nouns[i - count]) for i in row]
                for row in grid[0].tolist()
            ]
            for grid in codes
        ]
