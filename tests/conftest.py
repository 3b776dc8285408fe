"""Shared fixtures: a tiny language codebook built for real (shapes captions only, GloVe) and
tiny tokenizer model configs."""

import os

import pytest
import torch

from vqct.common.config import load_config
from vqct.tokenizer import (
    LanguageCodebookConfig,
    QuantizerConfig,
    TokenizerModelConfig,
    build_language_codebook,
)
from vqct.tokenizer.autoencoder import AutoencoderConfig
from vqct.tokenizer.transfer import TransferConfig


def pytest_configure(config):
    """Under pytest-xdist (make test) the cores are shared out: each worker's torch gets its
    share of threads instead of every worker starting one per core and all of them contending."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


TINY_CODEBOOK_OVERRIDES = ["corpus=[builtin:shapes]", "shapes_captions=200", "min_count=0", "tagger=wordnet"]


@pytest.fixture(scope="session")
def tiny_language_codebook():
    return build_language_codebook(load_config(LanguageCodebookConfig, None, TINY_CODEBOOK_OVERRIDES))


@pytest.fixture(scope="session")
def tiny_language_codebook_dir(tiny_language_codebook, tmp_path_factory):
    return tiny_language_codebook.save(tmp_path_factory.mktemp("language_codebook") / "language_codebook")


@pytest.fixture(scope="session")
def tiny_config():
    """Makes tiny tokenizer model configs (16 px in, 8×8 codes): ``tiny_config("vq", beta=0.5)``."""

    def make(kind="dual", **quantizer):
        return TokenizerModelConfig(
            autoencoder=AutoencoderConfig(
                resolution=16, ch=32, ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[8], z_channels=8
            ),
            quantizer=QuantizerConfig(
                kind=kind, embed_dim=8, codebook_size=16, transfer=TransferConfig(layers=2, hidden_dim=16), **quantizer
            ),
        )

    return make
