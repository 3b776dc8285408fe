"""Stage-two priors over VQCT code grids, on x-transformers.

``AutoregressivePrior`` (causal ``Decoder``) reads [condition | BOS | a₁ n₁ a₂ n₂ …] and predicts
each image token from the ones before it; ``MaskedPrior`` (bidirectional ``Encoder``, MaskGIT)
reads [condition | BOS | image tokens with some replaced by MASK] and predicts the masked ones.
Condition (``PriorConfig.condition``): ``semantic`` — a label map [B, H, W] down-sampled to the
token grid (h·w tokens); ``class`` — class ids [B] (one token); ``none``.

Cell embedding (``cell_embedding``, on by default): every token also gets a learned vector for
the grid cell it is about — a condition token for its cell, an image token (AR: the token it
predicts) for its cell — so a position finds its own cell's label by content. With rotary
positions alone the offset from an image token back to its cell's condition token grows along
the sequence (it is Lc + 1 + k·G for cell k), and the quickstart prior barely learned to read the
map in its 800 steps (measured: README, "Condition").

Label embedding (``label_embedding``, semantic condition only): every token also gets a learned
vector for the *class* of its cell (1 + class id; 0 where there is none, for BOS and for every
token of a sample whose condition was dropped), so an image token reads its cell's label from its
own input instead of having to find it in the prefix by attention. The prefix stays: it is what
lets a token see the labels of the other cells.

Both restrict logits to the slot's id range (adjective / noun, see ``sequence.slot_mask``) with
-inf before every softmax, in training and sampling, so probability mass never goes to ids that
cannot occur there. Classifier-free guidance: training replaces a sample's condition with NULL
tokens with probability ``cond_drop_prob``; sampling runs conditional and NULL batches together
and mixes logits uncond + s·(cond − uncond) before the slot mask (mixing -inf would give NaN).
Sampling does not switch modes: call ``.eval()`` first so that dropout is off.
All sampling randomness goes through Gumbel noise drawn from ``generator`` with one fixed shape
per step, so cached and uncached AR sampling consume identical random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn
from x_transformers import Decoder, Encoder, TransformerWrapper

from .sequence import TokenLayout, cell_mask_to_tokens, condition_tokens, deinterleave, interleave, slot_mask

PRIOR_KINDS = ("autoregressive", "masked")
CONDITIONS = ("semantic", "class", "none")


@dataclass
class PriorConfig:
    kind: str = "autoregressive"  # autoregressive | masked
    dim: int = 512
    depth: int = 8
    heads: int = 8
    dropout: float = 0.0
    condition: str = "semantic"  # semantic | class | none
    num_classes: int = 19
    cond_drop_prob: float = 0.1  # classifier-free-guidance condition dropout
    rotary: bool = True
    max_seq_len: int = 4096  # size of the learned absolute position table (masked prior, or rotary off)
    cell_embedding: bool = True  # a learned vector per grid cell, shared by a cell's condition and image tokens
    max_cells: int = 1024  # the largest grid (h·w) the cell embedding covers: 32×32
    label_embedding: bool = False  # semantic condition: a learned vector per class, added at every token of a cell


def _resolve_config(config: PriorConfig | dict) -> PriorConfig:
    if isinstance(config, PriorConfig):
        return config
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PriorConfig), config))


def _rand(shape, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Uniform noise drawn on the generator's device (a CPU generator can drive a GPU model)."""
    source = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=source).to(device)


