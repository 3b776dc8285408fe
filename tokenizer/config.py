"""The tokenizer's training config: the run settings both stages share, plus stage one's recipe,
data, model, loss and language codebook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from vqct.common.config import ranged
from vqct.common.run_config import RunConfig

from .data import DataConfig
from .language.build import LanguageCodebookConfig
from .losses import LossConfig
from .model import TokenizerModelConfig


@dataclass
class TokenizerTrainConfig(RunConfig):
    RENAMED_KEYS: ClassVar[dict[str, str]] = {"codebook": "language"}  # renamed in 0.2: "codebook" is the image's
    output_dir: str = "outputs/tokenizer"
    # Base learning rate per sample; with scale_lr the optimizers use
    # learning_rate × batch_size × gradient_accumulation_steps × processes (taming's rule).
    learning_rate: float = ranged(4.5e-6, 0)
    scale_lr: bool = True
    adam_beta1: float = ranged(0.5, 0, 1, high_open=True)
    adam_beta2: float = ranged(0.9, 0, 1, high_open=True)
    # FID of validation reconstructions against the originals (whole validation split) every
    # fid_steps steps (multiple of validation_steps); 0 = off. Needs Inception weights (common/fid.py).
    fid_steps: int = ranged(0, 0)
    # A built language codebook's folder; when None, one is built from ``language`` into
    # output_dir/language_codebook (language quantizers only).
    language_codebook: str | None = None
    # how a language codebook is built (vocabulary, word vectors, graph): tokenizer/language/build.py
    language: LanguageCodebookConfig = field(default_factory=LanguageCodebookConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: TokenizerModelConfig = field(default_factory=TokenizerModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    # channels-last (NHWC) memory for the autoencoder, the discriminator and the images: the layout
    # tensor cores convolve in on CUDA, saving a transpose around every convolution there
    channels_last: bool = False
    # Fine-tune: a saved tokenizer (folder or Hub id) to start from. Its architecture and language
    # codebook come with it, so ``model`` and ``language_codebook`` are not used.
    init_from: str | None = None


def scaled_learning_rate(config: TokenizerTrainConfig, processes: int) -> float:
    if not config.scale_lr:
        return config.learning_rate
    return config.learning_rate * config.batch_size * config.gradient_accumulation_steps * processes
