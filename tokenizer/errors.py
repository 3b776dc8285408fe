"""Errors caused by the user's input (config, files, missing assets): the command-line entry
points print them as one line and exit with status 2 instead of a traceback."""

import sys
from collections.abc import Callable

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


def exit_code(command: Callable[[], int]) -> int:
    """Run a command-line entry point: a user error prints as one line and exits with status 2."""
    try:
        return command()
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
