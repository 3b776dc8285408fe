"""User errors are one line and exit status 2; anything else is a bug and keeps its traceback."""

import pytest

from vqct.common.config import ConfigError
from vqct.common.errors import UserError, UserFileNotFoundError, exit_code


def fails_with(error):
    def command():
        raise error

    return command


@pytest.mark.parametrize(
    "error", [UserError("bad"), ConfigError("key 'x': bad"), UserFileNotFoundError("no such file: a.png")]
)
def test_a_user_error_is_one_line_and_status_2(error, capsys):
    assert exit_code(fails_with(error)) == 2
    assert capsys.readouterr().err == f"error: {error}\n"


@pytest.mark.parametrize("error", [ValueError("a bug"), FileNotFoundError("a bug"), KeyError("a bug")])
def test_a_bug_keeps_its_traceback(error):
    with pytest.raises(type(error)):
        exit_code(fails_with(error))
