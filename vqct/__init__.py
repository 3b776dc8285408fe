"""VQCT (CVPR 2024): codebook transfer with part-of-speech for vector-quantized image modeling.

The toolkit's public face, under one import name that collides with no other package::

    from vqct import VQCTTokenizer, VQCTPrior, LanguageCodebook

The code lives in the repository's ``common/``, ``tokenizer/``, ``prior/`` and ``apps/`` folders,
installed as ``vqct.common``, ``vqct.tokenizer``, ``vqct.prior`` and ``vqct.apps``. Names are
imported on first use, so ``import vqct`` alone loads no model code (nor torch).
"""

from __future__ import annotations

import importlib
import warnings

# In a notebook without ipywidgets, the first import of tqdm.auto (huggingface_hub's, ours) warns
# that it falls back to text progress bars; the fallback is what we want, the warning is noise.
warnings.filterwarnings("ignore", message="IProgress not found", category=Warning)

# public name → the module that defines it
_EXPORTS = {
    "VQCTTokenizer": "vqct.tokenizer",
    "TokenizerModelConfig": "vqct.tokenizer",
    "TokenizerTrainConfig": "vqct.tokenizer",
    "QuantizerConfig": "vqct.tokenizer",
    "LanguageCodebook": "vqct.tokenizer",
    "LanguageCodebookConfig": "vqct.tokenizer",
    "build_language_codebook": "vqct.tokenizer",
    "DataConfig": "vqct.tokenizer",
    "build_dataset": "vqct.tokenizer",
    "load_image": "vqct.tokenizer",
    "VQCTPrior": "vqct.prior",
    "PriorConfig": "vqct.prior",
    "PriorTrainConfig": "vqct.prior",
    "SamplingConfig": "vqct.prior",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vqct' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # found once, then an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
