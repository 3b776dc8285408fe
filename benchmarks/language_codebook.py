"""Codebook-codebook build times and word-vector sanity cosines, printed as tables.

    .venv/bin/python -m benchmarks.language_codebook [--providers glove minilm clip]

Build: the default config (offline quickstart) and the GloVe-vocabulary config at the official
code's sizes; nothing is written. Sanity: cosines of (orange, yellow) vs (yellow, blue) and
(breast, belly) vs (breast, wheel) through each provider's own prompts, for every provider that
loads here (CLIP needs its weights: a network or embedding.model=/local/folder).
"""

from __future__ import annotations

import argparse
import time

import torch.nn.functional as F

from vqct.common.config import load_config
from vqct.common.shipped_configs import find_config
from vqct.tokenizer.language import (
    EmbeddingConfig,
    LanguageCodebookConfig,
    ProviderUnavailableError,
    build_language_codebook,
    load_provider,
)
from vqct.tokenizer.language.summary import SANITY_PAIRS


def build_table(configs: list[str]) -> None:
    print("| config | adjectives | nouns | edges | sentences | tagger | seconds |")
    print("|---|---:|---:|---:|---:|---|---:|")
    for path in configs:
        started = time.perf_counter()
        codebook = build_language_codebook(load_config(LanguageCodebookConfig, find_config(path, "language_codebook")))
        report = codebook.info["report"]
        print(
            f"| {path} | {len(codebook.adjectives)} | {len(codebook.nouns)} | {report['edges']} | {report['sentences']} "
            f"| {report['tagger']} | {time.perf_counter() - started:.1f} |"
        )


def sanity_table(providers: list[str]) -> None:
    print("| provider | " + " | ".join(f"{a}–{b}" for a, b in SANITY_PAIRS) + " |")
    print("|---|" + "---:|" * len(SANITY_PAIRS))
    for name in providers:
        try:
            provider = load_provider(EmbeddingConfig(provider=name))
        except ProviderUnavailableError as error:
            print(f"| {name} | not loadable here: {str(error).splitlines()[0][:80]}… |")
            continue
        words = sorted({w for pair in SANITY_PAIRS for w in pair})
        # nouns' prompt for every word: the pairs mix colours and body parts
        vectors = dict(zip(words, provider.embed(words, "n")))
        cosines = [F.cosine_similarity(vectors[a], vectors[b], dim=0).item() for a, b in SANITY_PAIRS]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cosines) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--providers", nargs="*", default=["glove", "minilm", "clip"])
    parser.add_argument(
        "--configs",
        nargs="*",
        default=["configs/language_codebook/default.yaml", "configs/language_codebook/glove_vocab.yaml"],
    )
    args = parser.parse_args()
    build_table(args.configs)
    print()
    sanity_table(args.providers)
