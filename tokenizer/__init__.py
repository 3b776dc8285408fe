"""Stage one: the VQCT tokenizer (and the paper's baselines), its language codebook and data.

This module is the stage's public API: stage two and the apps import from here only.
"""

from .config import TokenizerTrainConfig
from .data import DECODE_ERRORS, DataConfig, build_dataset, label_names, load_image, to_pil_images
from .language import LanguageCodebook, LanguageCodebookConfig, build_language_codebook
from .model import LANGUAGE_KINDS, QuantizerConfig, TokenizerModelConfig, VQCTTokenizer
from .rehearse import ROWS as REHEARSAL_ROWS
from .rehearse import SINGLE_THREAD, RehearsalError, rehearse

__all__ = [
    "DECODE_ERRORS",
    "LANGUAGE_KINDS",
    "DataConfig",
    "LanguageCodebook",
    "LanguageCodebookConfig",
    "QuantizerConfig",
    "REHEARSAL_ROWS",
    "RehearsalError",
    "SINGLE_THREAD",
    "TokenizerModelConfig",
    "TokenizerTrainConfig",
    "VQCTTokenizer",
    "build_dataset",
    "build_language_codebook",
    "label_names",
    "load_image",
    "rehearse",
    "to_pil_images",
]
