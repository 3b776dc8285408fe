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

Codes given directly (``frozen``, ``finetune``) start where the word vectors are: GloVe's spread
about 0.6 a dimension, against an encoder output of about 0.007 at initialisation. Every encoder
vector is then nearest the same one or two codes, which alone get gradients, and the run
collapses to one flat colour. With ``start_scale: encoder`` (the default) the first training batch
moves each codebook, by one scale and one shift, onto the encoder output of its half: the words'
relative geometry is kept, and the encoder meets codes it can reach. ``vectors`` keeps the raw
scale. Generated codes (``gcn``, ``mlp``) start at the encoder's scale already (about 0.01).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vqct.common.config import ConfigError, check_values, chosen, ranged

from .language.graph import GRAPH_WEIGHTINGS
from .quantize.start import scale_and_shift

TRANSFER_KINDS = ("gcn", "mlp", "frozen", "finetune")
START_SCALES = ("encoder", "vectors")
WORD_VECTOR_CONTROLS = ("none", "permuted", "moments")


@dataclass
class TransferConfig:
    kind: str = chosen("gcn", TRANSFER_KINDS)
    layers: int = ranged(3, 1)
    hidden_dim: int = ranged(512, 1)
    dropout: float = ranged(0.0, 0, 1, high_open=True)  # on the hidden layers' inputs (not the word vectors)
    activate_output: bool = True  # the paper applies ReLU after every layer, the last one too
    random_word_vectors: bool = False  # "RI" ablation: Gaussian vectors in place of the language model's
    # controls that keep part of the language model's vectors (language: none; one at a time, and
    # not with random_word_vectors): permuted (the same vectors dealt to other words: does *which*
    # word gets which vector matter?) | moments (Gaussian vectors with the vectors' mean and
    # covariance: is their geometry alone enough?)
    word_vector_control: str = chosen("none", WORD_VECTOR_CONTROLS)
    # A's weights from the edges' corpus counts: binary (the paper's 0/1) | count | log1p
    # (tokenizer/language/graph.py); edges seen fewer than graph_min_count times are left out
    graph_weighting: str = chosen("count", GRAPH_WEIGHTINGS)
    graph_min_count: int = ranged(1, 1)
    # frozen / finetune codes: encoder (moved onto the encoder output's scale by the first
    # training batch) | vectors (the word vectors' own scale)
    start_scale: str = chosen("encoder", START_SCALES)


def stand_in_vectors(word_vectors: torch.Tensor, config: TransferConfig, seed: int) -> torch.Tensor:
    """The vectors the transfer network is given: the language model's, or a control's stand-in
    for them (drawn from a generator seeded with the run's seed, so the global stream is untouched)."""
    generator = torch.Generator().manual_seed(seed)
    if config.random_word_vectors:  # isotropic, zero mean, matched by one global sd
        return torch.randn(word_vectors.shape, generator=generator) * word_vectors.std()
    if config.word_vector_control == "permuted":
        return word_vectors[torch.randperm(word_vectors.shape[0], generator=generator)]
    if config.word_vector_control == "moments":
        vectors = word_vectors.double()
        mean = vectors.mean(0)
        # covariance square root by eigendecomposition: a rank-deficient covariance is still fine
        values, basis = torch.linalg.eigh(torch.cov(vectors.T))
        root = basis * values.clamp(min=0).sqrt()
        noise = torch.randn(vectors.shape, generator=generator, dtype=torch.float64)
        return (mean + noise @ root.T).to(word_vectors.dtype)
    return word_vectors


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
        check_values(config, prefix="model.quantizer.transfer.")
        if config.random_word_vectors and config.word_vector_control != "none":
            raise ConfigError(
                "model.quantizer.transfer.random_word_vectors=true and "
                f"word_vector_control={config.word_vector_control}: choose one stand-in for the word vectors"
            )
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
        if self.codes_given:
            # per code group (adjectives, nouns): codes → codes · scale + shift, set by match_start
            self.register_buffer("start_scale", torch.ones(2))
            self.register_buffer("start_shift", torch.zeros(2, out_dim))
            self.register_buffer("start_matched", torch.tensor(config.start_scale != "encoder"))
        # kept on the host, so training never reads the flag back from the device
        self.start_pending = self.codes_given and config.start_scale == "encoder"

    @property
    def codes_given(self) -> bool:
        """Whether the codes are given directly (frozen, finetune) rather than generated by a network."""
        return self.config.kind in ("frozen", "finetune")

    @torch.no_grad()
    def load_word_graph(self, word_vectors: torch.Tensor, adjacency: torch.Tensor, seed: int = 0) -> None:
        """Copy a codebook's vectors (adjectives then nouns) and sparse normalized adjacency in."""
        word_vectors = stand_in_vectors(word_vectors, self.config, seed)
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
                groups = torch.arange(codes.shape[0], device=codes.device) >= self.num_adjectives
                codes = codes * self.start_scale[groups.long(), None] + self.start_shift[groups.long()]
            elif kind == "finetune":
                codes = self.codes
            else:
                adjacency = None
                # torch's sparse products are missing on Apple's MPS: there the graph products (one
                # transfer per training step; cached at inference) go through the CPU
                sparse_device = torch.device("cpu") if self.word_vectors.device.type == "mps" else None
                if kind == "gcn":
                    size = self.word_vectors.shape[0]
                    adjacency = torch.sparse_coo_tensor(
                        self.graph_indices.to(sparse_device),
                        self.graph_values.to(sparse_device),
                        (size, size),
                        check_invariants=False,
                        is_coalesced=True,
                    )
                codes = self.word_vectors
                for i, layer in enumerate(self.layers):
                    if i > 0:  # between layers, as the official code; never on the word vectors
                        codes = F.dropout(codes, self.config.dropout, self.training)
                    codes = F.linear(codes, layer.weight)
                    if adjacency is not None:
                        codes = torch.sparse.mm(adjacency, codes.to(sparse_device)).to(codes.device)
                    codes = codes + layer.bias
                    if i < len(self.layers) - 1 or self.config.activate_output:
                        codes = F.relu(codes)
        return codes[: self.num_adjectives], codes[self.num_adjectives :]

    @torch.no_grad()
    def match_start(self, adjective_rows: torch.Tensor, noun_rows: torch.Tensor) -> None:
        """Move given codes onto the encoder output they will be compared with (rows [M, D] of
        each half, from the first training batch): one scale, the ratio of the spreads, and one
        shift, the difference of the means, per code group. Statistics are summed over processes,
        so every rank moves its codes alike. Runs once; the flag travels in checkpoints."""
        codes = self.word_vectors @ self.projection if self.config.kind == "frozen" else self.codes.detach()
        split = (codes[: self.num_adjectives], codes[self.num_adjectives :])
        for group, (rows, group_codes) in enumerate(zip((adjective_rows, noun_rows), split)):
            scale, shift = scale_and_shift(group_codes, rows)
            if self.config.kind == "frozen":
                self.start_scale[group], self.start_shift[group] = scale, shift
            else:
                group_codes.mul_(scale).add_(shift)  # a view of self.codes: the learned codes themselves move
        self.start_matched.fill_(True)
        self.start_pending = False

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if self.codes_given and prefix + "start_matched" not in state_dict:
            # saved before codes were matched to the encoder: they were used at their own scale
            state_dict[prefix + "start_scale"] = torch.ones_like(self.start_scale)
            state_dict[prefix + "start_shift"] = torch.zeros_like(self.start_shift)
            state_dict[prefix + "start_matched"] = torch.tensor(True)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if self.codes_given:
            self.start_pending = not bool(self.start_matched)
