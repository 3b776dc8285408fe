"""Every command's --help: a help line for every flag, and no reST markup (double backticks) from
the docstrings the descriptions are made of."""

import argparse
import importlib

import pytest

COMMANDS = {  # console script or python -m name: the module whose main(argv) builds its parser
    "vqct-language-codebook": "vqct.tokenizer.language.__main__",
    "vqct-train-tokenizer": "vqct.tokenizer.train",
    "vqct-train-prior": "vqct.prior.train",
    "vqct-sample": "vqct.prior.sample",
    "vqct-evaluate tokenizer": "vqct.tokenizer.evaluate",
    "vqct-evaluate prior": "vqct.prior.evaluate",
    "vqct-demo": "vqct.apps.demo",
    "vqct-convert": "vqct.tokenizer.convert.cli",
    "vqct-rehearse": "vqct.tokenizer.rehearse",
    "vqct-prior-study": "vqct.prior.study",
    "python -m vqct.prior.tokens": "vqct.prior.tokens",
    "python -m vqct.apps.screenshots": "vqct.apps.screenshots",
}
BACKTICKS_LEFT: set[str] = set()


class Built(Exception):
    def __init__(self, parser):
        self.parser = parser


def built_parser(module: str, monkeypatch) -> argparse.ArgumentParser:
    """The parser ``module``'s main builds, caught as it starts parsing."""

    def caught(self, *args, **kwargs):
        raise Built(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", caught)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_intermixed_args", caught)
    with pytest.raises(Built) as built:
        importlib.import_module(module).main([])
    return built.value.parser


def parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from parsers(sub)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_flag_has_help_and_no_rest_markup_shows(command, monkeypatch):
    for parser in parsers(built_parser(COMMANDS[command], monkeypatch)):
        lacking = [
            action.option_strings[0] if action.option_strings else action.dest
            for action in parser._actions
            if not isinstance(action, argparse._SubParsersAction) and not action.help
        ]
        assert not lacking, f"{parser.prog}: no help for {lacking}"
        if command not in BACKTICKS_LEFT:
            assert "``" not in parser.format_help(), parser.prog
