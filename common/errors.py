"""Errors caused by the user's input (a config, a file, a missing asset): the command-line entry
points print them as one line and exit with status 2. Anything else is a bug and keeps its
traceback."""

import sys
from collections.abc import Callable


class UserError(Exception):
    """Base of every error whose message tells the user what to fix (which file, key or value)."""


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist (or is not the kind expected)."""


class UserValueError(UserError, ValueError):
    """A value the user gave (flag, argument, file content) that cannot be used."""


def exit_code(command: Callable[[], int]) -> int:
    """Run a command-line entry point: a ``UserError`` prints as one line and exits with status 2."""
    try:
        return command()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
