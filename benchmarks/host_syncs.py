"""Host synchronisations in one training step of each stage (CUDA only): every place the CPU
waits for the GPU, found by torch's sync debug mode, so a hot loop can be kept free of them.

    python -m benchmarks.host_syncs        # on a GPU: a table of the syncing source lines

A sync in the step stops the CPU queueing kernels until the GPU has caught up. The steps are
the suite's (``benchmarks.suite``): the tokenizer's VQCT step and both priors' training steps.
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter

import torch

from benchmarks.prior_workload import prior_training_step
from benchmarks.suite import tokenizer_preset
from benchmarks.tokenizer_step import training_step
from vqct.common.timing import synchronize

SYNC_WARNING = "synchronizing CUDA operation"


def sync_sites(step, device: torch.device) -> Counter:
    """(file:line → count) of the synchronising operations one call of ``step`` makes, after a
    warm-up call (first calls allocate and tune, which may sync once)."""
    if device.type != "cuda":
        raise RuntimeError("host syncs are found with torch.cuda.set_sync_debug_mode: CUDA only")
    step()
    synchronize(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return Counter(f"{w.filename}:{w.lineno}" for w in caught if SYNC_WARNING in str(w.message))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.host_syncs", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick sizes of benchmarks.suite")
    args = parser.parse_args(argv)
    args.steps = 1
    if not torch.cuda.is_available():
        print("no CUDA device: host syncs are a GPU matter (torch.cuda.set_sync_debug_mode)")
        return 0
    device, dtype = torch.device("cuda"), torch.bfloat16
    preset, batch = tokenizer_preset(args)
    steps = {
        "tokenizer train step (VQCT)": training_step("dual", preset, batch, device, dtype),
        "prior train step (autoregressive)": prior_training_step(args, device, dtype)[0],
        "prior train step (masked)": prior_training_step(args, device, dtype, "celebahq_masked.yaml")[0],
    }
    print("| step | syncs | where |")
    print("|---|---:|---|")
    for name, step in steps.items():
        sites = sync_sites(step, device)
        where = "; ".join(f"{site} ×{count}" for site, count in sites.most_common()) or "none"
        print(f"| {name} | {sum(sites.values())} | {where} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
