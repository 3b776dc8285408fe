"""``--help`` text as a terminal shows it: module docstrings are the commands' descriptions, and
their reST double backticks (````metrics.json````) read as noise there, so they are dropped."""

from __future__ import annotations

import argparse


class PlainHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description's lines as written (a usage block stays a block), without double backticks."""

    def format_help(self) -> str:
        return super().format_help().replace("``", "")
