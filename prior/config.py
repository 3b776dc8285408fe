"""The stage-two training config (``accelerate launch prior/train.py --config configs/prior/…``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenizer.data import DataConfig
from tokenizer.training import RunConfig

from .model import PriorConfig
from .pretrained import SamplingConfig


@dataclass
class PriorTrainConfig(RunConfig):
    output_dir: str = "outputs/prior"
    # The trained tokenizer: a save_pretrained folder or a Hub id. Required.
    tokenizer: str | None = None
    # A token cache (python -m prior.tokens); when None, ``data`` is encoded into output_dir/tokens.
    tokens: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: PriorConfig = field(default_factory=PriorConfig)
    learning_rate: float = 3e-4  # AdamW, absolute (not scaled by batch size)
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    lr_scheduler: str = "cosine"
    lr_warmup_steps: int = 100
    max_grad_norm: float = 1.0
    # EMA of the prior's weights (diffusers' EMAModel with its warm-up); 0 = off. Sample grids and
    # the final model use the EMA weights.
    ema_decay: float = 0.999
    # Sample grids: the first ``num_samples`` validation label maps, sampled with ``sampling``.
    num_samples: int = 8
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
