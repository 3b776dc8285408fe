"""``MaskedPrior``: a bidirectional transformer over [condition | BOS | image tokens, some
replaced by MASK] trained to predict the masked ones, and sampled by MaskGIT's iterative
decoding; any set of cells can be kept fixed (completion)."""

from __future__ import annotations

import math

import torch

from .base import BasePrior
from .sampling import gumbel_noise, mix_guided, uniform_noise
from .sequence import cell_mask_to_tokens, deinterleave, interleave, slot_mask


def cosine_mask_ratio(t: torch.Tensor) -> torch.Tensor:
    """MaskGIT's schedule: fraction still masked at progress t ∈ [0, 1]."""
    return torch.cos(t * math.pi / 2)


class MaskedPrior(BasePrior):
    causal = False

    def _image_outputs(
        self,
        start: torch.Tensor,
        labels: torch.Tensor | None,
        image: torch.Tensor,
        token_grid: tuple[int, int],
        **kwargs,
    ) -> torch.Tensor:
        """The network's logits at the image tokens (its hidden states with ``return_embeddings=True``);
        ``labels``: ``_cell_labels`` of the rows of ``start``."""
        cells = self._cells(start.shape[1] - 1, token_grid)
        return self._net(torch.cat([start, image], 1), cells, labels, **kwargs)[:, start.shape[1] :]

    def forward(
        self, codes: torch.Tensor, condition: torch.Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Cross-entropy on the masked image tokens; each sample masks cos(π/2·t), t ~ U(0, 1), of them."""
        batch, _, h, w = codes.shape
        vocabulary, device = self.vocabulary, self.device
        image = interleave(vocabulary, codes.to(device))
        length = image.shape[1]
        drop = self.config.cond_drop_prob if self.training else 0.0
        start = self._start(self.condition_prefix(condition, batch, (h, w), drop_prob=drop, generator=generator))
        count = torch.ceil(cosine_mask_ratio(uniform_noise((batch,), generator, device)) * length).clamp(1, length)
        ranks = uniform_noise((batch, length), generator, device).argsort(1).argsort(1)  # a random order per sample
        masked = ranks < count[:, None]
        start, labels = self._read_start(condition, start, (h, w))
        inputs = image.masked_fill(masked, vocabulary.mask)
        hidden = self._image_outputs(start, labels, inputs, (h, w), return_embeddings=True)
        # the mean over masked tokens, unmasked ones ignored: a boolean index would wait on the device for its size
        return self._slot_loss(hidden, image, masked)

    @torch.no_grad()
    def sample(
        self,
        condition: torch.Tensor | None = None,
        token_grid: tuple[int, int] = (16, 16),
        *,
        steps: int = 8,
        temperature: float = 1.0,
        choice_temperature: float = 4.5,
        known_codes: torch.Tensor | None = None,
        known_mask: torch.Tensor | None = None,
        guidance_scale: float = 1.0,
        generator: torch.Generator | None = None,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """Codes [B, G, h, w] by MaskGIT decoding in ``steps`` rounds.

        ``known_codes`` [B, G, h, w] with ``known_mask`` ([B, h, w] per cell or [B, G, h, w] per
        token, True = known) are copied in and never changed. Each round samples every masked
        token, keeps the most confident ones and re-masks the rest so that cos(π/2·(s+1)/steps)
        of the unknown tokens stay masked; confidence is the log-probability plus Gumbel noise
        annealed from ``choice_temperature`` to 0 (MaskGIT), which diversifies the order.
        """
        h, w = token_grid
        vocabulary, device = self.vocabulary, self.device
        batch, length, guided, start = self._sampling_start(
            condition, token_grid, known_codes, "known_codes", batch_size, guidance_scale
        )
        tokens = torch.full((batch, length), vocabulary.mask, dtype=torch.long, device=device)
        if (known_codes is None) != (known_mask is None):
            raise ValueError("known_codes and known_mask go together")
        if known_codes is not None:
            fixed = cell_mask_to_tokens(vocabulary, known_mask.to(device).bool())
            tokens = torch.where(fixed, interleave(vocabulary, known_codes.to(device)), tokens)
        unknown = (tokens == vocabulary.mask).sum(1)
        allowed = slot_mask(vocabulary, length, device)
        start, labels = self._read_start(condition, start, token_grid)
        for step in range(steps):
            masked = tokens == vocabulary.mask
            if not masked.any():
                break
            logits = mix_guided(
                self._image_outputs(start, labels, tokens.repeat(2, 1) if guided else tokens, token_grid),
                guided,
                guidance_scale,
            )
            logits = logits.float().masked_fill(~allowed, float("-inf"))
            if temperature == 0:
                sampled = logits.argmax(-1)
            else:
                sampled = (logits / temperature + gumbel_noise(logits.shape, generator, device)).argmax(-1)
            confidence = logits.log_softmax(-1).gather(-1, sampled[..., None]).squeeze(-1)
            progress = (step + 1) / steps
            if choice_temperature > 0:
                confidence = confidence + choice_temperature * (1 - progress) * gumbel_noise(
                    confidence.shape, generator, device
                )
            # decided tokens (known or from earlier rounds) are never re-masked
            confidence = confidence.masked_fill(~masked, float("inf"))
            remain = torch.floor(cosine_mask_ratio(torch.tensor(progress)) * unknown).long()
            remain = torch.minimum(remain, masked.sum(1) - 1).clamp(min=0)  # at least one new token per round
            remask = confidence.argsort(1).argsort(1) < remain[:, None]
            tokens = torch.where(masked & ~remask, sampled, tokens)
        return deinterleave(vocabulary, tokens, h, w)
