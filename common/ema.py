"""An exponential moving average of a model's weights (diffusers' ``EMAModel``), saved in
checkpoints as safetensors, and swapped in for validation and the final model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file

from .errors import UserFileNotFoundError, UserValueError

EMA_FILE = "ema.safetensors"
EMA_NAME = EMA_FILE.removesuffix(".safetensors")  # its name among a checkpoint's extra tensors


class WeightAverage:
    """The EMA of ``module``'s parameters, with warm-up (diffusers' default: the decay grows from 0
    towards ``decay`` over the first steps, so early weights do not linger)."""

    def __init__(self, module: torch.nn.Module, decay: float, device: torch.device):
        self.module = module
        from diffusers.training_utils import EMAModel  # diffusers takes seconds to import: when used

        self.ema = EMAModel(module.parameters(), decay=decay, use_ema_warmup=True)
        self.ema.to(device)

    def step(self) -> None:
        self.ema.step(self.module.parameters())

    def tensors(self) -> dict[str, torch.Tensor]:
        """The EMA's state as tensors: its weights and how many steps it has averaged."""
        tensors = {f"shadow.{i:04d}": weight for i, weight in enumerate(self.ema.shadow_params)}
        return tensors | {"optimization_step": torch.tensor(self.ema.optimization_step)}

    def load(self, path: Path, device: torch.device) -> None:
        """Restore what ``tensors`` saved (a safetensors file: no pickle, no code)."""
        if not path.is_file():
            raise UserFileNotFoundError(
                f"{path} is missing: this checkpoint has no EMA weights (resume from another one)"
            )
        # read on the CPU, then moved: safetensors refuses device strings such as "cpu:0" (a process's
        # device in a multi-process CPU run)
        tensors = {name: tensor.to(device) for name, tensor in load_file(str(path)).items()}
        names = [f"shadow.{i:04d}" for i in range(len(self.ema.shadow_params))]
        if set(tensors) != {*names, "optimization_step"}:
            raise UserValueError(
                f"{path}: not the EMA of this model ({len(tensors) - 1} weights, expected {len(names)})"
            )
        shadow = [tensors[name] for name in names]
        for saved, current in zip(shadow, self.ema.shadow_params, strict=True):
            if saved.shape != current.shape:
                raise UserValueError(
                    f"{path}: EMA weights of shape {tuple(saved.shape)} do not fit {tuple(current.shape)}"
                )
        self.ema.shadow_params = shadow
        self.ema.optimization_step = int(tensors["optimization_step"])

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The averaged weights in the module for the block; the trained ones put back after."""
        self.ema.store(self.module.parameters())
        self.ema.copy_to(self.module.parameters())
        try:
            yield
        finally:
            self.ema.restore(self.module.parameters())

    def copy_to_module(self) -> None:
        """The averaged weights into the module for good (the final model)."""
        self.ema.copy_to(self.module.parameters())


def averaged(ema: WeightAverage | None) -> contextlib.AbstractContextManager:
    """The EMA weights swapped in for the block where a run keeps an EMA; the weights as trained
    where it does not (validation and sample grids read whichever the final model will be)."""
    return ema.swapped_in() if ema is not None else contextlib.nullcontext()
