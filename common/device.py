"""Which device a command runs on: the same rule for every command, CUDA when present, then
Apple's MPS, then the CPU, unless the user names one (``--device``)."""

from __future__ import annotations

import argparse

import torch

from .errors import UserValueError


def mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    """``--device``, as every command takes it."""
    parser.add_argument("--device", default=default_device(), help="cpu, cuda, cuda:N or mps (default: %(default)s)")


def checked_device(name: str, flag: str = "--device") -> torch.device:
    """``name`` as a device this machine has; one clear error otherwise (not a CUDA traceback later)."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserValueError(f"{flag} {name}: not a device name (cpu, cuda, cuda:1, mps)") from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": mps_available(),
    }
    if not available.get(device.type, False):
        raise UserValueError(f"{flag} {name}: this machine has no {device.type} device (try {default_device()})")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserValueError(f"{flag} {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device
