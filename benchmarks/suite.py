"""Every speed the toolkit is judged by, at the paper's configs, in one table (markdown on stdout,
JSON in ``--out``):

    python -m benchmarks.suite                       # on a GPU: bf16, the paper's sizes (minutes)
    .venv/bin/python -m benchmarks.suite --quick     # anywhere: tiny sizes, fp32 (seconds)

Rows (``--quick`` shrinks every model, batch and grid, and keeps the comparisons):

- tokenizer training step, VQCT (``celebahq_vqct_f16``) vs VQGAN (``celebahq_vqgan``: one learned
  codebook of the same total size, same autoencoder): ms/step, images/s, ratio (target ≤ 1.05×);
- tokenizer encode + decode, images/s at batch 64;
- prior training (``celebahq_semantic``: forward, backward, AdamW step): image tokens/s and model
  FLOPs utilisation, FLOPs counted by ``torch.utils.flop_counter`` on one step, against the
  device's dense bf16 peak (target ≥ 40 %; ``--peak-tflops`` for a device not in ``PEAK_TFLOPS``);
- autoregressive sampling at the config's grid (16×16: 512 image tokens), batch 1 and 32, with and
  without the KV cache and guidance: image tokens/s (target ≥ 10× from the cache at batch 1);
- masked prior (``celebahq_masked``, its ``sampling.steps``): transformer forward passes and
  seconds per image against the autoregressive prior (target ≥ 20× fewer passes);
- peak accelerator memory of each row (CUDA only: torch keeps no CPU allocation peak).

Models are randomly initialised (speed does not depend on the weights); the tokenizer's language
codebook is a random one of the paper's vocabulary size.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from functools import partial
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.prior_workload import QUICK_GRID, PassCounter, prior_config, prior_training_step, random_batch
from benchmarks.synthetic_codebook import PAPER_ADJECTIVES, PAPER_NOUNS, synthetic_codebook
from benchmarks.tokenizer_step import model_config, training_step
from vqct.common.atomic import write_json
from vqct.common.timing import synchronize, time_calls
from vqct.prior import build_prior
from vqct.prior.sequence import TokenVocabulary
from vqct.tokenizer import VQCTTokenizer

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, TFLOP/s.
PEAK_TFLOPS = {"H200": 989.0, "H100 80GB HBM3": 989.0, "H100 PCIe": 756.0, "A100": 312.0, "L4": 121.0}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def peak_tflops(name: str, override: float | None) -> float | None:
    if override:
        return override
    return next((peak for key, peak in PEAK_TFLOPS.items() if key in name), None)


class Row:
    """Times one measurement and records the accelerator's peak memory during it."""

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc):
        synchronize(self.device)
        self.peak_gb = torch.cuda.max_memory_allocated(self.device) / 2**30 if self.device.type == "cuda" else None


def median_seconds(run, repeats: int, device: torch.device) -> float:
    return statistics.median(time_calls(run, repeats, device))


def tokenizer_preset(args) -> tuple[str, int]:
    """(``benchmarks.tokenizer_step`` preset, training batch): the paper's model at its per-GPU
    batch of 8, or with ``--quick`` the quickstart's at 2."""
    return ("quickstart", 2) if args.quick else ("paper", 8)


