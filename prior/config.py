"""Stage two's configs: the prior network (``PriorConfig``), how it is sampled
(``SamplingConfig``) and how it is trained (``PriorTrainConfig``, for
``accelerate launch prior/train.py --config configs/prior/…``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import OmegaConf

from common.config import ConfigError
from common.run_config import RunConfig
from tokenizer import DataConfig

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


def resolve_prior_config(config: PriorConfig | dict) -> PriorConfig:
    """``config`` as a ``PriorConfig`` (a dict, e.g. read from a saved model, merged onto the defaults)."""
    if isinstance(config, PriorConfig):
        return config
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PriorConfig), config))


@dataclass
class SamplingConfig:
    temperature: float = 1.0
    top_k: int | None = None  # autoregressive only
    top_p: float | None = None  # autoregressive only
    guidance_scale: float = 1.0  # classifier-free guidance; 1 = none
    use_cache: bool = True  # autoregressive only: KV cache
    steps: int = 8  # masked only: MaskGIT rounds
    choice_temperature: float = 4.5  # masked only
    batch_size: int = 64  # images sampled at once

    def options(self, kind: str) -> dict:
        """The keyword arguments ``kind``'s ``sample`` takes; an option set for the other kind is an error."""
        shared = {"temperature": self.temperature, "guidance_scale": self.guidance_scale}
        if kind == "autoregressive":
            if self.steps != SamplingConfig.steps or self.choice_temperature != SamplingConfig.choice_temperature:
                raise ConfigError("steps and choice_temperature are for masked priors; this one is autoregressive")
            return shared | {"top_k": self.top_k, "top_p": self.top_p, "use_cache": self.use_cache}
        if self.top_k is not None or self.top_p is not None:
            raise ConfigError(
                "top_k and top_p are for autoregressive priors; this one is masked (use temperature and steps)"
            )
        return shared | {"steps": self.steps, "choice_temperature": self.choice_temperature}


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
    # Fine-tune: a saved prior (folder or Hub id) whose prior weights start this run; ``model``
    # must describe the same network (the tokenizer is still ``tokenizer``).
    init_from: str | None = None
