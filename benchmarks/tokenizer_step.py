"""Training-step time of VQCT (dual quantizer, GCN-generated codebooks) over plain VQGAN at the
same architecture and total codebook size; target: VQCT ≤ 1.10× VQGAN. Prints a table.

    .venv/bin/python -m benchmarks.tokenizer_step --preset quickstart      # CPU-sized
    python -m benchmarks.tokenizer_step --preset paper --batch-size 8 --dtype bf16   # on a GPU

One step = generator forward, reconstruction + quantizer + adaptive-weight GAN loss, backward,
Adam step, then the discriminator step: what tokenizer/train.py does each step. LPIPS is left
out (its VGG weights are not available offline); it would add the same time to both rows.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from benchmarks.synthetic_codebook import synthetic_codebook, vocabulary_size
from vqct.common.config import load_config
from vqct.common.shipped_configs import shipped_config
from vqct.common.timing import time_calls
from vqct.tokenizer import TokenizerModelConfig, TokenizerTrainConfig, VQCTTokenizer
from vqct.tokenizer.losses import LossConfig, VQGANLoss

# Each preset is a shipped tokenizer config and the language-codebook config whose vocabulary it uses.
PRESETS = {
    "paper": ("celebahq_vqct_f16.yaml", "paper.yaml"),
    "quickstart": ("shapes.yaml", "default.yaml"),
}


def model_config(preset: str, kind: str) -> tuple[TokenizerModelConfig, int, int]:
    """(the preset's model with quantizer ``kind``, adjectives, nouns); ``vq`` gets one codebook of
    adjectives + nouns codes, the same total as VQCT's two."""
    tokenizer_config, codebook_config = PRESETS[preset]
    model = load_config(TokenizerTrainConfig, shipped_config(f"tokenizer/{tokenizer_config}")).model
    adjectives, nouns = vocabulary_size(codebook_config)
    model.quantizer.kind, model.quantizer.codebook_size = kind, adjectives + nouns
    return model, adjectives, nouns


def training_step(
    kind: str,
    preset: str,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype | None,
    compile: bool = False,
    channels_last: bool = False,
):
    """One call = one training step of the preset's model with quantizer ``kind`` on a fixed batch;
    ``compile`` and ``channels_last`` as the train script's options of those names."""
    torch.manual_seed(0)
    config, adjectives, nouns = model_config(preset, kind)
    codebook = synthetic_codebook(adjectives, nouns) if kind == "dual" else None
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = VQCTTokenizer.build(config, codebook).to(device, memory_format=memory_format).train()
    if compile:
        model.compile()
    resolution = config.autoencoder.resolution
    loss_fn = VQGANLoss(LossConfig(perceptual_weight=0.0, disc_start=0)).to(device, memory_format=memory_format)
    fused = device.type == "cuda"  # as tokenizer/train.py
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.5, 0.9), fused=fused)
    disc_optimizer = torch.optim.Adam(loss_fn.discriminator.parameters(), lr=1e-4, betas=(0.5, 0.9), fused=fused)
    images = (torch.rand(batch_size, 3, resolution, resolution, device=device) * 2 - 1).contiguous(
        memory_format=memory_format
    )

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            reconstructions, quantized = model(images)
            g_loss, _ = loss_fn.generator_loss(images, reconstructions, quantized.loss, model.decoder.last_layer, 0)
        g_loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            d_loss, _ = loss_fn.discriminator_loss(images, reconstructions)
        d_loss.backward()
        disc_optimizer.step()
        disc_optimizer.zero_grad(set_to_none=True)

    return step


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
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(
        f"preset {args.preset}, batch {args.batch_size}, {args.dtype}, {name}; median of {args.steps} steps after {args.warmup} warm-up"
    )
    print("| model | codebooks | step (ms) | × VQGAN |")
    print("|---|---|---:|---:|")
    medians = {}
    for kind, label in (("vq", "VQGAN"), ("dual", "VQCT")):
        step = training_step(kind, args.preset, args.batch_size, device, dtype)
        medians[kind] = statistics.median(time_calls(step, args.steps, device, args.warmup))
        _, adjectives, nouns = model_config(args.preset, kind)
        codebooks = f"{adjectives + nouns}" if kind == "vq" else f"{adjectives} + {nouns}"
        print(f"| {label} | {codebooks} | {medians[kind] * 1000:.1f} | {medians[kind] / medians['vq']:.3f} |")


if __name__ == "__main__":
    main()
