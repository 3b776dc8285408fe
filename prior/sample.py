"""Sample images from a trained prior (the tokenizer comes with it):

    python -m prior.sample --prior DIR_OR_HUB_ID --num 8 --out DIR                     # maps from the data set
    python -m prior.sample --prior DIR_OR_HUB_ID --cond MAP.png --num 8 --out DIR       # one label map
    python -m prior.sample --prior DIR_OR_HUB_ID --image IMG --mask MASK.png --num 4 --out DIR   # completion

A label map is a palette PNG of class ids or a picture painted in the palette's colours
(``common.labels``); without ``--cond`` a semantic prior takes the first N validation maps of
the data set it was trained on (where that can be built here, as the built-in shapes can). In a
mask, white (> 127) marks the region to regenerate; every code cell it touches is resampled,
the others keep the image's own codes (an autoregressive prior keeps only the raster prefix
before the first such cell); without ``--cond`` a semantic prior completes with NULL condition
tokens (the unconditional mode its condition dropout trained). Writes into ``--out``: sample-<k>.png, map-<k>.png (the maps used),
grid.png (maps, samples), for completion input.png, mask.png and kept.png (the cells kept), and
samples.json (the settings and the time taken).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torchvision.utils import save_image

from common.atomic import write_json
from common.device import checked_device
from common.errors import UserValueError, exit_code
from common.hub import load_pretrained
from common.labels import colourize, read_label_map, save_label_map
from tokenizer import load_image

from .pretrained import VQCTPrior
from .sampling_options import (
    add_sampling_flags,
    sampling_from_flags,
    validation_examples,
)

log = logging.getLogger("prior.sample")


def read_mask(path: str, resolution: int) -> torch.Tensor:
    """A mask picture → [resolution, resolution] bool, True where it is white (> 127)."""
    grey = load_image(path, resolution).mean(0)  # [-1, 1]
    return grey > 0


def run(args) -> int:
    args.device = str(checked_device(args.device))  # one clear error for a device this machine lacks
    started = time.perf_counter()
    model = load_pretrained(VQCTPrior, args.prior, "--prior").to(args.device).eval()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sampling = sampling_from_flags(
        model, args, top_p=args.top_p, steps=args.steps, use_cache=False if args.no_cache else None
    )
    generator = torch.Generator(args.device).manual_seed(args.seed)
    semantic = model.prior_config.condition == "semantic"
    if args.cond and not semantic:
        raise UserValueError(
            f"--cond: this prior's condition is '{model.prior_config.condition}', not semantic label maps"
        )
    condition = None
    if args.cond:
        condition = read_label_map(args.cond, model.num_classes, model.resolution)[None].expand(args.num, -1, -1)
    elif semantic and not args.image:  # completion without --cond: the NULL (unconditional) condition
        condition = validation_examples(model, args.num)["label"]
    if args.image or args.mask:
        if not (args.image and args.mask):
            raise UserValueError("completion needs both --image and --mask")
        image = load_image(args.image, model.resolution)
        region = read_mask(args.mask, model.resolution)
        images, regions = image[None].expand(args.num, -1, -1, -1), region[None].expand(args.num, -1, -1)
        _, samples, kept = model.complete(images, regions, condition, sampling=sampling, generator=generator)
        save_image((image + 1) / 2, out / "input.png")
        save_image(region.float(), out / "mask.png")
        kept_pixels = (
            kept[:1, None]
            .float()
            .repeat_interleave(model.tokenizer.downsample_factor, -1)
            .repeat_interleave(model.tokenizer.downsample_factor, -2)
        )
        save_image(kept_pixels, out / "kept.png")
    else:
        _, samples = model.generate(condition, num=args.num, sampling=sampling, generator=generator)
    samples = samples.clamp(-1, 1).cpu()
    for k, sample in enumerate(samples):
        save_image((sample + 1) / 2, out / f"sample-{k:03d}.png")
    rows = [samples]
    if condition is not None:
        for k, labels in enumerate(condition):
            save_label_map(labels, model.num_classes, out / f"map-{k:03d}.png")
        rows.insert(0, colourize(condition, model.num_classes))
    save_image((torch.cat(rows) + 1) / 2, out / "grid.png", nrow=min(args.num, 8) if condition is None else args.num)
    seconds = time.perf_counter() - started
    write_json(
        out / "samples.json",
        {
            "prior": args.prior,
            "num": args.num,
            "seed": args.seed,
            "cond": args.cond,
            "image": args.image,
            "mask": args.mask,
            "sampling": asdict(sampling),
            "seconds": round(seconds, 2),
            "device": args.device,
        },
    )
    print(f"wrote {args.num} {'completions' if args.image else 'samples'} to {out} (grid.png) in {seconds:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m prior.sample", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prior", required=True, help="a VQCTPrior save_pretrained folder or Hub id")
    parser.add_argument("--cond", help="a label map (palette PNG or a picture in the palette's colours)")
    parser.add_argument("--image", help="completion: the image to complete")
    parser.add_argument("--mask", help="completion: white = the region to regenerate")
    parser.add_argument("--num", type=int, default=8)
    parser.add_argument("--out", required=True)
    add_sampling_flags(parser)
    parser.add_argument("--top-p", type=float, help="autoregressive priors: nucleus sampling (default: the prior's)")
    parser.add_argument("--steps", type=int, help="masked priors: decoding rounds (default: the prior's)")
    parser.add_argument("--no-cache", action="store_true", help="autoregressive priors: sample without the KV cache")
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error("--num must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return exit_code(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
