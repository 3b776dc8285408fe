"""Sample images from a trained prior (the tokenizer comes with it):

    vqct-sample --prior DIR_OR_HUB_ID --num 8 --out DIR                     # maps from the data set
    vqct-sample --prior DIR_OR_HUB_ID --cond MAP.png --num 8 --out DIR       # one label map
    vqct-sample --prior DIR_OR_HUB_ID --image IMG --mask MASK.png --num 4 --out DIR   # completion

A label map is a palette PNG of class ids or a picture painted in the palette's colours
(``common.labels``); without ``--cond`` a semantic prior takes the first N validation maps of
the data set it was trained on (where that can be built here, as the built-in shapes can). In a
mask, white (> 127) marks the region to regenerate; every code cell it touches is resampled,
the others keep the image's own codes (an autoregressive prior keeps only the raster prefix
before the first such cell); without ``--cond`` a semantic prior completes with NULL condition
tokens (the unconditional mode its condition dropout trained). Writes into ``--out``: sample-<k>.png, map-<k>.png (the
validation map of each sample; with ``--cond``, map.png: the one map as read),
grid.png (maps above samples, the first 8, labelled and enlarged), for completion input.png, mask.png and kept.png (the cells kept), and
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
from PIL import Image
from tqdm.auto import tqdm

from vqct.common.atomic import write_json
from vqct.common.device import checked_device
from vqct.common.errors import UserValueError, exit_code
from vqct.common.grid import MAX_COLUMNS, save_labelled_grid
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.hub import load_pretrained
from vqct.common.labels import colourize, read_label_map, save_label_map
from vqct.tokenizer import DECODE_ERRORS, load_image

from .examples import validation_examples
from .pretrained import VQCTPrior, mask_region
from .sampling_flags import add_sampling_flags, sampling_from_flags

log = logging.getLogger("vqct.prior.sample")
# grid.png shows the first samples only (a row of the labelled grid); every sample is its own PNG
GRID_SAMPLES = MAX_COLUMNS


def read_mask(path: str, image_path: str, resolution: int) -> torch.Tensor:
    """A mask picture → [resolution, resolution] bool, True where it is white (> 127). It must have
    the image's shape (both are centre-cropped to a square and resized; only then do they align;
    a mask of the same shape at another size is scaled) and mark something."""
    sizes = {}
    for name, where in (("--mask", path), ("--image", image_path)):
        try:
            with Image.open(where) as header:
                sizes[name] = header.size
        except DECODE_ERRORS:
            sizes[name] = None  # load_image names what is wrong with it
    if None not in sizes.values():
        (mask_w, mask_h), (image_w, image_h) = sizes["--mask"], sizes["--image"]
        if mask_w * image_h != mask_h * image_w:
            raise UserValueError(
                f"--mask {path} is {mask_w}×{mask_h} pixels, --image {image_path} {image_w}×{image_h}: "
                "the mask must have the image's shape for the two to align"
            )
    region = mask_region(path, resolution)
    if not region.any():
        raise UserValueError(f"--mask {path} has no white pixel: nothing to regenerate")
    return region


def grid_rows(done: int, count: int) -> slice:
    """The part of a batch that goes into grid.png: its first GRID_SAMPLES samples in all."""
    return slice(0, max(0, min(count, GRID_SAMPLES - done)))


def run(args) -> int:
    from torchvision.utils import save_image  # torchvision takes seconds to import: not for --help

    args.device = str(checked_device(args.device))  # one clear error for a device this machine lacks
    started = time.perf_counter()
    model = load_pretrained(VQCTPrior, args.prior, "--prior").to(args.device).eval()
    sampling = sampling_from_flags(model, args)
    semantic = model.prior_config.condition == "semantic"
    if args.cond and not semantic:
        raise UserValueError(
            f"--cond: this prior's condition is '{model.prior_config.condition}', not semantic label maps"
        )
    completing = bool(args.image or args.mask)
    if completing and not (args.image and args.mask):
        raise UserValueError("completion needs both --image and --mask")
    cond_map = read_label_map(args.cond, model.num_classes, model.resolution) if args.cond else None
    if completing:
        image = load_image(args.image, model.resolution)
        region = read_mask(args.mask, args.image, model.resolution)
    if semantic and not args.cond and not completing:  # the maps are there (else one error, before any file)
        validation_examples(model, 1, start=args.num - 1)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserValueError(f"--out {out}: a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    if cond_map is not None:  # one map for every sample: one file, not --num copies of it
        save_label_map(cond_map, model.num_classes, out / "map.png")

    # batch by batch, each written before the next is drawn: --num is bounded by the disk, not memory
    generator = torch.Generator(args.device).manual_seed(args.seed)
    grid_samples, grid_maps = [], []
    starts = range(0, args.num, sampling.batch_size)
    for start in tqdm(starts, desc="sampling", unit="batch", disable=len(starts) == 1):
        count = min(sampling.batch_size, args.num - start)
        condition = None
        if cond_map is not None:
            condition = cond_map[None].expand(count, -1, -1)
        elif semantic and not completing:  # completion without --cond: NULL (unconditional) tokens
            condition = validation_examples(model, count, start=start)["label"]
        if completing:
            images, regions = image[None].expand(count, -1, -1, -1), region[None].expand(count, -1, -1)
            _, samples, kept = model.complete(images, regions, condition, sampling=sampling, generator=generator)
        else:
            _, samples = model.generate(condition, num=count, sampling=sampling, generator=generator)
        samples = samples.clamp(-1, 1).cpu()
        for k, sample in enumerate(samples, start):
            save_image((sample + 1) / 2, out / f"sample-{k:03d}.png")
        if condition is not None:
            for k, labels in enumerate(condition if cond_map is None else [], start):  # a map per sample
                save_label_map(labels, model.num_classes, out / f"map-{k:03d}.png")
            grid_maps.append(colourize(condition[grid_rows(start, count)], model.num_classes))
        grid_samples.append(samples[grid_rows(start, count)])
    if completing:
        save_image((image + 1) / 2, out / "input.png")
        save_image(region.float(), out / "mask.png")
        factor = model.tokenizer.downsample_factor
        kept_pixels = kept[:1, None].float().repeat_interleave(factor, -1).repeat_interleave(factor, -2)
        save_image(kept_pixels, out / "kept.png")
    rows = [("map", torch.cat(grid_maps))] if grid_maps else []
    save_labelled_grid([*rows, ("completion" if completing else "sample", torch.cat(grid_samples))], out / "grid.png")
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
    print(f"wrote {args.num} {'completions' if completing else 'samples'} to {out} (grid.png) in {seconds:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vqct-sample", description=__doc__, formatter_class=PlainHelpFormatter)
    parser.add_argument("--prior", required=True, help="a VQCTPrior save_pretrained folder or Hub id")
    parser.add_argument("--cond", help="a label map (palette PNG or a picture in the palette's colours)")
    parser.add_argument("--image", help="completion: the image to complete")
    parser.add_argument("--mask", help="completion: white = the region to regenerate")
    parser.add_argument(
        "--num", type=int, default=8, help="images to sample (with --cond: for that map; with --image: completions)"
    )
    parser.add_argument("--out", required=True, help="output folder for the PNGs, grid.png and samples.json")
    add_sampling_flags(parser)
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error("--num must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return exit_code(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
