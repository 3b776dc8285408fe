"""Autoregressive-prior sampling speed with and without the KV cache; prints a markdown table.

    .venv/bin/python -m benchmarks.prior_sampling                       # both presets, CPU-sized batch
    python -m benchmarks.prior_sampling --batch-size 16 --repeats 3     # on a GPU

Presets: ``quickstart`` (8x8 grid → 128 image tokens, dim 128, depth 4) and ``large`` (16x16 →
512 image tokens, dim 512, depth 8), both over the official code's vocabulary (1949 adjectives +
4258 nouns) with 19 semantic classes. Tokens/s counts image tokens (batch × 2·h·w) per second of
a whole ``sample`` call; without the cache every step re-runs the whole prefix, so the cost
grows quadratically with the sequence and the speed-up with its length. Both runs use the same
seed, and the table says whether they produced the same codes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.synthetic_codebook import PAPER_ADJECTIVES, PAPER_NOUNS
from vqct.common.timing import synchronize
from vqct.prior import PriorConfig, build_prior
from vqct.prior.sequence import TokenVocabulary

PRESETS = {
    "quickstart": dict(grid=8, dim=128, depth=4, heads=4),
    "large": dict(grid=16, dim=512, depth=8, heads=8),
}
# the official code's vocabulary (as in benchmarks/synthetic_codebook.py, not imported so that the
# script runs as a plain file) and CelebAMask-HQ's 19 classes
NUM_CLASSES = 19  # CelebAMask-HQ's parts with the background


def make_condition(kind: str, batch: int, grid: int, device: torch.device) -> torch.Tensor | None:
    generator = torch.Generator().manual_seed(0)
    if kind == "semantic":
        return torch.randint(NUM_CLASSES, (batch, grid * 16, grid * 16), generator=generator).to(device)
    if kind == "class":
        return torch.randint(NUM_CLASSES, (batch,), generator=generator).to(device)
    return None


def time_sampling(model, condition, grid: int, batch: int, use_cache: bool, repeats: int, device: torch.device):
    times, codes = [], None
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        codes = model.sample(
            condition, (grid, grid), use_cache=use_cache, generator=torch.Generator().manual_seed(0), batch_size=batch
        )
        synchronize(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times), codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=["quickstart", "large"])
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="sample calls per setting (median)")
    parser.add_argument("--condition", choices=["semantic", "class", "none"], default="semantic")
    parser.add_argument(
        "--rotary", action=argparse.BooleanOptionalAction, default=True, help="--no-rotary: learned absolute positions"
    )
    parser.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    vocabulary = TokenVocabulary(PAPER_ADJECTIVES, PAPER_NOUNS, NUM_CLASSES if args.condition != "none" else 0)
    print(
        f"{name}, {args.dtype}, {'rotary' if args.rotary else 'absolute'} positions, condition {args.condition}, batch {args.batch_size}, median of {args.repeats} sample call(s) after a warm-up"
    )
    print(
        "| preset | grid | image tokens | dim × depth | no cache (tok/s) | KV cache (tok/s) | speed-up | same codes |"
    )
    print("|---|---|---:|---|---:|---:|---:|---|")
    for preset_name in args.presets:
        preset = PRESETS[preset_name]
        config = PriorConfig(
            dim=preset["dim"],
            depth=preset["depth"],
            heads=preset["heads"],
            condition=args.condition,
            num_classes=NUM_CLASSES,
            rotary=args.rotary,
        )
        torch.manual_seed(0)
        model = build_prior(config, vocabulary).to(device=device, dtype=dtype).eval()
        grid, batch = preset["grid"], args.batch_size
        condition = make_condition(args.condition, batch, grid, device)
        for use_cache in (False, True):  # warm-up: allocator, kernels, thread pools
            model.sample(
                make_condition(args.condition, batch, 2, device), (2, 2), use_cache=use_cache, batch_size=batch
            )
        tokens = batch * vocabulary.image_length(grid, grid)
        uncached, codes_uncached = time_sampling(model, condition, grid, batch, False, args.repeats, device)
        cached, codes_cached = time_sampling(model, condition, grid, batch, True, args.repeats, device)
        same = "yes" if torch.equal(codes_cached, codes_uncached) else "no"
        print(
            f"| {preset_name} | {grid}x{grid} | {vocabulary.image_length(grid, grid)} | {preset['dim']} × {preset['depth']} "
            f"| {tokens / uncached:.1f} | {tokens / cached:.1f} | {uncached / cached:.2f}× | {same} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
