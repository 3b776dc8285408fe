"""Every shipped config loads onto its schema (a typo'd key in a YAML file fails here)."""

from pathlib import Path

import pytest

from vqct.common.config import load_config
from vqct.prior import PriorTrainConfig
from vqct.tokenizer import TokenizerTrainConfig
from vqct.tokenizer.language import LanguageCodebookConfig
from vqct.tokenizer.model import QUANTIZER_KINDS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("path", sorted((CONFIGS / "language_codebook").glob("*.yaml")), ids=lambda p: p.name)
def test_codebook_configs_load(path):
    assert load_config(LanguageCodebookConfig, path).embedding.provider in {"glove", "clip", "minilm"}


@pytest.mark.parametrize(
    "path", sorted((CONFIGS / "tokenizer").rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONFIGS))
)
def test_tokenizer_configs_load(path):
    config = load_config(TokenizerTrainConfig, path)
    assert config.model.quantizer.kind in QUANTIZER_KINDS
    assert config.output_dir.startswith("outputs/")


@pytest.mark.parametrize("path", sorted((CONFIGS / "prior").rglob("*.yaml")), ids=lambda p: p.name)
def test_prior_configs_load(path):
    config = load_config(PriorTrainConfig, path)
    assert config.model.kind in {"autoregressive", "masked"} and config.model.condition in {"semantic", "none"}
    assert config.output_dir.startswith("outputs/")
    config.sampling.options(config.model.kind)  # the sampling section suits the prior kind


def test_unconditional_config_drops_only_the_condition():
    semantic = load_config(PriorTrainConfig, CONFIGS / "prior" / "celebahq_semantic.yaml")
    uncond = load_config(PriorTrainConfig, CONFIGS / "prior" / "celebahq_uncond.yaml")
    assert (semantic.model.condition, uncond.model.condition) == ("semantic", "none")
    assert (uncond.model.dim, uncond.model.depth, uncond.data) == (
        semantic.model.dim,
        semantic.model.depth,
        semantic.data,
    )