def tokenizer_rows(args, device, dtype) -> list[dict]:
    preset, batch = tokenizer_preset(args)
    rows, medians = [], {}
    for kind, label in (("vq", "VQGAN"), ("dual", "VQCT")):
        with Row(device) as row:
            medians[kind] = median_seconds(training_step(kind, preset, batch, device, dtype), args.steps, device)
        rows.append(
            {
                "row": f"tokenizer train step, {label}",
                "value": medians[kind] * 1000,
                "unit": "ms/step",
                "ms_per_step": medians[kind] * 1000,
                "images_per_s": batch / medians[kind],
                "batch": batch,
                "peak_gb": row.peak_gb,
            }
        )
    rows[-1]["ratio_to_vqgan"] = medians["dual"] / medians["vq"]
    rows[-1]["target"] = "≤ 1.05× VQGAN"
    rows.append(transfer_row(args, device, medians["dual"]))

    config, adjectives, nouns = model_config(preset, "dual")
    model = VQCTTokenizer.build(config, synthetic_codebook(adjectives, nouns)).to(device).eval()
    batch = 4 if args.quick else 64
    resolution = config.autoencoder.resolution
    images = torch.rand(batch, 3, resolution, resolution, device=device) * 2 - 1

    @torch.no_grad()
    def round_trip():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            model.decode(model.encode(images))

    with Row(device) as row:
        seconds = median_seconds(round_trip, args.steps, device)
    rows.append(
        {"row": "tokenizer encode + decode", "value": batch / seconds, "unit": "images/s", "batch": batch}
        | {"peak_gb": row.peak_gb}
    )
    return rows


def transfer_row(args, device, vqct_step_seconds: float) -> dict:
    """The codebook transfer's forward + backward (the GCN over the whole vocabulary) and its share
    of a VQCT step: what running it once per optimizer step under gradient accumulation could save."""
    preset, _ = tokenizer_preset(args)
    config, adjectives, nouns = model_config(preset, "dual")
    transfer = VQCTTokenizer.build(config, synthetic_codebook(adjectives, nouns)).quantizer.transfer.to(device)

    def forward_backward():
        adjective_codes, noun_codes = transfer()  # fp32 by design (sparse products), as in training
        (adjective_codes.sum() + noun_codes.sum()).backward()

    with Row(device) as row:
        seconds = median_seconds(forward_backward, args.steps, device)
    return {
        "row": "codebook transfer forward + backward",
        "value": seconds * 1000,
        "unit": "ms/step",
        "ms_per_step": seconds * 1000,
        "share_of_vqct_step": seconds / vqct_step_seconds,
        "peak_gb": row.peak_gb,
    }


def prior_training_row(args, device, dtype, peak) -> dict:
    step, config, tokens = prior_training_step(args, device, dtype)
    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    with Row(device) as row:
        seconds = median_seconds(step, args.steps, device)
    achieved = flops / seconds / 1e12
    return {
        "row": f"prior train step ({config.model.dim}×{config.model.depth}, batch {config.batch_size})",
        "value": tokens / seconds,
        "unit": "image tokens/s",
        "ms_per_step": seconds * 1000,
        "tflops_achieved": achieved,
        "mfu": achieved / peak if peak else None,
        "target": "MFU ≥ 40 %",
        "peak_gb": row.peak_gb,
    }


def variant_rows(args, device, dtype, rows: list[dict], variant: str) -> list[dict]:
    """Training steps with an option on (``compile``: both stages' ``compile=true``; ``channels_last``:
    the tokenizer's ``channels_last=true``), against the default rows already measured: the first
    call's seconds (compilation, where there is one) and the speed-up after it."""
    preset, batch = tokenizer_preset(args)
    eager = {row["row"]: row for row in rows}
    steps = {"tokenizer train step, VQCT": training_step("dual", preset, batch, device, dtype, **{variant: True})}
    if variant == "compile":
        prior_row = next(name for name in eager if name.startswith("prior train step"))
        steps[prior_row] = prior_training_step(args, device, dtype, compile=True)[0]
    measured = []
    for name, step in steps.items():
        first_seconds = time_calls(step, 1, device, warmup=0)[0]
        with Row(device) as row:
            seconds = median_seconds(step, args.steps, device)
        measured.append(
            {
                "row": f"{name}, {variant.replace('_', '-')}",
                "value": seconds * 1000,
                "unit": "ms/step",
                "ms_per_step": seconds * 1000,
                "first_call_seconds": first_seconds,
                "speed_up": eager[name]["ms_per_step"] / 1000 / seconds,
                "peak_gb": row.peak_gb,
            }
        )
    return measured


