"""Stage two's configs: the prior network (``PriorConfig``), how it is sampled
(``SamplingConfig``) and how it is trained (``PriorTrainConfig``, for
``accelerate launch prior/train.py --config configs/prior/…``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import OmegaConf

from vqct.common.config import ConfigError, chosen, ranged
from vqct.common.run_config import RunConfig
from vqct.tokenizer import DataConfig

PRIOR_KINDS = ("autoregressive", "masked")
CONDITIONS = ("semantic", "class", "none")


@dataclass
class PriorConfig:
    kind: str = chosen("autoregressive", PRIOR_KINDS)
    dim: int = ranged(512, 1)
    depth: int = ranged(8, 1)
    heads: int = ranged(8, 1)
    dropout: float = ranged(0.0, 0, 1, high_open=True)
    condition: str = chosen("semantic", CONDITIONS)
    num_classes: int = ranged(19, 0)
    cond_drop_prob: float = ranged(0.1, 0, 1, high_open=True)  # classifier-free-guidance condition dropout
    rotary: bool = True
    max_seq_len: int = ranged(4096, 1)  # size of the learned absolute position table (masked prior, or rotary off)
    cell_embedding: bool = True  # a learned vector per token-grid cell, shared by a cell's condition and image tokens
    max_cells: int = ranged(1024, 1)  # the largest token grid (h·w) the cell embedding covers: 32×32
    label_embedding: bool = False  # semantic condition: a learned vector per class, added at every token of a cell
    # label_embedding: each cell split into s×s sub-cells (majority class each), one learned vector per
    # (sub-cell, class) summed, so a token also sees where in its cell a shape's edge runs; 1: the cell's class
    label_detail: int = ranged(1, 1)
    # semantic condition: the map's h·w class tokens before BOS; false: the map reaches the prior
    # through the label embedding alone, and the sequence is a third shorter
    condition_prefix: bool = True
    # the share of the variance of each image token's starting input embedding and output row that
    # comes from its tokenizer code vector (``BasePrior.start_from_code_vectors``); 0: random only
    code_vector_init: float = ranged(0.0, 0, 1)


def resolve_prior_config(config: PriorConfig | dict) -> PriorConfig:
    """``config`` as a ``PriorConfig`` (a dict, e.g. read from a saved model, merged onto the defaults)."""
    if isinstance(config, PriorConfig):
        return config
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PriorConfig), config))


@dataclass
class SamplingConfig:
    temperature: float = ranged(1.0, 0)  # 0: greedy (the most likely token, no randomness)
    top_k: int | None = ranged(None, 1)  # autoregressive only; null: off
    top_p: float | None = ranged(None, 0, 1, low_open=True)  # autoregressive only; null: off
    guidance_scale: float = ranged(1.0, 0)  # classifier-free guidance; 1 = none
    use_cache: bool = True  # autoregressive only: KV cache
    steps: int = ranged(8, 1)  # masked only: MaskGIT rounds
    choice_temperature: float = ranged(4.5, 0)  # masked only
    batch_size: int = ranged(64, 1)  # images sampled at once

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
    # A token cache (python -m vqct.prior.tokens); when None, ``data`` is encoded into output_dir/tokens.
    tokens: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    model: PriorConfig = field(default_factory=PriorConfig)
    learning_rate: float = ranged(3e-4, 0)  # AdamW, absolute (not scaled by batch size)
    weight_decay: float = ranged(0.01, 0)
    adam_beta1: float = ranged(0.9, 0, 1, high_open=True)
    adam_beta2: float = ranged(0.95, 0, 1, high_open=True)
    lr_scheduler: str = "cosine"
    lr_warmup_steps: int = 100
    max_grad_norm: float = 1.0
    use_ema: bool = True  # an average of the prior's weights samples better than the last step's
    # Sample grids: the first ``num_samples`` validation label maps, sampled with ``sampling``.
    num_samples: int = ranged(8, 1)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    # Fine-tune: a saved prior (folder or Hub id) whose prior weights start this run; ``model``
    # must describe the same network (the tokenizer is still ``tokenizer``).
    init_from: str | None = None
