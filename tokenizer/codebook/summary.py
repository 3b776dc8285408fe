"""A readable summary of a ``LanguageCodebook``: counts, graph degrees, neighbours, sanity cosines."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .language_codebook import LanguageCodebook

# Pairs whose cosines say whether the vectors carry meaning: the first of each pair of pairs
# should usually be the closer one (colours resemble colours; body parts resemble body parts).
SANITY_PAIRS = (("orange", "yellow"), ("yellow", "blue"), ("breast", "belly"), ("breast", "wheel"))


def _word_vectors(codebook: LanguageCodebook) -> tuple[list[str], torch.Tensor]:
    words = [f"{w} (adj)" for w in codebook.adjectives] + [f"{w} (noun)" for w in codebook.nouns]
    return words, F.normalize(torch.cat([codebook.adjective_vectors, codebook.noun_vectors]), dim=1)


def _degree_line(label: str, degree: torch.Tensor) -> str:
    degree = degree.float()
    return (
        f"  {label}: mean {degree.mean():.2f}, median {degree.median():.0f}, max {degree.max():.0f}, "
        f"isolated {int((degree == 0).sum())} of {degree.numel()}"
    )


def cosine(codebook: LanguageCodebook, first: str, second: str) -> float | None:
    """Cosine between two words' vectors (adjective or noun, whichever the codebook has), or None."""
    lookup = {w: v for w, v in zip(codebook.nouns, codebook.noun_vectors)}
    lookup.update(zip(codebook.adjectives, codebook.adjective_vectors))
    if first not in lookup or second not in lookup:
        return None
    return float(F.cosine_similarity(lookup[first], lookup[second], dim=0))


def describe(codebook: LanguageCodebook, words: Sequence[str] = (), neighbours: int = 5) -> str:
    info, report = codebook.info, codebook.info.get("report", {})
    lines = [
        f"language codebook {codebook.content_hash[:12]}: {len(codebook.adjectives)} adjectives, {len(codebook.nouns)} nouns, "
        f"{codebook.dim}-d vectors from '{info.get('provider', '?')}'",
        f"corpus: {info.get('config', {}).get('corpus', '?')} — {report.get('sentences', '?')} sentences, "
        f"{report.get('tokens', '?')} tokens, tagger {report.get('tagger', '?')}",
        f"dropped as unembeddable: {report.get('dropped_unembeddable_adjectives', 0)} adjectives, "
        f"{report.get('dropped_unembeddable_nouns', 0)} nouns; built in {report.get('seconds', '?')} s",
        f"graph: {codebook.edge_weight.numel()} adjective→noun edges, {int(codebook.edge_weight.sum())} modifications",
    ]
    adjective_degree = torch.zeros(len(codebook.adjectives)).index_add_(
        0, codebook.edge_index[0], torch.ones(codebook.edge_index.shape[1])
    )
    noun_degree = torch.zeros(len(codebook.nouns)).index_add_(
        0, codebook.edge_index[1], torch.ones(codebook.edge_index.shape[1])
    )
    lines += [_degree_line("adjective out-degree", adjective_degree), _degree_line("noun in-degree", noun_degree)]
    if codebook.edge_weight.numel():
        top = codebook.edge_weight.topk(min(8, codebook.edge_weight.numel())).indices
        lines.append(
            "  strongest edges: "
            + ", ".join(
                f"{codebook.adjectives[codebook.edge_index[0, i]]}→{codebook.nouns[codebook.edge_index[1, i]]} ({int(codebook.edge_weight[i])})"
                for i in top
            )
        )
    labels, unit = _word_vectors(codebook)
    queries = list(words) or codebook.adjectives[:3] + codebook.nouns[:3]
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
        value = cosine(codebook, first, second)
        lines.append(f"  {first}–{second}: " + (f"{value:.3f}" if value is not None else "n/a (not in the vocabulary)"))
    return "\n".join(lines)
