"""The stage-two workloads the benchmarks time: a prior of a shipped config (shrunk with
``--quick``), a random batch of codes and maps, one training step, and a counter of the
transformer's forward passes."""

from __future__ import annotations

from dataclasses import replace

import torch

from benchmarks.synthetic_codebook import PAPER_ADJECTIVES, PAPER_NOUNS
from vqct.common.config import load_config
from vqct.common.shipped_configs import shipped_config
from vqct.prior import build_prior
from vqct.prior.config import PriorTrainConfig
from vqct.prior.sequence import TokenVocabulary

# --quick: the paper's models shrunk to what a laptop CPU runs in seconds
QUICK_PRIOR = dict(dim=64, depth=2, heads=2)
QUICK_GRID = 4


def prior_config(name: str, quick: bool) -> PriorTrainConfig:
    config = load_config(PriorTrainConfig, shipped_config(f"prior/{name}"))
    if quick:
        config.model = replace(config.model, **QUICK_PRIOR)
    return config


def random_batch(
    vocabulary: TokenVocabulary, batch: int, grid: int, condition: str, device: torch.device, pixels_per_cell: int = 16
):
    """Random codes [batch, 2, grid, grid] and, for a semantic prior, maps of ``pixels_per_cell``
    pixels a cell side (16: a 256 px map over a 16×16 grid)."""
    generator = torch.Generator().manual_seed(0)
    adjectives = torch.randint(vocabulary.num_adjectives, (batch, 1, grid, grid), generator=generator)
    nouns = torch.randint(vocabulary.num_nouns, (batch, 1, grid, grid), generator=generator)
    codes = torch.cat([adjectives, nouns], 1).to(device)
    maps = None
    if condition == "semantic":
        size = grid * pixels_per_cell
        maps = torch.randint(vocabulary.num_classes, (batch, size, size), generator=generator).to(device)
    return codes, maps


def training_step(
    config: PriorTrainConfig,
    vocabulary: TokenVocabulary,
    grid: int,
    device: torch.device,
    dtype: torch.dtype | None = None,
    *,
    compile: bool = False,
    pixels_per_cell: int = 16,
):
    """One call = one training step of ``config``'s prior on a fixed random batch of ``grid``×``grid``
    codes (maps of ``pixels_per_cell`` pixels a cell side); ``compile`` as the train script's
    ``compile=true``."""
    torch.manual_seed(0)
    model = build_prior(config.model, vocabulary).to(device).train()
    if compile:
        model.compile()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, fused=device.type == "cuda")
    codes, maps = random_batch(vocabulary, config.batch_size, grid, config.model.condition, device, pixels_per_cell)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = model(codes, maps)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def prior_training_step(args, device, dtype, name: str = "celebahq_semantic.yaml", *, compile: bool = False):
    """(one call = one training step of prior config ``name`` on a fixed batch, its config, image
    tokens per step); ``compile`` as the train script's ``compile=true``."""
    config = prior_config(name, args.quick)
    vocabulary = TokenVocabulary(PAPER_ADJECTIVES, PAPER_NOUNS, config.model.num_classes)
    grid = QUICK_GRID if args.quick else 16
    step = training_step(config, vocabulary, grid, device, dtype, compile=compile)
    return step, config, config.batch_size * vocabulary.image_length(grid, grid)


class PassCounter:
    """Counts forward passes of a prior's transformer."""

    def __init__(self, model):
        self.count = 0
        model.net.register_forward_pre_hook(self._seen)

    def _seen(self, module, inputs):
        self.count += 1
