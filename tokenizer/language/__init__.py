"""The language codebook: adjective/noun vocabulary, pretrained word vectors, modifying graph."""

from .build import LanguageCodebookConfig, build_language_codebook
from .embeddings import EmbeddingConfig, ProviderUnavailableError, load_provider
from .language_codebook import CodebookFileError, LanguageCodebook

__all__ = [
    "LanguageCodebook",
    "LanguageCodebookConfig",
    "EmbeddingConfig",
    "CodebookFileError",
    "ProviderUnavailableError",
    "build_language_codebook",
    "load_provider",
]
