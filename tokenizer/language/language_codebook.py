"""``LanguageCodebook``: the language side of VQCT as one reproducible artifact.

On disk it is a folder with two files, no pickle anywhere:
- ``language_codebook.safetensors``: adjective and noun vectors, the graph's edges and weights,
  the words' corpus counts;
- ``language_codebook.json``: the words, how they were built (provider, corpus, settings, report)
  and a SHA-256 content hash over tensors and words, checked on load.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from vqct.common.atomic import atomic_directory
from vqct.common.errors import UserError

from .graph import edge_weights, normalized_adjacency

TENSORS_FILE = "language_codebook.safetensors"
METADATA_FILE = "language_codebook.json"
FORMAT_VERSION = 1
_TENSOR_NAMES = ("adjective_vectors", "noun_vectors", "edge_index", "edge_weight", "adjective_counts", "noun_counts")


class LanguageCodebookFileError(UserError, ValueError):
    """A language codebook folder that is missing, incomplete or altered."""


@dataclass
class LanguageCodebook:
    adjectives: list[str]
    nouns: list[str]
    adjective_vectors: torch.Tensor  # [A, D] float32
    noun_vectors: torch.Tensor  # [N, D] float32
    edge_index: torch.Tensor  # [2, E] int64: adjective index, noun index
    edge_weight: torch.Tensor  # [E] float32: how often the adjective modified the noun
    adjective_counts: torch.Tensor  # [A] int64: occurrences in the corpus
    noun_counts: torch.Tensor  # [N] int64
    info: dict = field(default_factory=dict)  # provider, corpus, build settings, report

    def __post_init__(self):
        a, n = len(self.adjectives), len(self.nouns)
        checks = {
            "adjective_vectors": (self.adjective_vectors.shape[0], a),
            "noun_vectors": (self.noun_vectors.shape[0], n),
            "adjective_counts": (self.adjective_counts.shape[0], a),
            "noun_counts": (self.noun_counts.shape[0], n),
            "edge_weight": (self.edge_weight.shape[0], self.edge_index.shape[1]),
        }
        for name, (got, want) in checks.items():
            if got != want:
                raise LanguageCodebookFileError(f"{name} has {got} rows, expected {want}")
        if self.adjective_vectors.shape[1] != self.noun_vectors.shape[1]:
            raise LanguageCodebookFileError("adjective and noun vectors differ in width")
        if self.edge_index.numel() and (
            int(self.edge_index[0].max()) >= a or int(self.edge_index[1].max()) >= n or int(self.edge_index.min()) < 0
        ):
            raise LanguageCodebookFileError("edge_index points outside the vocabulary")

    def __repr__(self) -> str:
        """One line: sizes, the word vectors and a few words (the dataclass's own would print every
        word and tensor, 1,536 words at quickstart size)."""
        first = ", ".join(self.adjectives[:3] + self.nouns[:3])
        provider = self.info.get("provider")
        return (
            f"LanguageCodebook({len(self.adjectives):,} adjectives, {len(self.nouns):,} nouns, {self.dim}-d vectors"
            + (f" from {provider}" if provider else "")
            + f", {self.edge_index.shape[1]:,} graph edges; e.g. {first})"
        )

    @property
    def dim(self) -> int:
        return int(self.adjective_vectors.shape[1])

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name).contiguous() for name in _TENSOR_NAMES}

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for name, tensor in self.tensors().items():
            digest.update(name.encode())
            digest.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
            digest.update(tensor.numpy().tobytes())
        digest.update(json.dumps([self.adjectives, self.nouns]).encode())
        return digest.hexdigest()

    def normalized_adjacency(self, weighting: str = "count", min_count: int = 1) -> torch.Tensor:
        """D^-1/2 (A+I) D^-1/2 over adjectives then nouns (sparse), the GCN's propagation matrix;
        A holds the edges seen at least ``min_count`` times, weighted by their counts under
        ``weighting`` (``graph.GRAPH_WEIGHTINGS``)."""
        kept = self.edge_weight >= min_count
        weights = edge_weights(self.edge_weight[kept], weighting)
        return normalized_adjacency(len(self.adjectives), len(self.nouns), self.edge_index[:, kept], weights)

    def save(self, directory: str | Path) -> Path:
        """Write the folder atomically; an existing folder is replaced only once the new one is whole."""
        with atomic_directory(directory) as staging:
            save_file(self.tensors(), str(staging / TENSORS_FILE))
            metadata = {
                "format_version": FORMAT_VERSION,
                "content_hash": self.content_hash,
                "adjectives": self.adjectives,
                "nouns": self.nouns,
                "info": self.info,
            }
            (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=1))
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> LanguageCodebook:
        directory = Path(directory)
        tensors_path, metadata_path = directory / TENSORS_FILE, directory / METADATA_FILE
        for path in (tensors_path, metadata_path):
            if not path.is_file():
                raise LanguageCodebookFileError(
                    f"{path} is missing: {directory} is not a language codebook "
                    "(make one with: vqct-language-codebook build --out DIR)"
                )
        try:
            metadata = json.loads(metadata_path.read_text())
            tensors = load_file(str(tensors_path))
            language_codebook = cls(
                adjectives=metadata["adjectives"],
                nouns=metadata["nouns"],
                info=metadata.get("info", {}),
                **{name: tensors[name] for name in _TENSOR_NAMES},
            )
        except Exception as error:  # safetensors, json and shape errors all mean "unreadable"
            raise LanguageCodebookFileError(
                f"{directory}: unreadable language codebook ({type(error).__name__}: {error})"
            ) from None
        if metadata.get("format_version") != FORMAT_VERSION:
            raise LanguageCodebookFileError(
                f"{metadata_path}: format_version {metadata.get('format_version')} unsupported"
            )
        if language_codebook.content_hash != metadata.get("content_hash"):
            raise LanguageCodebookFileError(
                f"{directory}: content hash mismatch, the files were altered or are corrupt"
            )
        return language_codebook
