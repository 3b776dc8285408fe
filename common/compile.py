"""``compile=true`` in a training config: torch.compile of the trained model's forward where this
machine can compile it. On a CPU, Inductor generates C++ and needs a C++ compiler; a machine
without one (a fresh one often has only Python and pip) trains eager, with a warning, instead of
failing at its first step. The same architecture and checkpoint names either way; eager steps
are slower, and compiled CPU runs do not repeat to the bit (docs/results.md)."""

from __future__ import annotations

import logging

import torch


def cpu_compiler_missing() -> str | None:
    """Why Inductor cannot compile for the CPU here (its own compiler search), or None."""
    try:
        from torch._inductor import cpp_builder, exc
    except ImportError:  # a torch whose Inductor moved: let torch.compile speak for itself
        return None
    try:
        cpp_builder.get_cpp_compiler()
    except exc.InvalidCxxCompiler as error:
        return str(error).strip().splitlines()[0]
    return None


def compile_if_possible(module: torch.nn.Module, device: torch.device, log: logging.Logger) -> bool:
    """``module.compile()`` unless the device is a CPU with no C++ compiler; True when compiled."""
    reason = cpu_compiler_missing() if device.type == "cpu" else None
    if reason is not None:
        log.warning(
            "compile=true ignored: %s; install one (g++, clang++) or point CXX at it to compile. "
            "Training runs eager: the same model, slower steps",
            reason,
        )
        return False
    module.compile()
    return True
