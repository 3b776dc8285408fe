"""Timing on an accelerator: its kernels run asynchronously, so a clock read needs them finished."""

import time

import torch


def synchronize(device: torch.device | str) -> None:
    """Wait for ``device``'s queued work (a no-op on the CPU), so that a clock read after it is honest."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(run, repeats: int, device: torch.device | str, warmup: int = 1) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``run()`` after ``warmup`` untimed ones (allocator,
    kernel selection, thread pools), each timed from an idle device to an idle device."""
    times = []
    for index in range(warmup + repeats):
        synchronize(device)
        started = time.perf_counter()
        run()
        synchronize(device)
        if index >= warmup:
            times.append(time.perf_counter() - started)
    return times
