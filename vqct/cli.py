"""``vqct-evaluate tokenizer|prior …``: one command for both stages' evaluations, each with its
own flags (``vqct-evaluate tokenizer --help``, ``vqct-evaluate prior --help``)."""

from __future__ import annotations

import sys

STAGES = {"tokenizer": "vqct.tokenizer.evaluate", "prior": "vqct.prior.evaluate"}
USAGE = "usage: vqct-evaluate {tokenizer,prior} [--help | flags of that evaluation]"


def evaluate(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in STAGES:
        print(USAGE, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        if argv and argv[0] not in ("-h", "--help"):
            print(
                f"error: the first word names the stage to evaluate, tokenizer or prior; got {argv[0]!r}",
                file=sys.stderr,
            )
            return 2
        return 0 if argv else 2
    import importlib

    return importlib.import_module(STAGES[argv[0]]).main(argv[1:], prog=f"vqct-evaluate {argv[0]}")