def _gumbel(shape, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    u = _rand(shape, generator, device).clamp(1e-20, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def sample_logits(
    logits: torch.Tensor,
    allowed: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Logits [B, V] → ids [B]: slot mask, temperature, top-k, top-p, then Gumbel-max.

    Temperature 0 is greedy (argmax) and draws no random numbers.
    """
    logits = logits.float().masked_fill(~allowed, float("-inf"))
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = logits.sort(-1, descending=True)
        probs = sorted_logits.softmax(-1)
        # drop a token when the mass before it already reaches top_p (the best one always stays)
        drop_sorted = (probs.cumsum(-1) - probs) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return (logits + _gumbel(logits.shape, generator, logits.device)).argmax(-1)


class _Prior(nn.Module):
    """Shared parts: the network, condition tokens, condition dropout and guidance batching."""

    causal: bool = True
    # At guidance 1.0 the NULL batch would change nothing, so it is skipped; tests turn this off
    # to check that the mixing path reproduces the conditional model.
    skip_unit_guidance: bool = True

    def __init__(self, *, config: PriorConfig | dict, layout: TokenLayout):
        super().__init__()
        self.config, self.layout = _resolve_config(config), layout
        config = self.config
        if config.kind not in PRIOR_KINDS:
            raise ValueError(f"prior kind must be one of {PRIOR_KINDS}, got '{config.kind}'")
        if config.condition not in CONDITIONS:
            raise ValueError(f"prior condition must be one of {CONDITIONS}, got '{config.condition}'")
        if config.condition != "none" and (config.num_classes <= 0 or layout.num_classes != config.num_classes):
            raise ValueError(f"condition '{config.condition}' needs layout.num_classes == config.num_classes > 0, got {layout.num_classes} and {config.num_classes}")
        if not 0.0 <= config.cond_drop_prob < 1.0:
            raise ValueError(f"cond_drop_prob must be in [0, 1), got {config.cond_drop_prob}")
        layers = dict(
            dim=config.dim, depth=config.depth, heads=config.heads, attn_flash=True,
            rotary_pos_emb=config.rotary, attn_dropout=config.dropout, ff_dropout=config.dropout,
        )  # fmt: skip
        if self.causal:
            attn_layers = Decoder(**layers)
        else:
            # a bidirectional model fed mostly MASK tokens can't tell absolute positions apart from
            # relative (rotary) ones alone, so the masked prior also keeps learned absolute ones
            attn_layers = Encoder(**layers, disable_abs_pos_emb=False)
        if config.label_embedding and config.condition != "semantic":
            raise ValueError(f"label_embedding needs condition='semantic', got '{config.condition}'")
        extra = {}
        if config.cell_embedding:
            extra["cell"] = config.max_cells + 1  # id 0: no cell (BOS, a class token)
        if config.label_embedding:
            extra["label"] = config.num_classes + 1  # id 0: no label (BOS, a dropped condition)
        self.net = TransformerWrapper(
            num_tokens=layout.vocab_size, max_seq_len=config.max_seq_len, attn_layers=attn_layers, emb_dropout=config.dropout,
            embed_num_tokens=extra,
        )  # fmt: skip
        for name in extra:
            # at the token embeddings' scale: x-transformers leaves extra tables at nn.Embedding's
            # N(0, 1), which at dim 128 is 8× larger and drowned the tokens (slower training, measured)
            nn.init.kaiming_normal_(self.net.embeds[f"{name}_embed"].weight)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def condition_prefix(
        self,
        condition: torch.Tensor | None,
        batch: int,
        grid: tuple[int, int],
        *,
        drop_prob: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Condition → tokens [B, Lc] (h·w, 1 or 0 of them); each sample's become NULL w.p. drop_prob."""
        kind, layout, device = self.config.condition, self.layout, self.device
        if kind == "none":
            if condition is not None:
                raise ValueError("this prior is unconditional (condition='none'); pass condition=None")
            return torch.empty(batch, 0, dtype=torch.long, device=device)
        if condition is None:
            raise ValueError(f"this prior needs a '{kind}' condition")
        condition = condition.to(device)
        if kind == "semantic":
            tokens = condition_tokens(layout, condition, *grid)
        else:
            if condition.dim() != 1 or ((condition < 0) | (condition >= layout.num_classes)).any():
                raise ValueError(f"class condition must be ids [B] in [0, {layout.num_classes}), got {condition}")
            tokens = (condition.long() + layout.condition_offset)[:, None]
        if tokens.shape[0] != batch:
            raise ValueError(f"condition batch {tokens.shape[0]} != {batch}")
        if drop_prob > 0:
            drop = _rand((batch,), generator, device) < drop_prob
            tokens = tokens.masked_fill(drop[:, None], layout.null)
        return tokens

    def _cells(self, prefix_length: int, grid: tuple[int, int]) -> torch.Tensor:
        """Cell ids [Lc + 1 + L] of the sequence [condition | BOS | image tokens]: a semantic
        condition token's cell, then 0 for BOS, then each image token's cell (1-based)."""
        cells, groups = grid[0] * grid[1], self.layout.groups
        if self.config.cell_embedding and cells > self.config.max_cells:
            raise ValueError(f"a {grid[0]}×{grid[1]} grid has more cells than model.max_cells ({self.config.max_cells})")
        prefix = torch.arange(1, cells + 1) if self.config.condition == "semantic" and prefix_length else torch.zeros(prefix_length, dtype=torch.long)
        image = torch.arange(cells * groups) // groups + 1
        return torch.cat([prefix, torch.zeros(1, dtype=torch.long), image]).to(self.device)

    def _cell_labels(self, start: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor | None:
        """Per sample, the label id of every cell [B, 1 + h·w] (column 0: no cell) read from the
        condition prefix of ``start``; None without a label embedding."""
        if not self.config.label_embedding:
            return None
        prefix = start[:, : grid[0] * grid[1]]
        labels = torch.where(prefix == self.layout.null, 0, prefix - self.layout.condition_offset + 1)
        return F.pad(labels, (1, 0))

    def _net(self, tokens: torch.Tensor, cells: torch.Tensor, cell_labels: torch.Tensor | None = None, **kwargs):
        """The transformer on tokens [B, n] whose cell ids are ``cells`` [n]; ``cell_labels`` from
        ``_cell_labels`` when the prior has a label embedding."""
        embed_ids = {}
        if self.config.cell_embedding:
            embed_ids["cell"] = cells.expand(tokens.shape[0], -1)
        if self.config.label_embedding:
            embed_ids["label"] = cell_labels.gather(1, cells.expand(tokens.shape[0], -1))
        return self.net(tokens, embed_ids=embed_ids, **kwargs)

    def _start(self, prefix: torch.Tensor) -> torch.Tensor:
        bos = torch.full((prefix.shape[0], 1), self.layout.bos, dtype=torch.long, device=prefix.device)
        return torch.cat([prefix, bos], 1)

    def _guided(self, guidance_scale: float) -> bool:
        if self.config.condition == "none":
            if guidance_scale != 1.0:
                raise ValueError("classifier-free guidance needs a conditional prior")
            return False
        return guidance_scale != 1.0 or not self.skip_unit_guidance

    def _check_grid(self, codes: torch.Tensor | None, grid: tuple[int, int], name: str) -> None:
        if codes is not None and (codes.dim() != 4 or tuple(codes.shape[1:]) != (self.layout.groups, *grid)):
            raise ValueError(f"{name} must be [B, {self.layout.groups}, {grid[0]}, {grid[1]}], got {tuple(codes.shape)}")

    def _sampling_start(self, condition, grid, codes, codes_name, batch_size, guidance_scale):
        """(batch, image length, guided?, start tokens) for sampling; with guidance the
        conditional rows come first, then the same rows with NULL condition tokens."""
        self._check_grid(codes, grid, codes_name)
        batch = self._batch_size(condition, batch_size, codes)
        guided = self._guided(guidance_scale)
        prefix = self.condition_prefix(condition, batch, grid)
        start = self._start(prefix)
        if guided:
            start = torch.cat([start, self._start(torch.full_like(prefix, self.layout.null))])
        return batch, self.layout.image_length(*grid), guided, start

    def _batch_size(self, condition, batch_size, *codes) -> int:
        for tensor in (condition, *codes):
            if tensor is not None:
                return tensor.shape[0]
        if batch_size is None:
            raise ValueError("pass batch_size when there is no condition and no known codes")
        return batch_size


def _mix(logits: torch.Tensor, guided: bool, scale: float) -> torch.Tensor:
    """[2B, …] (conditional rows first) → guided [B, …]."""
    if not guided:
        return logits
    cond, uncond = logits.float().chunk(2)
    return uncond + scale * (cond - uncond)


class AutoregressivePrior(_Prior):
    causal = True

    def _input_cells(self, prefix_length: int, grid: tuple[int, int]) -> torch.Tensor:
        """Cell ids of the inputs [condition | BOS | image tokens but the last]: BOS and each image
        token carry the cell of the token they predict (the next one), condition tokens their own."""
        cells = self._cells(prefix_length, grid)
        return torch.cat([cells[:prefix_length], cells[prefix_length + 1 :]])

    def forward(self, codes: torch.Tensor, condition: torch.Tensor | None = None, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean cross-entropy over the image tokens of codes [B, G, h, w]."""
        batch, _, h, w = codes.shape
        image = interleave(self.layout, codes.to(self.device))
        drop = self.config.cond_drop_prob if self.training else 0.0
        start = self._start(self.condition_prefix(condition, batch, (h, w), drop_prob=drop, generator=generator))
        sequence = torch.cat([start, image[:, :-1]], 1)
        cells = self._input_cells(start.shape[1] - 1, (h, w))
        logits = self._net(sequence, cells, self._cell_labels(start, (h, w)))[:, start.shape[1] - 1 :]
        logits = logits.masked_fill(~slot_mask(self.layout, image.shape[1], logits.device), float("-inf"))
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), image.reshape(-1))

    @torch.no_grad()
    def sample(
        self,
        condition: torch.Tensor | None = None,
        grid: tuple[int, int] = (16, 16),
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance_scale: float = 1.0,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        prefix_codes: torch.Tensor | None = None,
        prefix_cells: int = 0,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """Codes [B, G, h, w]. Completion: the first ``prefix_cells`` raster cells of
        ``prefix_codes`` [B, G, h, w] are kept as given and the rest is sampled after them."""
        h, w = grid
        layout, device = self.layout, self.device
        batch, length, guided, start = self._sampling_start(condition, grid, prefix_codes, "prefix_codes", batch_size, guidance_scale)
        if not 0 <= prefix_cells <= h * w or (prefix_cells and prefix_codes is None):
            raise ValueError(f"prefix_cells must be in [0, {h * w}] and needs prefix_codes, got {prefix_cells}")
        known = prefix_cells * layout.groups
        tokens = interleave(layout, prefix_codes.to(device))[:, :known] if known else start.new_empty(batch, 0)
        allowed = slot_mask(layout, length, device)
        cells = self._input_cells(start.shape[1] - 1, grid)
        labels = self._cell_labels(start, grid)
        cache = None
        for position in range(known, length):
            sequence = torch.cat([start, tokens.repeat(2, 1) if guided else tokens], 1)
            n = sequence.shape[1]
            if not use_cache:
                logits = self._net(sequence, cells[:n], labels)
            elif cache is None:  # the whole prompt once; then one new token per step
                logits, cache = self._net(sequence, cells[:n], labels, return_intermediates=True)
            else:
                logits, cache = self._net(sequence[:, -1:], cells[n - 1 : n], labels, cache=cache, input_not_include_cache=True,
                                          return_intermediates=True)
            logits = _mix(logits[:, -1], guided, guidance_scale)
            token = sample_logits(
                logits, allowed[position], temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )  # fmt: skip
            tokens = torch.cat([tokens, token[:, None]], 1)
        return deinterleave(layout, tokens, h, w)


def _cosine_mask_ratio(t: torch.Tensor) -> torch.Tensor:
    """MaskGIT's schedule: fraction still masked at progress t ∈ [0, 1]."""
    return torch.cos(t * math.pi / 2)


class MaskedPrior(_Prior):
    causal = False

    def _logits(self, start: torch.Tensor, image: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        cells = self._cells(start.shape[1] - 1, grid)
        return self._net(torch.cat([start, image], 1), cells, self._cell_labels(start, grid))[:, start.shape[1] :]

    def forward(self, codes: torch.Tensor, condition: torch.Tensor | None = None, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Cross-entropy on the masked image tokens; each sample masks cos(π/2·t), t ~ U(0, 1), of them."""
        batch, _, h, w = codes.shape
        layout, device = self.layout, self.device
        image = interleave(layout, codes.to(device))
        length = image.shape[1]
        drop = self.config.cond_drop_prob if self.training else 0.0
        start = self._start(self.condition_prefix(condition, batch, (h, w), drop_prob=drop, generator=generator))
        count = torch.ceil(_cosine_mask_ratio(_rand((batch,), generator, device)) * length).clamp(1, length)
        ranks = _rand((batch, length), generator, device).argsort(1).argsort(1)  # a random order per sample
        masked = ranks < count[:, None]
        logits = self._logits(start, image.masked_fill(masked, layout.mask), (h, w))
        logits = logits.masked_fill(~slot_mask(layout, length, device), float("-inf"))
        return F.cross_entropy(logits[masked].float(), image[masked])

    @torch.no_grad()
    def sample(
        self,
        condition: torch.Tensor | None = None,
        grid: tuple[int, int] = (16, 16),
        *,
        steps: int = 8,
        temperature: float = 1.0,
        choice_temperature: float = 4.5,
        known_codes: torch.Tensor | None = None,
        known_mask: torch.Tensor | None = None,
        guidance_scale: float = 1.0,
        generator: torch.Generator | None = None,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """Codes [B, G, h, w] by MaskGIT decoding in ``steps`` rounds.

        ``known_codes`` [B, G, h, w] with ``known_mask`` ([B, h, w] per cell or [B, G, h, w] per
        token, True = known) are copied in and never changed. Each round samples every masked
        token, keeps the most confident ones and re-masks the rest so that cos(π/2·(s+1)/steps)
        of the unknown tokens stay masked; confidence is the log-probability plus Gumbel noise
        annealed from ``choice_temperature`` to 0 (MaskGIT), which diversifies the order.
        """
        h, w = grid
        layout, device = self.layout, self.device
        batch, length, guided, start = self._sampling_start(condition, grid, known_codes, "known_codes", batch_size, guidance_scale)
        tokens = torch.full((batch, length), layout.mask, dtype=torch.long, device=device)
        if (known_codes is None) != (known_mask is None):
            raise ValueError("known_codes and known_mask go together")
        if known_codes is not None:
            fixed = cell_mask_to_tokens(layout, known_mask.to(device).bool())
            tokens = torch.where(fixed, interleave(layout, known_codes.to(device)), tokens)
        unknown = (tokens == layout.mask).sum(1)
        allowed = slot_mask(layout, length, device)
        for step in range(steps):
            masked = tokens == layout.mask
            if not masked.any():
                break
            logits = _mix(self._logits(start, tokens.repeat(2, 1) if guided else tokens, grid), guided, guidance_scale)
            logits = logits.float().masked_fill(~allowed, float("-inf"))
            if temperature == 0:
                sampled = logits.argmax(-1)
            else:
                sampled = (logits / temperature + _gumbel(logits.shape, generator, device)).argmax(-1)
            confidence = logits.log_softmax(-1).gather(-1, sampled[..., None]).squeeze(-1)
            progress = (step + 1) / steps
            if choice_temperature > 0:
                confidence = confidence + choice_temperature * (1 - progress) * _gumbel(confidence.shape, generator, device)
            # decided tokens (known or from earlier rounds) are never re-masked
            confidence = confidence.masked_fill(~masked, float("inf"))
            remain = torch.floor(_cosine_mask_ratio(torch.tensor(progress)) * unknown).long()
            remain = torch.minimum(remain, masked.sum(1) - 1).clamp(min=0)  # at least one new token per round
            remask = confidence.argsort(1).argsort(1) < remain[:, None]
            tokens = torch.where(masked & ~remask, sampled, tokens)
        return deinterleave(layout, tokens, h, w)


def build_prior(config: PriorConfig | dict, layout: TokenLayout) -> AutoregressivePrior | MaskedPrior:
    """The prior ``config.kind`` names, over ``layout``'s vocabulary."""
    config = _resolve_config(config)  # the constructor validates kind and the rest
    prior_type = AutoregressivePrior if config.kind == "autoregressive" else MaskedPrior
    return prior_type(config=config, layout=layout)
