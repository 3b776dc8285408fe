"""``AutoregressivePrior``: a causal transformer over [condition | BOS | a₁ n₁ a₂ n₂ …] that
predicts each image token from the ones before it (VQGAN / LlamaGen style), with KV-cached
sampling and raster-order completion."""

from __future__ import annotations

import torch

from .base import BasePrior
from .sampling import mix_guided, sample_logits
from .sequence import deinterleave, interleave, slot_mask


class AutoregressivePrior(BasePrior):
    causal = True

    def _input_cells(self, prefix_length: int, token_grid: tuple[int, int]) -> torch.Tensor:
        """Cell ids of the inputs [condition | BOS | image tokens but the last]: BOS and each image
        token carry the cell of the token they predict (the next one), condition tokens their own."""
        cells = self._cells(prefix_length, token_grid)
        return torch.cat([cells[:prefix_length], cells[prefix_length + 1 :]])

    def forward(
        self, codes: torch.Tensor, condition: torch.Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Mean cross-entropy over the image tokens of codes [B, G, h, w]."""
        batch, _, h, w = codes.shape
        image = interleave(self.vocabulary, codes.to(self.device))
        drop = self.config.cond_drop_prob if self.training else 0.0
        start = self._start(self.condition_prefix(condition, batch, (h, w), drop_prob=drop, generator=generator))
        start, labels = self._read_start(condition, start, (h, w))
        sequence = torch.cat([start, image[:, :-1]], 1)
        cells = self._input_cells(start.shape[1] - 1, (h, w))
        hidden = self._net(sequence, cells, labels, return_embeddings=True)[:, start.shape[1] - 1 :]
        return self._slot_loss(hidden, image)

    @torch.no_grad()
    def sample(
        self,
        condition: torch.Tensor | None = None,
        token_grid: tuple[int, int] = (16, 16),
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        guidance_scale: float = 1.0,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        prefix_codes: torch.Tensor | None = None,
        prefix_cells: int = 0,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """Codes [B, G, h, w]. Completion: the first ``prefix_cells`` raster cells of
        ``prefix_codes`` [B, G, h, w] are kept as given and the rest is sampled after them."""
        h, w = token_grid
        vocabulary, device = self.vocabulary, self.device
        batch, length, guided, start = self._sampling_start(
            condition, token_grid, prefix_codes, "prefix_codes", batch_size, guidance_scale
        )
        if not 0 <= prefix_cells <= h * w or (prefix_cells and prefix_codes is None):
            raise ValueError(f"prefix_cells must be in [0, {h * w}] and needs prefix_codes, got {prefix_cells}")
        known = prefix_cells * vocabulary.groups
        tokens = interleave(vocabulary, prefix_codes.to(device))[:, :known] if known else start.new_empty(batch, 0)
        allowed = slot_mask(vocabulary, length, device)
        start, labels = self._read_start(condition, start, token_grid)
        cells = self._input_cells(start.shape[1] - 1, token_grid)
        cache = None
        for position in range(known, length):
            sequence = torch.cat([start, tokens.repeat(2, 1) if guided else tokens], 1)
            n = sequence.shape[1]
            if not use_cache:
                logits = self._net(sequence, cells[:n], labels)
            elif cache is None:  # the whole prompt once; then one new token per step
                logits, cache = self._net(sequence, cells[:n], labels, return_intermediates=True)
            else:
                logits, cache = self._net(
                    sequence[:, -1:],
                    cells[n - 1 : n],
                    labels,
                    cache=cache,
                    input_not_include_cache=True,
                    return_intermediates=True,
                )
            logits = mix_guided(logits[:, -1], guided, guidance_scale)
            token = sample_logits(
                logits, allowed[position], temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )
            tokens = torch.cat([tokens, token[:, None]], 1)
        return deinterleave(vocabulary, tokens, h, w)
