"""Errors caused by the user's input (config, files, missing assets): the command-line entry
points print them as one line and exit with status 2 instead of a traceback."""

from .codebook.corpus import CorpusError
from .codebook.embeddings import ProviderUnavailableError
from .codebook.prior import PriorFileError
from .codebook.wordnet import WordNetUnavailableError
from .config import ConfigError

USER_ERRORS = (
    ConfigError,
    CorpusError,
    ProviderUnavailableError,
    PriorFileError,
    WordNetUnavailableError,
    FileNotFoundError,
    ValueError,
)
