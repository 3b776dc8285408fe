"""The stage-two token vocabulary and sequence order: code grids ↔ one flat token sequence over one vocabulary.

Vocabulary, disjoint ranges in this order::

    [0, A)               adjective ids (G = 1: the whole codebook)
    [A, A+N)             noun ids (empty when N = 0)
    [A+N, A+N+C)         condition tokens: semantic classes
    A+N+C, +1, +2        BOS, NULL (classifier-free-guidance "no condition"), MASK

A dual (G = 2) grid [B, 2, h, w] becomes a raster-order sequence a₁ n₁ a₂ n₂ … of length 2·h·w;
a single-group (G = 1, ``num_nouns = 0``) grid [B, 1, h, w] becomes c₁ c₂ … of length h·w. For a
``single`` tokenizer (adjective and noun codes stacked in one codebook) use
``TokenVocabulary(codebook_size, 0, C)``. One vocabulary (rather than one per group) lets a single
embedding table and output head serve both groups; ``slot_mask`` restores the per-slot ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TokenVocabulary:
    num_adjectives: int
    num_nouns: int = 0
    num_classes: int = 0

    def __post_init__(self):
        if self.num_adjectives <= 0 or self.num_nouns < 0 or self.num_classes < 0:
            raise ValueError(f"TokenVocabulary needs num_adjectives > 0 and non-negative others, got {self}")

    @property
    def groups(self) -> int:
        """Codes per grid cell: 2 (adjective, noun) or 1 (a single codebook)."""
        return 2 if self.num_nouns > 0 else 1

    @property
    def adjective_range(self) -> tuple[int, int]:
        return 0, self.num_adjectives

    @property
    def noun_offset(self) -> int:
        return self.num_adjectives

    @property
    def noun_range(self) -> tuple[int, int]:
        return self.noun_offset, self.noun_offset + self.num_nouns

    @property
    def condition_offset(self) -> int:
        return self.num_adjectives + self.num_nouns

    @property
    def condition_range(self) -> tuple[int, int]:
        return self.condition_offset, self.condition_offset + self.num_classes

    @property
    def bos(self) -> int:
        return self.condition_offset + self.num_classes

    @property
    def null(self) -> int:
        return self.bos + 1

    @property
    def mask(self) -> int:
        return self.bos + 2

    @property
    def vocab_size(self) -> int:
        return self.bos + 3

    def group_ranges(self) -> tuple[tuple[int, int], ...]:
        """The id range of each slot of a cell, in sequence order."""
        return (self.adjective_range, self.noun_range) if self.groups == 2 else (self.adjective_range,)

    def image_length(self, h: int, w: int) -> int:
        return self.groups * h * w


def interleave(vocabulary: TokenVocabulary, codes: torch.Tensor) -> torch.Tensor:
    """Codes [B, G, h, w] → [B, G·h·w] in raster order (a₁ n₁ a₂ n₂ …), noun ids offset by A."""
    if codes.dim() != 4 or codes.shape[1] != vocabulary.groups:
        raise ValueError(f"codes must be [B, {vocabulary.groups}, h, w], got {tuple(codes.shape)}")
    offsets = torch.tensor([low for low, _ in vocabulary.group_ranges()], device=codes.device, dtype=codes.dtype)
    shifted = codes + offsets.view(1, -1, 1, 1)
    # [B, G, h, w] → [B, h, w, G] → flat: the G codes of a cell sit next to each other
    return shifted.permute(0, 2, 3, 1).reshape(codes.shape[0], -1)


def deinterleave(vocabulary: TokenVocabulary, seq: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Inverse of ``interleave``: [B, G·h·w] → codes [B, G, h, w] with group-local ids."""
    groups = vocabulary.groups
    if seq.dim() != 2 or seq.shape[1] != groups * h * w:
        raise ValueError(f"sequence must be [B, {groups * h * w}] for a {h}x{w} grid, got {tuple(seq.shape)}")
    offsets = torch.tensor([low for low, _ in vocabulary.group_ranges()], device=seq.device, dtype=seq.dtype)
    codes = seq.view(seq.shape[0], h, w, groups).permute(0, 3, 1, 2)
    return (codes - offsets.view(1, -1, 1, 1)).contiguous()


