"""The language codebook: adjective/noun vocabulary, pretrained word vectors, modifying graph."""

from .build import LanguageCodebookConfig, build_language_codebook
from .embeddings import EmbeddingConfig, ProviderUnavailableError, load_provider
from .language_codebook import LanguageCodebook, LanguageCodebookFileError

__all__ = [
    "LanguageCodebook",
    "LanguageCodebookConfig",
    "EmbeddingConfig",
    "LanguageCodebookFileError",
    "ProviderUnavailableError",
    "build_language_codebook",
    "load_provider",
]
