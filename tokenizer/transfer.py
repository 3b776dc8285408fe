"""Codebook transfer: generate the image codebooks from the language codebook (VQCT's core).

Word vectors X (adjectives then nouns) pass through a small network to become codes. With
``kind=gcn`` each layer is H ← act(Â H W) over the codebook's normalized modifying graph Â =
D^-1/2 (A+I) D^-1/2, so a noun's code is shaped by the adjectives that modify it and vice versa.
The codes are *generated*: the gradient reaches every code through the shared weights W, which
is what keeps codes from dying (codebook collapse).

Kinds (the paper's Table 2–5 ablations included):
- ``gcn``: graph convolutions (paper: 3 layers each followed by ReLU; official code: 2 of width
  256, dropout between them, no ReLU after the last: ``configs/tokenizer/ablations/official_gcn.yaml``)
- ``mlp``: the same layers without the graph
- ``frozen``: the pretrained vectors themselves, fixed (SPAE-like); a fixed random projection
  maps them to the code width when the widths differ
- ``finetune``: codes start as those frozen codes and are then learned directly
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from common.config import ConfigError

TRANSFER_KINDS = ("gcn", "mlp", "frozen", "finetune")


@dataclass
class TransferConfig:
    kind: str = "gcn"
    layers: int = 3
    hidden_dim: int = 512
    dropout: float = 0.0  # on the hidden layers' inputs (not the word vectors)
    activate_output: bool = True  # the paper applies ReLU after every layer, the last one too
    random_word_vectors: bool = False  # "RI" ablation: Gaussian vectors in place of the language model's


class CodebookTransfer(nn.Module):
    """Maps the codebook's word vectors to (adjective codes [A, out_dim], noun codes [N, out_dim])."""

    def __init__(
        self,
        *,
        num_adjectives: int,
        num_nouns: int,
        word_dim: int,
        graph_nnz: int,
        out_dim: int,
        config: TransferConfig,
    ):
        super().__init__()
        if config.kind not in TRANSFER_KINDS:
            raise ConfigError(f"model.quantizer.transfer.kind must be one of {TRANSFER_KINDS}, got '{config.kind}'")
        if config.kind in ("gcn", "mlp") and config.layers < 1:
            raise ConfigError(f"model.quantizer.transfer.layers must be at least 1, got {config.layers}")
        self.config, self.num_adjectives = config, num_adjectives
        nodes = num_adjectives + num_nouns
        # The codebook travels inside the model (safetensors), so a saved tokenizer needs no language model.
        self.register_buffer("word_vectors", torch.zeros(nodes, word_dim))
        self.register_buffer("graph_indices", torch.zeros(2, graph_nnz, dtype=torch.long))
        self.register_buffer("graph_values", torch.zeros(graph_nnz))
        self.register_buffer(
            "projection", torch.randn(word_dim, out_dim, generator=torch.Generator().manual_seed(0)) / word_dim**0.5
        )
        if config.kind in ("gcn", "mlp"):
            widths = [word_dim] + [config.hidden_dim] * (config.layers - 1) + [out_dim]
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        elif config.kind == "finetune":
            self.codes = nn.Parameter(torch.zeros(nodes, out_dim))

    @torch.no_grad()
    def load_word_graph(self, word_vectors: torch.Tensor, adjacency: torch.Tensor, seed: int = 0) -> None:
        """Copy a codebook's vectors (adjectives then nouns) and sparse normalized adjacency in."""
        if self.config.random_word_vectors:
            generator = torch.Generator().manual_seed(seed)
            word_vectors = torch.randn(word_vectors.shape, generator=generator) * word_vectors.std()
        adjacency = adjacency.coalesce()
        self.word_vectors.copy_(word_vectors)
        self.graph_indices.copy_(adjacency.indices())
        self.graph_values.copy_(adjacency.values())
        if self.word_vectors.shape[1] == self.projection.shape[1]:
            self.projection.copy_(torch.eye(self.projection.shape[0]))
        if self.config.kind == "finetune":
            self.codes.copy_(self.word_vectors @ self.projection)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        kind = self.config.kind
        with torch.autocast(self.word_vectors.device.type, enabled=False):  # sparse products want fp32
            if kind == "frozen":
                codes = self.word_vectors @ self.projection
            elif kind == "finetune":
                codes = self.codes
            else:
                adjacency = None
                if kind == "gcn":
                    size = self.word_vectors.shape[0]
                    adjacency = torch.sparse_coo_tensor(
                        self.graph_indices, self.graph_values, (size, size), check_invariants=False, is_coalesced=True
                    )
                codes = self.word_vectors
                for i, layer in enumerate(self.layers):
                    if i > 0:  # between layers, as the official code; never on the word vectors
                        codes = F.dropout(codes, self.config.dropout, self.training)
                    codes = F.linear(codes, layer.weight)
                    if adjacency is not None:
                        codes = torch.sparse.mm(adjacency, codes)
                    codes = codes + layer.bias
                    if i < len(self.layers) - 1 or self.config.activate_output:
                        codes = F.relu(codes)
        return codes[: self.num_adjectives], codes[self.num_adjectives :]
