"""The tokenizer's training config: the run settings both stages share, plus stage one's recipe,
data, model, loss and language codebook."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.run_config import RunConfig

from .codebook.build import LanguageCodebookConfig
from .data import DataConfig
from .losses import LossConfig
from .model import TokenizerModelConfig


@dataclass
class TokenizerTrainConfig(RunConfig):
    output_dir: str = "outputs/tokenizer"
    # Base learning rate per sample; with scale_lr the optimizers use
    # learning_rate × batch_size × gradient_accumulation_steps × processes (taming's rule).
    learning_rate: float = 4.5e-6
    scale_lr: bool = True
    adam_beta1: float = 0.5
    adam_beta2: float = 0.9
    # FID of validation reconstructions against the originals (whole validation split) every
    # fid_steps steps (multiple of validation_steps); 0 = off. Needs Inception weights (common/fid.py).
    fid_steps: int = 0
    # A built language codebook's folder; when None, one is built from ``codebook`` into
    # output_dir/language_codebook (language quantizers only).
    language_codebook: str | None = None
    codebook: LanguageCodebookConfig = field(default_factory=LanguageCodebookConfig)
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
