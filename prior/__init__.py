"""Stage two: a prior over the tokenizer's code grids (autoregressive or MaskGIT-style masked)."""

from .model import AutoregressivePrior, MaskedPrior, PriorConfig, build_prior
from .sequence import TokenLayout, condition_tokens, deinterleave, interleave, slot_mask

__all__ = [
    "AutoregressivePrior",
    "MaskedPrior",
    "PriorConfig",
    "TokenLayout",
    "build_prior",
    "condition_tokens",
    "deinterleave",
    "interleave",
    "slot_mask",
]
