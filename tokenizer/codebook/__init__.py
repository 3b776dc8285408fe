"""The codebook prior: adjective/noun vocabulary, pretrained word vectors, modifying graph."""

from .build import CodebookPriorConfig, build_codebook_prior
from .embeddings import EmbeddingConfig, ProviderUnavailableError, load_provider
from .prior import CodebookPrior, PriorFileError

__all__ = [
    "CodebookPrior",
    "CodebookPriorConfig",
    "EmbeddingConfig",
    "PriorFileError",
    "ProviderUnavailableError",
    "build_codebook_prior",
    "load_provider",
]
