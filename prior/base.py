"""What both stage-two priors share, on x-transformers: the network, condition tokens, cell and
label embeddings, condition dropout and guidance batching.

``AutoregressivePrior`` (causal ``Decoder``) reads [condition | BOS | a₁ n₁ a₂ n₂ …] and predicts
each image token from the ones before it; ``MaskedPrior`` (bidirectional ``Encoder``, MaskGIT)
reads [condition | BOS | image tokens with some replaced by MASK] and predicts the masked ones.
Condition (``PriorConfig.condition``): ``semantic`` — a label map [B, H, W] down-sampled to the
token grid (h·w tokens), or with ``condition_prefix=false`` no tokens at all, the map reaching
the network only through the label embedding; ``class`` — class ids [B] (one token); ``none``.
Logits are restricted to each slot's id range (``sequence.slot_mask``) before every softmax, and
training computes only those (``_slot_loss``); guidance mixes uncond + s·(cond − uncond) before
that mask. Call ``.eval()`` before sampling.

Why the cell and label embeddings, and what they measured: docs/prior.md, "Cell embedding" and
"Label embedding".
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from vqct.common.config import ConfigError, check_values

from .config import PriorConfig, resolve_prior_config
from .sampling import uniform_noise
from .sequence import TokenVocabulary, cell_majority, condition_tokens

IGNORED = -100  # the target of a token that is not predicted (an unmasked one of the masked prior)
CODE_BASIS_SEED = 1234  # the fixed random basis ``start_from_code_vectors`` maps code vectors through


class BasePrior(nn.Module):
    """Shared parts: the network, condition tokens, condition dropout and guidance batching."""

    causal: bool = True
    # At guidance 1.0 the NULL batch would change nothing, so it is skipped; tests turn this off
    # to check that the mixing path reproduces the conditional model.
    skip_unit_guidance: bool = True

    def __init__(self, *, config: PriorConfig | dict, vocabulary: TokenVocabulary):
        super().__init__()
        self.config, self.vocabulary = resolve_prior_config(config), vocabulary
        config = self.config
        check_values(config, prefix="model.")
        if config.condition != "none" and (config.num_classes <= 0 or vocabulary.num_classes != config.num_classes):
            raise ConfigError(
                f"condition '{config.condition}' needs vocabulary.num_classes == config.num_classes > 0, got {vocabulary.num_classes} and {config.num_classes}"
            )
        Decoder, Encoder, TransformerWrapper = x_transformers_classes()
        layers = dict(
            dim=config.dim,
            depth=config.depth,
            heads=config.heads,
            attn_flash=True,
            rotary_pos_emb=config.rotary,
            attn_dropout=config.dropout,
            ff_dropout=config.dropout,
        )
        if self.causal:
            attn_layers = Decoder(**layers)
        else:
            # a bidirectional model fed mostly MASK tokens can't tell absolute positions apart from
            # relative (rotary) ones alone, so the masked prior also keeps learned absolute ones
            attn_layers = Encoder(**layers, disable_abs_pos_emb=False)
        if config.label_embedding and config.condition != "semantic":
            raise ConfigError(f"label_embedding needs condition='semantic', got '{config.condition}'")
        if config.label_detail > 1 and not config.label_embedding:
            raise ConfigError(f"model.label_detail={config.label_detail} needs model.label_embedding=true")
        if not config.condition_prefix and not config.label_embedding:
            raise ConfigError(
                "model.condition_prefix=false needs model.label_embedding=true: the map would reach the prior nowhere"
            )
        self.net = TransformerWrapper(
            num_tokens=vocabulary.vocab_size,
            max_seq_len=config.max_seq_len,
            attn_layers=attn_layers,
            emb_dropout=config.dropout,
        )
        tables = {}
        if config.cell_embedding:
            tables["cell"] = config.max_cells + 1  # id 0: no cell (BOS, a class token)
        if config.label_embedding:
            # per sub-cell k: id k·(C + 1) means no label (BOS, a dropped condition), k·(C + 1) + 1 + c class c
            tables["label"] = (config.num_classes + 1) * config.label_detail**2
        # added to the token embeddings (x-transformers' ``sum_embeds``); initialized at their scale
        # (Kaiming), not nn.Embedding's N(0, 1), which at dim 128 is 8× larger and drowned the tokens
        self.extra_embeds = nn.ModuleDict({name: nn.Embedding(size, config.dim) for name, size in tables.items()})
        for table in self.extra_embeds.values():
            nn.init.kaiming_normal_(table.weight)
        if config.label_embedding:
            with torch.no_grad():  # a cell's label vector sums s² of them: keep the sum at one vector's scale
                self.extra_embeds["label"].weight /= config.label_detail

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def start_from_code_vectors(self, codebooks: tuple[torch.Tensor, ...]) -> None:
        """Image tokens' input embeddings and output-head rows start partly from the tokenizer's
        code vectors (``codebooks``: one [K, d] per code group, ``VQCTTokenizer.group_codebooks``),
        ``config.code_vector_init`` of their variance: codes the tokenizer places close together start
        close together, where a random init makes the prior learn every code's meaning from its own occurrences.
        The vectors are centred, mapped to ``dim`` by one random orthonormal basis (distances kept
        when d ≤ dim) and scaled to the random rows' mean norm, so the mix keeps the init's scale."""
        share, ranges = self.config.code_vector_init, self.vocabulary.group_ranges()
        if len(codebooks) != len(ranges) or any(
            len(book) != high - low for book, (low, high) in zip(codebooks, ranges)
        ):
            raise ValueError(
                f"codebooks of sizes {[len(book) for book in codebooks]} do not fit the vocabulary's groups {ranges}"
            )
        rows = (self.net.token_emb.emb.weight, self.net.to_logits.weight)
        # its own generator: the global RNG (dropout, condition dropout) runs as it would without this
        generator = torch.Generator().manual_seed(CODE_BASIS_SEED)
        for book, (low, high) in zip(codebooks, ranges):
            dim, width = self.config.dim, book.shape[1]
            basis = torch.linalg.qr(torch.randn(max(dim, width), min(dim, width), generator=generator)).Q
            basis = basis.to(rows[0])
            centred = (book - book.mean(0)).to(rows[0])
            vectors = centred @ (basis.T if width <= dim else basis)
            for weight in rows:
                random = weight[low:high]
                scaled = vectors * (random.norm(dim=1).mean() / vectors.norm(dim=1).mean().clamp_min(1e-12))
                weight[low:high] = share**0.5 * scaled + (1 - share) ** 0.5 * random

    def condition_prefix(
        self,
        condition: torch.Tensor | None,
        batch: int,
        token_grid: tuple[int, int],
        *,
        drop_prob: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Condition → tokens [B, Lc] (h·w, 1 or 0 of them); each sample's become NULL w.p. drop_prob."""
        kind, vocabulary, device = self.config.condition, self.vocabulary, self.device
        if kind == "none":
            if condition is not None:
                raise ValueError("this prior is unconditional (condition='none'); pass condition=None")
            return torch.empty(batch, 0, dtype=torch.long, device=device)
        if condition is None:
            raise ValueError(f"this prior needs a '{kind}' condition")
        condition = condition.to(device)
        if kind == "semantic":
            tokens = condition_tokens(vocabulary, self.read_map(condition, token_grid), *token_grid)
        else:
            if condition.dim() != 1 or ((condition < 0) | (condition >= vocabulary.num_classes)).any():
                raise ValueError(f"class condition must be ids [B] in [0, {vocabulary.num_classes}), got {condition}")
            tokens = (condition.long() + vocabulary.condition_offset)[:, None]
        if tokens.shape[0] != batch:
            raise ValueError(f"condition batch {tokens.shape[0]} != {batch}")
        if drop_prob > 0:
            drop = uniform_noise((batch,), generator, device) < drop_prob
            tokens = tokens.masked_fill(drop[:, None], vocabulary.null)
        return tokens

    def _cells(self, prefix_length: int, token_grid: tuple[int, int]) -> torch.Tensor:
        """Cell ids [Lc + 1 + L] of the sequence [condition | BOS | image tokens]: a semantic
        condition token's cell, then 0 for BOS, then each image token's cell (1-based)."""
        cells, groups = token_grid[0] * token_grid[1], self.vocabulary.groups
        if self.config.cell_embedding and cells > self.config.max_cells:
            raise ConfigError(
                f"a {token_grid[0]}×{token_grid[1]} token grid has more cells than model.max_cells ({self.config.max_cells})"
            )
        prefix = (
            torch.arange(1, cells + 1)
            if self.config.condition == "semantic" and prefix_length
            else torch.zeros(prefix_length, dtype=torch.long)
        )
        image = torch.arange(cells * groups) // groups + 1
        return torch.cat([prefix, torch.zeros(1, dtype=torch.long), image]).to(self.device)

    def read_map(self, condition: torch.Tensor, token_grid: tuple[int, int]) -> torch.Tensor:
        """The map as the prior reads it: label maps [B, H, W] → the majority class of each of the
        s×s sub-cells of every cell [B, s·h, s·w] (s = ``label_detail``; -1: no pixel with a class).
        Training (token caches hold maps at this size) and sampling (full maps) both read a map
        through it, so the two agree."""
        s = self.config.label_detail
        return cell_majority(condition, s * token_grid[0], s * token_grid[1], self.vocabulary.num_classes)

    def _cell_labels(
        self, condition: torch.Tensor | None, start: torch.Tensor, token_grid: tuple[int, int]
    ) -> torch.Tensor | None:
        """Per sample, the label-embedding ids of every cell [B, 1 + h·w, s²] (column 0: no cell),
        one per sub-cell, from the maps ``condition`` [B, H, W]; a cell whose condition token in
        ``start`` is NULL (a dropped condition, the NULL rows of guidance, no pixel with a class)
        gets no label. None without a label embedding."""
        if not self.config.label_embedding:
            return None
        (h, w), s, classes = token_grid, self.config.label_detail, self.vocabulary.num_classes
        detail = self.read_map(condition.to(start.device), token_grid)
        detail = detail.repeat(start.shape[0] // detail.shape[0], 1, 1)  # guidance: [cond | NULL] rows
        sub_cells = detail.reshape(-1, h, s, w, s).permute(0, 1, 3, 2, 4).reshape(-1, h * w, s * s)
        dropped = start[:, : h * w, None] == self.vocabulary.null
        labels = torch.where(dropped | (sub_cells < 0), 0, sub_cells + 1)
        return F.pad(labels, (0, 0, 1, 0)) + torch.arange(s * s, device=start.device) * (classes + 1)

    def _net(self, tokens: torch.Tensor, cells: torch.Tensor, cell_labels: torch.Tensor | None = None, **kwargs):
        """The transformer on tokens [B, n] whose cell ids are ``cells`` [n]; ``cell_labels`` from
        ``_cell_labels`` when the prior has a label embedding."""
        extra = None
        if self.config.cell_embedding:
            extra = self.extra_embeds["cell"](cells.expand(tokens.shape[0], -1))
        if self.config.label_embedding:
            index = cells[None, :, None].expand(tokens.shape[0], -1, cell_labels.shape[-1])
            labels = self.extra_embeds["label"](cell_labels.gather(1, index)).sum(-2)  # over a cell's sub-cells
            extra = labels if extra is None else extra + labels
        return self.net(tokens, sum_embeds=extra, **kwargs)

    def _slot_loss(
        self, hidden: torch.Tensor, targets: torch.Tensor, counted: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean cross-entropy of the image tokens ``targets`` [B, L] predicted from the network's
        last hidden states ``hidden`` [B, L, D] (``_net(…, return_embeddings=True)``), over the
        tokens where ``counted`` (every one when None). Each slot's logits cover its own id range
        only: the loss of masking the other ids to -inf, for a third of the output head's work
        when adjectives and nouns alternate."""
        weight, groups = self.net.to_logits.weight, self.vocabulary.groups
        total = hidden.new_zeros((), dtype=torch.float32)
        for slot, (low, high) in enumerate(self.vocabulary.group_ranges()):
            logits = hidden[:, slot::groups] @ weight[low:high].T
            target = targets[:, slot::groups] - low
            if counted is not None:
                target = target.masked_fill(~counted[:, slot::groups], IGNORED)
            total = total + F.cross_entropy(
                logits.flatten(0, 1).float(), target.flatten(), ignore_index=IGNORED, reduction="sum"
            )
        return total / (targets.numel() if counted is None else counted.sum())

    def _read_start(
        self, condition: torch.Tensor | None, start: torch.Tensor, token_grid: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the start of the sequence the network reads, ``_cell_labels`` of its rows): ``start``
        without its condition tokens when the map reaches the prior through the label embedding
        alone. The labels are read first, because the condition tokens still decide which rows are
        unconditional."""
        labels = self._cell_labels(condition, start, token_grid)
        return (start if self.config.condition_prefix else start[:, -1:]), labels

    def _start(self, prefix: torch.Tensor) -> torch.Tensor:
        bos = torch.full((prefix.shape[0], 1), self.vocabulary.bos, dtype=torch.long, device=prefix.device)
        return torch.cat([prefix, bos], 1)

    def _guided(self, guidance_scale: float) -> bool:
        if self.config.condition == "none":
            if guidance_scale != 1.0:
                raise ValueError("classifier-free guidance needs a conditional prior")
            return False
        return guidance_scale != 1.0 or not self.skip_unit_guidance

    def _check_grid(self, codes: torch.Tensor | None, token_grid: tuple[int, int], name: str) -> None:
        if codes is not None and (codes.dim() != 4 or tuple(codes.shape[1:]) != (self.vocabulary.groups, *token_grid)):
            raise ValueError(
                f"{name} must be [B, {self.vocabulary.groups}, {token_grid[0]}, {token_grid[1]}], got {tuple(codes.shape)}"
            )

    def _sampling_start(self, condition, token_grid, codes, codes_name, batch_size, guidance_scale):
        """(batch, image length, guided?, start tokens) for sampling; with guidance the
        conditional rows come first, then the same rows with NULL condition tokens."""
        self._check_grid(codes, token_grid, codes_name)
        batch = self._batch_size(condition, batch_size, codes)
        guided = self._guided(guidance_scale)
        prefix = self.condition_prefix(condition, batch, token_grid)
        start = self._start(prefix)
        if guided:
            start = torch.cat([start, self._start(torch.full_like(prefix, self.vocabulary.null))])
        return batch, self.vocabulary.image_length(*token_grid), guided, start

    def _batch_size(self, condition, batch_size, *codes) -> int:
        for tensor in (condition, *codes):
            if tensor is not None:
                return tensor.shape[0]
        if batch_size is None:
            raise ValueError("pass batch_size when there is no condition and no known codes")
        return batch_size


def x_transformers_classes():
    """x-transformers' Decoder, Encoder and TransformerWrapper, imported when a prior is built (with
    einx it takes 2 s, which every command's --help paid), and without its FutureWarning:
    x-transformers decorates with torch.jit.script, which torch now deprecates (not ours to fix)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        from x_transformers import Decoder, Encoder, TransformerWrapper
    return Decoder, Encoder, TransformerWrapper
