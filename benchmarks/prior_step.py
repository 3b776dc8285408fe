"""Training-step time of the quickstart prior (``configs/prior/shapes.yaml``: 8×8 token grid,
32 px maps, batch 16) with the label map read as a prefix of 64 class tokens and without it
(``model.condition_prefix``), eager and, with ``--compile``, under torch.compile. Prints a table.

    .venv/bin/python -m benchmarks.prior_step [--compile]

One step = forward, loss, backward and AdamW step on a fixed random batch, as prior/train.py.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from benchmarks.prior_workload import training_step
from benchmarks.synthetic_codebook import vocabulary_size
from vqct.common.config import load_config
from vqct.common.shipped_configs import shipped_config
from vqct.common.timing import time_calls
from vqct.prior.config import PriorTrainConfig
from vqct.prior.sequence import TokenVocabulary

GRID, PIXELS_PER_CELL = 8, 4  # 32 px images through the quickstart tokenizer's 4× down-sampling


def quickstart_step(condition_prefix: bool, compile: bool, device: torch.device):
    """(one call = one quickstart prior step, the tokens its network reads per sample)."""
    config = load_config(
        PriorTrainConfig, shipped_config("prior/shapes.yaml"), [f"model.condition_prefix={condition_prefix}"]
    )
    vocabulary = TokenVocabulary(*vocabulary_size("default.yaml"), config.model.num_classes)
    step = training_step(config, vocabulary, GRID, device, compile=compile, pixels_per_cell=PIXELS_PER_CELL)
    # [condition | BOS | image tokens but the last]
    read = (GRID * GRID if condition_prefix else 0) + vocabulary.image_length(GRID, GRID)
    return step, read


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.prior_step",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also each row under torch.compile")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"configs/prior/shapes.yaml, fp32, {name}; median of {args.steps} steps after {args.warmup} warm-up")
    print("| condition | compiled | tokens read a sample | step (ms) | × with prefix |")
    print("|---|---|---:|---:|---:|")
    for compile in (False, True) if args.compile else (False,):
        medians = {}
        for prefix in (True, False):
            step, read = quickstart_step(prefix, compile, device)
            medians[prefix] = statistics.median(time_calls(step, args.steps, device, args.warmup))
            label = "prefix + label embedding" if prefix else "label embedding alone"
            print(
                f"| {label} | {'yes' if compile else 'no'} | {read} | {medians[prefix] * 1000:.1f} | {medians[prefix] / medians[True]:.2f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