def cell_mask_to_tokens(vocabulary: TokenVocabulary, mask: torch.Tensor) -> torch.Tensor:
    """A per-cell [B, h, w] or per-token [B, G, h, w] bool mask → per-token [B, G·h·w]."""
    if mask.dim() == 3:
        mask = mask.unsqueeze(1).expand(-1, vocabulary.groups, -1, -1)
    if mask.dim() != 4 or mask.shape[1] != vocabulary.groups:
        raise ValueError(f"mask must be [B, h, w] or [B, {vocabulary.groups}, h, w], got {tuple(mask.shape)}")
    return mask.permute(0, 2, 3, 1).reshape(mask.shape[0], -1)


def cell_majority(label_map: torch.Tensor, h: int, w: int, classes: int) -> torch.Tensor:
    """Semantic map [B, H, W] (class ids) → the majority class of each token-grid cell [B, h, w],
    -1 where a cell has no valid pixel.

    Pixel row y goes to cell row ⌊y·h/H⌋, so H need not be a multiple of h; ties go to the smaller
    class id. Majority rather than nearest-pixel so thin structures at a cell's centre don't decide
    it. Pixels outside [0, ``classes``) (e.g. an ignore label 255) do not vote. A map already at
    the grid comes back as it is (each cell holds one pixel).
    """
    if label_map.dim() != 3 or label_map.dtype.is_floating_point:
        raise ValueError(
            f"label_map must be an integer [B, H, W] tensor, got {label_map.dtype} {tuple(label_map.shape)}"
        )
    batch, height, width = label_map.shape
    if height < h or width < w:
        raise ValueError(f"label map {height}x{width} is smaller than the {h}x{w} token grid")
    device = label_map.device
    rows = torch.arange(height, device=device) * h // height
    cols = torch.arange(width, device=device) * w // width
    cell = (rows[:, None] * w + cols[None, :]).expand(batch, -1, -1).reshape(batch, -1)
    labels = label_map.reshape(batch, -1).long()
    valid = (labels >= 0) & (labels < classes)
    # votes[b, cell, class] += 1 for each valid pixel; invalid pixels add 0 to a harmless bin
    votes = torch.zeros(batch, h * w * classes, device=device, dtype=torch.int32)
    index = cell * classes + labels.clamp(0, max(classes - 1, 0))
    votes.scatter_add_(1, index, valid.to(torch.int32))
    votes = votes.view(batch, h * w, classes)
    winner = votes.argmax(-1)  # first maximum: ties → smaller class id
    return torch.where(votes.sum(-1) > 0, winner, torch.full_like(winner, -1)).view(batch, h, w)


def condition_tokens(vocabulary: TokenVocabulary, label_map: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Semantic map [B, H, W] (class ids) → condition tokens [B, h·w], ids offset by A+N.

    Each token-grid cell takes the majority class of its pixels (``cell_majority``); a cell with no
    valid pixel gets the NULL token, the same "unknown" the model sees under condition dropout.
    """
    if vocabulary.num_classes == 0:
        raise ValueError("condition_tokens needs a vocabulary with num_classes > 0")
    cells = cell_majority(label_map, h, w, vocabulary.num_classes).flatten(1)
    return torch.where(cells >= 0, cells + vocabulary.condition_offset, torch.full_like(cells, vocabulary.null))


def slot_mask(vocabulary: TokenVocabulary, length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Bool [length, vocab]: the ids allowed at each image-sequence position.

    With G = 2 even positions take adjective ids and odd ones noun ids; with G = 1 every
    position takes a codebook id. Condition / special tokens are never allowed.
    """
    ranges = vocabulary.group_ranges()
    per_slot = torch.zeros(len(ranges), vocabulary.vocab_size, dtype=torch.bool, device=device)
    for slot, (low, high) in enumerate(ranges):
        per_slot[slot, low:high] = True
    return per_slot[torch.arange(length, device=device) % len(ranges)]
