"""Where the toolkit keeps what it makes once per machine (WordNet copy, converted FID weights)."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$VQCT_CACHE``, else ``$XDG_CACHE_HOME/vqct``, else ``~/.cache/vqct``."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "vqct"
    return Path(os.environ.get("VQCT_CACHE") or default).expanduser()
