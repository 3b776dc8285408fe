"""Reg-VQ (Zhang et al., "Regularized Vector Quantization for Tokenized Image Synthesis", CVPR
2023): Gumbel-VQ's per-position logits over K codes, with two regularizers.

- Stochastic mask: in training a random ``mask_ratio`` of the positions (each position on its
  own, Bernoulli; the paper's best ratio is 40 %) take a Gumbel-sampled code, the others the
  argmax code. Both are hard one-hots forward; the gradient flows through the Gumbel-softmax
  and the plain softmax respectively (straight-through). Evaluation takes the argmax everywhere.
- Prior distribution regularization: KL(P_post ‖ uniform), where P_post is the code usage
  averaged over every position of the batch. The paper averages over an image's H×W positions.
  We read it per batch: one histogram per step, and one image's 256 positions could never
  spread over thousands of codes. Unlike Gumbel-VQ's KL it constrains the usage, not each
  position's uncertainty.

Not here: the paper's probabilistic contrastive loss, which needs VGG-19 features (weights this
toolkit cannot fetch offline) and details the paper leaves open. Its loss weights are not
published; ``prior_weight`` 0.01 is ours (the KL lies in [0, log K], next to an l1 of ~0.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .gumbel import GumbelQuantizer
from .vector import Quantized


def usage_kl_to_uniform(one_hot: torch.Tensor) -> torch.Tensor:
    """KL(mean code usage ‖ uniform) of one-hots [B, K, h, w]: log K minus the usage's entropy."""
    usage = one_hot.float().mean((0, 2, 3))
    return (usage * torch.log(usage * usage.numel() + 1e-10)).sum()


class RegularizedQuantizer(GumbelQuantizer):
    """Reg-VQ; the temperature of its sampled positions anneals as Gumbel-VQ's does."""

    def __init__(self, *, mask_ratio: float = 0.4, prior_weight: float = 0.01, **gumbel):
        super().__init__(**gumbel)
        if not 0.0 <= mask_ratio <= 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1], got {mask_ratio}")
        self.mask_ratio, self.prior_weight = mask_ratio, prior_weight

    def forward(self, z: torch.Tensor) -> Quantized:
        logits = self.logits(z).float()
        soft = logits.softmax(1)
        argmax = torch.zeros_like(soft).scatter_(1, soft.argmax(1, keepdim=True), 1.0)
        one_hot = argmax + soft - soft.detach()  # the argmax forward, the softmax's gradient
        if self.training:
            sampled = F.gumbel_softmax(logits, tau=self.temperature, hard=True, dim=1)
            stochastic = torch.rand_like(logits[:, :1]) < self.mask_ratio
            one_hot = torch.where(stochastic, sampled, one_hot)
        indices = one_hot.argmax(1, keepdim=True)
        quantized = torch.einsum("bkhw,kd->bdhw", one_hot.to(z.dtype), self.embedding.weight.to(z.dtype))
        return Quantized(quantized, indices, self.prior_weight * usage_kl_to_uniform(one_hot))
