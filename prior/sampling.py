"""Drawing tokens from logits: slot mask, temperature, top-k / top-p and Gumbel-max, with all
randomness from one generator; and the classifier-free-guidance mix.

Every draw goes through Gumbel noise of one fixed shape per step, so cached and uncached
autoregressive sampling consume identical random numbers.
"""

from __future__ import annotations

import torch


def uniform_noise(shape, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Uniform noise drawn on the generator's device (a CPU generator can drive a GPU model)."""
    source = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=source).to(device)


def gumbel_noise(shape, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    u = uniform_noise(shape, generator, device).clamp(1e-20, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def sample_logits(
    logits: torch.Tensor,
    allowed: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Logits [B, V] → ids [B]: slot mask, temperature, top-k, top-p, then Gumbel-max.

    Temperature 0 is greedy (argmax) and draws no random numbers.
    """
    logits = logits.float().masked_fill(~allowed, float("-inf"))
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None:
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = logits.sort(-1, descending=True)
        probs = sorted_logits.softmax(-1)
        # drop a token when the mass before it already reaches top_p (the best one always stays)
        drop_sorted = (probs.cumsum(-1) - probs) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return (logits + gumbel_noise(logits.shape, generator, logits.device)).argmax(-1)


def mix_guided(logits: torch.Tensor, guided: bool, scale: float) -> torch.Tensor:
    """[2B, …] (conditional rows first) → guided [B, …]."""
    if not guided:
        return logits
    cond, uncond = logits.float().chunk(2)
    return uncond + scale * (cond - uncond)
