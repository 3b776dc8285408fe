"""Timing on an accelerator: its kernels run asynchronously, so a clock read needs them finished."""

import torch


def synchronize(device: torch.device | str) -> None:
    """Wait for ``device``'s queued work (a no-op on the CPU), so that a clock read after it is honest."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
