"""Text corpora the vocabulary and the modifying graph are mined from.

A corpus source is one of:
- ``builtin:shapes``: the captions of the built-in procedural data set (``tokenizer.data.shapes``);
- ``builtin:wordnet``: WordNet's glosses and example sentences (~200k short sentences, offline);
- a ``.json`` file in COCO's caption layout (``{"annotations": [{"caption": ...}, ...]}``);
- a folder: every ``.txt`` file below it, one caption per line (CUB-200 / CelebA caption layouts);
- any other file: plain text, one sentence or caption per line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from vqct.common.errors import UserError


class CorpusError(UserError, ValueError):
    """A corpus source that is missing, unreadable or empty."""


def wordnet_sentences(wordnet) -> Iterator[str]:
    """Glosses and example sentences straight from WordNet's data files (fast, no synset objects)."""
    for suffix in ("noun", "verb", "adj", "adv"):
        with wordnet.open(f"data.{suffix}") as handle:
            for line in handle:
                if line.startswith(" "):
                    continue
                _, _, gloss = line.partition(" | ")
                for part in gloss.split(";"):
                    yield part.strip().strip('"')


def coco_captions(path: Path) -> Iterator[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        annotations = data["annotations"]
        return (str(item["caption"]) for item in annotations)
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CorpusError(
            f"{path}: not a COCO caption file (expected {{'annotations': [{{'caption': ...}}]}}): {error}"
        ) from None


def text_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if line:
                yield line


def iter_source(source: str, *, wordnet, shapes_captions: int, seed: int) -> Iterator[str]:
    """The sentences of one corpus source (see module docstring for the accepted forms)."""
    if source == "builtin:shapes":
        from ..data.shapes import ShapesConfig, caption_corpus

        yield from caption_corpus(ShapesConfig(seed=seed), shapes_captions)
        return
    if source == "builtin:wordnet":
        yield from wordnet_sentences(wordnet)
        return
    if source.startswith("builtin:"):
        raise CorpusError(f"unknown built-in corpus '{source}': use builtin:shapes or builtin:wordnet")
    path = Path(source).expanduser()
    if not path.exists():
        raise CorpusError(f"corpus source not found: {path}")
    if path.is_dir():
        files = sorted(path.rglob("*.txt"))
        if not files:
            raise CorpusError(f"corpus folder {path} holds no .txt caption files")
        for file in files:
            yield from text_lines(file)
    elif path.suffix.lower() == ".json":
        yield from coco_captions(path)
    else:
        yield from text_lines(path)
