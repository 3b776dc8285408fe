"""``vqct-language-codebook build|show|install-wordnet``: make and inspect language codebooks,
and install WordNet from Debian's packages (the one command that changes the system, as root)."""

from __future__ import annotations

import argparse
import logging
import sys

from vqct.common.config import load_config
from vqct.common.errors import exit_code
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.shipped_configs import find_config

from .build import LanguageCodebookConfig, build_language_codebook
from .language_codebook import LanguageCodebook
from .summary import describe
from .wordnet import install_wordnet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vqct-language-codebook", description=__doc__, formatter_class=PlainHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a language codebook and write it to --out")
    build.add_argument(
        "--config",
        help="YAML file, or a shipped config by name (e.g. configs/language_codebook/default.yaml); defaults apply without one",
    )
    build.add_argument("--out", required=True, help="output folder (replaced atomically)")
    build.add_argument(
        "overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. embedding.provider=minilm"
    )
    show = commands.add_parser("show", help="print counts, degree statistics, neighbours and sanity cosines")
    show.add_argument("directory", help="a language codebook folder (what build writes to --out)")
    show.add_argument("--words", nargs="*", default=(), help="words whose nearest neighbours to list")
    show.add_argument("--neighbours", type=int, default=5, help="nearest neighbours listed per word (default 5)")
    commands.add_parser("install-wordnet", help="where WordNet is missing: apt-get install Debian's WordNet (as root)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    return exit_code(lambda: run(args))


def run(args) -> int:
    if args.command == "install-wordnet":
        print(f"WordNet ready: {install_wordnet().root.path}")
        return 0
    if args.command == "build":
        path = None if args.config is None else find_config(args.config, "language_codebook")
        config = load_config(LanguageCodebookConfig, path, args.overrides)
        language_codebook = build_language_codebook(config)
        language_codebook.save(args.out)
        print(f"wrote {args.out}")
    else:
        language_codebook = LanguageCodebook.load(args.directory)
    print(describe(language_codebook, args.words if args.command == "show" else (), getattr(args, "neighbours", 5)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
