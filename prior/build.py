"""``build_prior``: the stage-two network a ``PriorConfig`` names."""

from __future__ import annotations

from .autoregressive import AutoregressivePrior
from .config import PriorConfig, resolve_prior_config
from .masked import MaskedPrior
from .sequence import TokenVocabulary


def build_prior(config: PriorConfig | dict, vocabulary: TokenVocabulary) -> AutoregressivePrior | MaskedPrior:
    """The prior ``config.kind`` names, over ``vocabulary``'s vocabulary."""
    config = resolve_prior_config(config)  # the constructor validates kind and the rest
    prior_type = AutoregressivePrior if config.kind == "autoregressive" else MaskedPrior
    return prior_type(config=config, vocabulary=vocabulary)