def attention_kernel(device: torch.device) -> str:
    """The fastest scaled-dot-product attention kernel that accepts the prior's attention call at
    the paper's shapes (x-transformers' ``attn_flash`` goes through SDPA; a mask it passes can
    rule flash attention out)."""
    if device.type != "cuda":
        return "n/a (CPU)"
    from torch.nn.attention import SDPBackend, sdpa_kernel

    config = prior_config("celebahq_semantic.yaml", quick=False)
    vocabulary = TokenVocabulary(PAPER_ADJECTIVES, PAPER_NOUNS, config.model.num_classes)
    model = build_prior(config.model, vocabulary).to(device=device, dtype=torch.bfloat16).eval()
    codes, maps = random_batch(vocabulary, 2, 16, config.model.condition, device)
    for backend in (SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION):
        try:
            with sdpa_kernel(backend), torch.no_grad():
                model(codes, maps)
            return backend.name.lower()
        except RuntimeError:
            continue
    return "math"


def profile_top(step, device: torch.device, rows: int = 12) -> str:
    """The profiler's top operators of one call of ``step`` (after a warm-up call), by self time."""
    step()
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profiler:
        step()
        synchronize(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return profiler.key_averages().table(sort_by=key, row_limit=rows)


def sampling_rows(args, device, dtype) -> list[dict]:
    config = prior_config("celebahq_semantic.yaml", args.quick)
    vocabulary = TokenVocabulary(PAPER_ADJECTIVES, PAPER_NOUNS, config.model.num_classes)
    torch.manual_seed(0)
    model = build_prior(config.model, vocabulary).to(device=device, dtype=dtype or torch.float32).eval()
    passes = PassCounter(model)
    grid = QUICK_GRID if args.quick else 16
    rows, per_image = [], {}
    for batch in (1, 4) if args.quick else (1, 32):
        _, maps = random_batch(vocabulary, batch, grid, "semantic", device)
        for guidance in (1.0, config.sampling.guidance_scale):
            for use_cache in (False, True):
                sample = partial(
                    model.sample, maps, (grid, grid), use_cache=use_cache, guidance_scale=guidance, batch_size=batch
                )
                with Row(device) as row:
                    seconds = median_seconds(sample, 1, device)
                cache = "KV cache" if use_cache else "no cache"
                rows.append(
                    {
                        "row": f"AR sampling, batch {batch}, {cache}, guidance {guidance:g}",
                        "value": batch * vocabulary.image_length(grid, grid) / seconds,
                        "unit": "image tokens/s",
                        "seconds_per_image": seconds / batch,
                        "peak_gb": row.peak_gb,
                    }
                )
                if use_cache and guidance == 1.0:
                    per_image[batch] = seconds / batch
            cached, uncached = rows[-1]["value"], rows[-2]["value"]
            rows[-1] |= {"cache_speed_up": cached / uncached} | ({"target": "≥ 10× at batch 1"} if batch == 1 else {})
    passes.count = 0
    model.sample(None if model.vocabulary.num_classes == 0 else maps[:1], (grid, grid), batch_size=1)
    ar_passes = passes.count

    masked_config = prior_config("celebahq_masked.yaml", args.quick)
    masked_layout = TokenVocabulary(PAPER_ADJECTIVES, PAPER_NOUNS, masked_config.model.num_classes)
    masked = build_prior(masked_config.model, masked_layout).to(device=device, dtype=dtype or torch.float32).eval()
    masked_passes = PassCounter(masked)
    batch = max(per_image)
    steps = masked_config.sampling.steps

    def masked_sample():
        masked.sample(None, (grid, grid), steps=steps, batch_size=batch)

    with Row(device) as row:
        seconds = median_seconds(masked_sample, 1, device)
    masked_passes.count = 0
    masked.sample(None, (grid, grid), steps=steps, batch_size=1)
    rows.append(
        {
            "row": f"masked sampling, {steps} steps, batch {batch}",
            "value": masked_passes.count,
            "unit": "forward passes",
            "ar_forward_passes": ar_passes,
            "fewer_passes": ar_passes / masked_passes.count,
            "seconds_per_image": seconds / batch,
            "ar_seconds_per_image": per_image[batch],
            "target": "≥ 20× fewer passes than AR",
            "peak_gb": row.peak_gb,
        }
    )
    return rows


def describe(row: dict) -> str:
    extras = {
        "images_per_s": "{:.1f} images/s",
        "ratio_to_vqgan": "{:.3f}× VQGAN",
        "ms_per_step": "{:.1f} ms/step",
        "tflops_achieved": "{:.3g} TFLOP/s",
        "mfu": "MFU {:.1%}",
        "cache_speed_up": "{:.1f}× from the cache",
        "seconds_per_image": "{:.3f} s/image",
        "fewer_passes": "{:.0f}× fewer than AR",
        "ar_seconds_per_image": "AR {:.3f} s/image",
        "first_call_seconds": "first call {:.1f} s",
        "speed_up": "{:.2f}× the default",
        "share_of_vqct_step": "{:.1%} of a VQCT step",
    }
    if row["unit"] == "ms/step":  # already the value
        del extras["ms_per_step"]
    return ", ".join(fmt.format(row[key]) for key, fmt in extras.items() if row.get(key) is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suite", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes in fp32: a check that runs anywhere")
    parser.add_argument("--steps", type=int, default=None, help="timed repeats per row (default: 5, quick: 2)")
    parser.add_argument("--dtype", choices=["bf16", "fp32"], default=None, help="default: bf16, quick: fp32")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, for the MFU")
    parser.add_argument("--compile", action="store_true", help="also both training steps under torch.compile")
    parser.add_argument(
        "--channels-last", action="store_true", help="also the tokenizer's training step in channels-last memory"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also the profiler's top operators of one tokenizer and one prior step"
    )
    parser.add_argument("--out", default="outputs/benchmarks/suite.json")
    args = parser.parse_args(argv)
    args.steps = args.steps or (2 if args.quick else 5)
    precision = args.dtype or ("fp32" if args.quick else "bf16")
    dtype = torch.bfloat16 if precision == "bf16" else None
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # fp32 paths use TF32
    name = device_name(device)
    peak = peak_tflops(name, args.peak_tflops)
    started = time.perf_counter()
    rows = tokenizer_rows(args, device, dtype)
    rows.append(prior_training_row(args, device, dtype, peak))
    rows += sampling_rows(args, device, dtype)
    for variant in ("compile", "channels_last"):
        if getattr(args, variant):
            rows += variant_rows(args, device, dtype, rows, variant)
    settings = {
        "device": name,
        "torch": torch.__version__,
        "precision": precision,
        "quick": args.quick,
        "steps": args.steps,
        "peak_tflops": peak,
        "attention_kernel": attention_kernel(device),
        "seconds": time.perf_counter() - started,
    }
    print(
        f"{name}, torch {torch.__version__}, {precision}{', --quick sizes' if args.quick else ''}, "
        f"prior attention kernel: {settings['attention_kernel']}"
    )
    print("| row | value | unit | details | peak memory (GB) |")
    print("|---|---:|---|---|---:|")
    for row in rows:
        memory = f"{row['peak_gb']:.2f}" if row["peak_gb"] is not None else "n/a"
        print(f"| {row['row']} | {row['value']:,.1f} | {row['unit']} | {describe(row)} | {memory} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"settings": settings, "rows": rows})
    print(f"\n{len(rows)} rows in {settings['seconds']:.0f} s, written to {out}")
    if args.profile:
        preset, batch = tokenizer_preset(args)
        steps = {
            "tokenizer train step (VQCT)": training_step("dual", preset, batch, device, dtype),
            "prior train step": prior_training_step(args, device, dtype)[0],
        }
        report = "".join(f"\n{name}\n{profile_top(step, device)}" for name, step in steps.items())
        print(report)
        out.with_name(out.stem + "-profile.txt").write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
