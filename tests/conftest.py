"""Shared fixtures: a tiny codebook prior built for real (shapes captions only, GloVe)."""

import pytest

from tokenizer.codebook import CodebookPriorConfig, build_codebook_prior
from tokenizer.config import load_config

TINY_PRIOR_OVERRIDES = ["corpus=[builtin:shapes]", "shapes_captions=200", "min_count=0", "tagger=wordnet"]


@pytest.fixture(scope="session")
def tiny_prior():
    return build_codebook_prior(load_config(CodebookPriorConfig, None, TINY_PRIOR_OVERRIDES))


@pytest.fixture(scope="session")
def tiny_prior_dir(tiny_prior, tmp_path_factory):
    return tiny_prior.save(tmp_path_factory.mktemp("prior") / "codebook_prior")
