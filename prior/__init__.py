"""Stage two: a prior over the tokenizer's code grids (autoregressive or MaskGIT-style masked)."""

from .autoregressive import AutoregressivePrior
from .build import build_prior
from .config import PriorConfig, PriorTrainConfig, SamplingConfig
from .masked import MaskedPrior
from .pretrained import VQCTPrior
from .sequence import TokenVocabulary, condition_tokens, deinterleave, interleave, slot_mask

__all__ = [
    "AutoregressivePrior",
    "MaskedPrior",
    "PriorConfig",
    "PriorTrainConfig",
    "SamplingConfig",
    "TokenVocabulary",
    "VQCTPrior",
    "build_prior",
    "condition_tokens",
    "deinterleave",
    "interleave",
    "slot_mask",
]
