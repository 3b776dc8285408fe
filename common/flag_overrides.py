"""Config overrides written as flags, the habit of diffusers' example scripts: ``--max_steps 5``,
``--max_steps=5`` and, for a boolean key, a bare ``--push_to_hub``, read as ``max_steps=5`` and
``push_to_hub=true`` beside the ``key=value`` form, for every key of the config. A flag that is
no key is one error naming the nearest keys (not argparse's "unrecognized arguments")."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from .config import ConfigError

BOOLEAN_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def flags_as_overrides(argv: Sequence[str], keys: dict[str, object], own_flags: Sequence[str]) -> list[str]:
    """``argv`` with every ``--key value``, ``--key=value`` and bare boolean ``--key`` of a config
    key (``keys``: dotted key → default) turned into ``key=value``; ``own_flags`` (``--config`` …)
    and everything else left as it is. A dash in a flag's name reads as an underscore."""
    result, index = [], 0
    while index < len(argv):
        item = argv[index]
        index += 1
        if not item.startswith("--") or item == "--" or item.partition("=")[0] in own_flags:
            result.append(item)
            continue
        flag, sep, value = item.partition("=")
        key = flag[2:].replace("-", "_")
        if key not in keys:
            nearest = difflib.get_close_matches(key, list(keys), n=3, cutoff=0.6)
            hint = f"; nearest keys: {', '.join(nearest)}" if nearest else ""
            raise ConfigError(
                f"{flag}: not a config key{hint} (overrides are key=value, --key value or --key=value; --help lists the keys)"
            )
        if not sep:
            following = argv[index] if index < len(argv) else None
            boolean = isinstance(keys[key], bool)
            if boolean and (following is None or following.lower() not in BOOLEAN_WORDS):
                value = "true"  # a bare flag switches a boolean on
            elif following is None or (following.startswith("--") and not boolean):
                raise ConfigError(f"{flag}: needs a value ({flag} VALUE, {flag}=VALUE or {key}=VALUE)")
            else:
                value, index = following, index + 1
        result.append(f"{key}={value}")
    return result
