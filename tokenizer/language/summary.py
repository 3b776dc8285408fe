"""A readable summary of a ``LanguageCodebook``: counts, graph degrees, neighbours, sanity cosines."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .language_codebook import LanguageCodebook

# Pairs whose cosines say whether the vectors carry meaning: the first of each pair of pairs
# should usually be the closer one (colours resemble colours; body parts resemble body parts).
SANITY_PAIRS = (("orange", "yellow"), ("yellow", "blue"), ("breast", "belly"), ("breast", "wheel"))


def _word_vectors(language_codebook: LanguageCodebook) -> tuple[list[str], torch.Tensor]:
    words = [f"{w} (adj)" for w in language_codebook.adjectives] + [f"{w} (noun)" for w in language_codebook.nouns]
    return words, F.normalize(torch.cat([language_codebook.adjective_vectors, language_codebook.noun_vectors]), dim=1)


def _degree_line(label: str, degree: torch.Tensor) -> str:
    degree = degree.float()
    return (
        f"  {label}: mean {degree.mean():.2f}, median {degree.median():.0f}, max {degree.max():.0f}, "
        f"isolated {int((degree == 0).sum())} of {degree.numel()}"
    )


def cosine(language_codebook: LanguageCodebook, first: str, second: str) -> float | None:
    """Cosine between two words' vectors (adjective or noun, whichever the language_codebook has), or None."""
    lookup = {w: v for w, v in zip(language_codebook.nouns, language_codebook.noun_vectors)}
    lookup.update(zip(language_codebook.adjectives, language_codebook.adjective_vectors))
    if first not in lookup or second not in lookup:
        return None
    return float(F.cosine_similarity(lookup[first], lookup[second], dim=0))


def describe(language_codebook: LanguageCodebook, words: Sequence[str] = (), neighbours: int = 5) -> str:
    info, report = language_codebook.info, language_codebook.info.get("report", {})
    lines = [
        f"language language_codebook {language_codebook.content_hash[:12]}: {len(language_codebook.adjectives)} adjectives, {len(language_codebook.nouns)} nouns, "
        f"{language_codebook.dim}-d vectors from '{info.get('provider', '?')}'",
        f"corpus: {info.get('config', {}).get('corpus', '?')} — {report.get('sentences', '?')} sentences, "
        f"{report.get('tokens', '?')} tokens, tagger {report.get('tagger', '?')}",
        f"dropped as unembeddable: {report.get('dropped_unembeddable_adjectives', 0)} adjectives, "
        f"{report.get('dropped_unembeddable_nouns', 0)} nouns; built in {report.get('seconds', '?')} s",
        f"graph: {language_codebook.edge_weight.numel()} adjective→noun edges, {int(language_codebook.edge_weight.sum())} modifications",
    ]
    adjective_degree = torch.zeros(len(language_codebook.adjectives)).index_add_(
        0, language_codebook.edge_index[0], torch.ones(language_codebook.edge_index.shape[1])
    )
    noun_degree = torch.zeros(len(language_codebook.nouns)).index_add_(
        0, language_codebook.edge_index[1], torch.ones(language_codebook.edge_index.shape[1])
    )
    lines += [_degree_line("adjective out-degree", adjective_degree), _degree_line("noun in-degree", noun_degree)]
    if language_codebook.edge_weight.numel():
        top = language_codebook.edge_weight.topk(min(8, language_codebook.edge_weight.numel())).indices
        lines.append(
            "  strongest edges: "
            + ", ".join(
                f"{language_codebook.adjectives[language_codebook.edge_index[0, i]]}→{language_codebook.nouns[language_codebook.edge_index[1, i]]} ({int(language_codebook.edge_weight[i])})"
                for i in top
            )
        )
    labels, unit = _word_vectors(language_codebook)
    queries = list(words) or language_codebook.adjectives[:3] + language_codebook.nouns[:3]
    lines.append(f"nearest neighbours (cosine, top {neighbours}):")
    for query in queries:
        matches = [i for i, label in enumerate(labels) if label.split(" (")[0] == query]
        if not matches:
            lines.append(f"  {query}: not in the vocabulary")
        for i in matches:
            scores = unit @ unit[i]
            scores[i] = -2
            best = scores.topk(min(neighbours, len(labels) - 1))
            lines.append(
                f"  {labels[i]}: "
                + ", ".join(f"{labels[j]} {s:.2f}" for s, j in zip(best.values.tolist(), best.indices.tolist()))
            )
    lines.append("sanity cosines:")
    for first, second in SANITY_PAIRS:
        value = cosine(language_codebook, first, second)
        lines.append(f"  {first}–{second}: " + (f"{value:.3f}" if value is not None else "n/a (not in the vocabulary)"))
    return "\n".join(lines)
