"""Which device a command runs on: CUDA when present, else the CPU, unless the user names one
(``--device mps`` too; it is not picked by default because torch's sparse products, which the
codebook transfer uses, are not supported on MPS in every version)."""

from __future__ import annotations

import torch

from .errors import UserValueError


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def checked_device(name: str, flag: str = "--device") -> torch.device:
    """``name`` as a device this machine has; one clear error otherwise (not a CUDA traceback later)."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserValueError(f"{flag} {name}: not a device name (cpu, cuda, cuda:1, mps)") from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
    }
    if not available.get(device.type, False):
        raise UserValueError(f"{flag} {name}: this machine has no {device.type} device (try {default_device()})")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserValueError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device
