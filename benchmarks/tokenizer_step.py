"""Training-step time of VQCT (dual quantizer, GCN-generated codebooks) over plain VQGAN at the
same architecture and total codebook size; target: VQCT ≤ 1.10× VQGAN. Prints a table.

    .venv/bin/python benchmarks/tokenizer_step.py --preset quickstart      # CPU-sized
    python benchmarks/tokenizer_step.py --preset paper --batch-size 8 --dtype bf16   # on a GPU

One step = generator forward, reconstruction + quantizer + adaptive-weight GAN loss, backward,
Adam step, then the discriminator step: what tokenizer/train.py does each step. LPIPS is left
out (its VGG weights are not available offline); it would add the same time to both rows.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.synthetic_prior import synthetic_prior
from tokenizer.losses import LossConfig, VQGANLoss
from tokenizer.model import QuantizerConfig, TokenizerModelConfig, VQCTTokenizer
from tokenizer.modules import AutoencoderConfig
from tokenizer.transfer import TransferConfig

PRESETS = {
    "paper": dict(resolution=256, ch=128, ch_mult=[1, 1, 2, 2, 4], num_res_blocks=2, attn_resolutions=[16], z_channels=256, embed_dim=256, adjectives=1949, nouns=4258, hidden=512),
    "quickstart": dict(resolution=32, ch=32, ch_mult=[1, 2, 2], num_res_blocks=1, attn_resolutions=[], z_channels=64, embed_dim=64, adjectives=512, nouns=1024, hidden=128),
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(kind: str, preset: dict, batch_size: int, steps: int, warmup: int, device: torch.device, dtype: torch.dtype | None) -> list[float]:
    torch.manual_seed(0)
    autoencoder = AutoencoderConfig(**{k: preset[k] for k in ("resolution", "ch", "ch_mult", "num_res_blocks", "attn_resolutions", "z_channels")})
    quantizer = QuantizerConfig(kind=kind, embed_dim=preset["embed_dim"], codebook_size=preset["adjectives"] + preset["nouns"], transfer=TransferConfig(hidden_dim=preset["hidden"]))
    prior = synthetic_prior(preset["adjectives"], preset["nouns"]) if kind == "dual" else None
    model = VQCTTokenizer.build(TokenizerModelConfig(autoencoder, quantizer), prior).to(device).train()
    loss_fn = VQGANLoss(LossConfig(perceptual_weight=0.0, disc_start=0)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.5, 0.9))
    disc_optimizer = torch.optim.Adam(loss_fn.discriminator.parameters(), lr=1e-4, betas=(0.5, 0.9))
    images = torch.rand(batch_size, 3, preset["resolution"], preset["resolution"], device=device) * 2 - 1
    times = []
    for step in range(warmup + steps):
        synchronize(device)
        started = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            reconstructions, quantized = model(images)
            g_loss, _ = loss_fn.generator_loss(images, reconstructions, quantized.loss, model.decoder.last_layer, step)
        g_loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            d_loss, _ = loss_fn.discriminator_loss(images, reconstructions)
        d_loss.backward()
        disc_optimizer.step()
        disc_optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quickstart")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    preset = PRESETS[args.preset]
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"preset {args.preset}, batch {args.batch_size}, {args.dtype}, {name}; median of {args.steps} steps after {args.warmup} warm-up")
    print("| model | codebooks | step (ms) | × VQGAN |")
    print("|---|---|---:|---:|")
    medians = {}
    for kind, label in (("vq", "VQGAN"), ("dual", "VQCT")):
        medians[kind] = statistics.median(time_steps(kind, preset, args.batch_size, args.steps, args.warmup, device, dtype))
        codebooks = f"{preset['adjectives'] + preset['nouns']}" if kind == "vq" else f"{preset['adjectives']} + {preset['nouns']}"
        print(f"| {label} | {codebooks} | {medians[kind] * 1000:.1f} | {medians[kind] / medians['vq']:.3f} |")


if __name__ == "__main__":
    main()
