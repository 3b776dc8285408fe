"""Measure a trained prior on its data set's validation split:

    vqct-evaluate prior --prior DIR_OR_HUB_ID --num 256 --out DIR [--guidance-scale 1.5] [--no-fid]
                             [--no-completion] [--segmenter OTHER_RUN/segmenter.safetensors]
                             [--forced-rows 1 2 4]

For each of the first N validation label maps (``--num all``: the whole validation split, e.g.
CelebA-HQ's 3,000 for Table 6's FID) it samples an image, then writes
``metrics.json`` / ``metrics.md`` with

- label following (semantic priors): a small segmentation network (``prior.segmenter``) is
  trained on the train split's images, real and reconstructed by the prior's tokenizer, and
  their maps (or loaded with ``--segmenter``, so that several priors on one tokenizer are
  measured by the same one), then its per-pixel agreement with the maps is reported for real images (its ceiling), for the tokenizer's reconstructions of them
  (the tokenizer's ceiling), for the samples against their own maps, and for the samples
  against shuffled maps (another image's map: what a prior that ignored the maps would score);
- FID of the samples against the real validation images, and of the reconstructions as the
  reference a perfect prior would reach (torch-fidelity, offline weights: ``common.fid``);
- completion of the lower half of each image (``--no-completion`` skips it): PSNR of the kept
  upper half against the originals and the reconstructions, and of the regenerated half;
- teacher forcing (``--forced-rows K ...``): for each K, samples whose first K rows of cells are
  the real images' codes and the rest sampled, with their FID and label following; how fast they
  come to the reconstructions' numbers as K grows shows where in the image samples fail;
- sampling time per image,

and ``grid.png`` (maps, samples, the teacher-forced samples, real images for the first 8) and
``segmenter.safetensors``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vqct.common.atomic import write_json
from vqct.common.device import checked_device
from vqct.common.errors import UserValueError, exit_code
from vqct.common.fid import FIDUnavailableError, fid_statistics, statistics_distance
from vqct.common.grid import save_labelled_grid
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.hub import load_pretrained
from vqct.common.labels import colourize
from vqct.common.metrics import pixel_metrics
from vqct.tokenizer import DataConfig, build_dataset

from .examples import validation_examples, validation_size
from .pretrained import VQCTPrior
from .sampling_flags import add_sampling_flags, sampling_from_flags
from .segmenter import LabelSegmenter, label_agreement, train_segmenter

log = logging.getLogger("vqct.prior.evaluate")


def count_or_all(text: str) -> int | str:
    return text if text == "all" else int(text)


def shuffled(labels: torch.Tensor) -> torch.Tensor:
    """Every map moved to the next image (a derangement: no image keeps its own map)."""
    return labels.roll(1, 0)


def reconstruct(model: VQCTPrior, images: torch.Tensor) -> torch.Tensor:
    return model.decode(model.encode(images)).clamp(-1, 1)


def segmenter_for(model: VQCTPrior, args) -> LabelSegmenter:
    """``--segmenter`` loaded, or one trained on the prior's data and saved beside the metrics."""
    if args.segmenter:
        segmenter = LabelSegmenter(model.num_classes).to(args.device)
        try:
            segmenter.load_state_dict(load_file(args.segmenter, device=str(args.device)))
        except (OSError, RuntimeError, SafetensorError) as error:
            raise UserValueError(
                f"--segmenter {args.segmenter}: not a {model.num_classes}-class segmenter written by prior.evaluate ({error})"
            ) from None
        return segmenter.eval()
    train_data = DataConfig(**model.data).evaluation_view("train")
    segmenter = train_segmenter(
        build_dataset(train_data),
        model.num_classes,
        steps=args.segmenter_steps,
        seed=args.seed,
        device=args.device,
        reconstruct=lambda images: reconstruct(model, images),
    )
    save_file(segmenter.state_dict(), str(Path(args.out) / "segmenter.safetensors"))
    return segmenter


def label_following(
    segmenter: LabelSegmenter, examples: dict, samples: torch.Tensor, reconstructions: torch.Tensor, classes: int
) -> dict:
    labels = examples["label"]
    return {
        "real": label_agreement(segmenter.predict(examples["image"]), labels, classes),
        "reconstructions": label_agreement(segmenter.predict(reconstructions), labels, classes),
        "samples": label_agreement(segmenter.predict(samples), labels, classes),
        "samples_shuffled_maps": label_agreement(segmenter.predict(samples), shuffled(labels), classes),
    }


def regenerated_below(model: VQCTPrior, examples: dict, row: int, condition, sampling, args) -> torch.Tensor:
    """The images with every pixel row from ``row`` down sampled again by the prior, the cells
    above kept as the images' own codes."""
    region = torch.zeros(len(examples["image"]), model.resolution, model.resolution, dtype=torch.bool)
    region[:, row:] = True
    generator = torch.Generator(args.device).manual_seed(args.seed)
    _, completed, _ = model.complete(examples["image"], region, condition, sampling=sampling, generator=generator)
    return completed.clamp(-1, 1).cpu()


def teacher_forced(model: VQCTPrior, examples: dict, condition, sampling, args) -> dict[int, torch.Tensor]:
    """For each K of ``--forced-rows``: samples whose first K rows of cells are the real images'
    codes, the rest sampled (for an autoregressive prior, teacher forcing of the first K rows of
    the raster order it samples in; a masked prior samples the rest in its own order)."""
    factor = model.tokenizer.downsample_factor
    return {
        rows: regenerated_below(model, examples, rows * factor, condition, sampling, args) for rows in args.forced_rows
    }


def completion(model: VQCTPrior, examples: dict, reconstructions: torch.Tensor, condition, sampling, args) -> dict:
    """Regenerate the lower half of every image: PSNR (dB) of the kept upper half against the
    originals and against the tokenizer's reconstructions (how well the decoded result keeps the
    known region), and of the regenerated half against the originals (a new lower half, so low)."""
    completed = regenerated_below(model, examples, model.resolution // 2, condition, sampling, args)
    top, bottom = slice(0, model.resolution // 2), slice(model.resolution // 2, None)

    def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(pixel_metrics(a, b)["psnr"].mean())

    return {
        "kept_vs_original_psnr": psnr(examples["image"][..., top, :], completed[..., top, :]),
        "kept_vs_reconstruction_psnr": psnr(reconstructions[..., top, :], completed[..., top, :]),
        "reconstruction_vs_original_psnr": psnr(examples["image"][..., top, :], reconstructions[..., top, :]),
        "regenerated_vs_original_psnr": psnr(examples["image"][..., bottom, :], completed[..., bottom, :]),
    }


def background_spread(images: torch.Tensor, labels: torch.Tensor) -> float:
    """How much the background's colour varies across images: each image's mean colour over its
    background pixels (class 0), then the sd across images, averaged over R, G, B, in [0, 1] units.
    A prior whose backgrounds all come out one colour scores near 0; the real images' is the target."""
    background = (labels == 0).unsqueeze(1).float()  # [B, 1, H, W]
    has = background.flatten(1).sum(1) > 0
    colour = ((images + 1) / 2 * background).flatten(2).sum(2) / background.flatten(1).sum(1, keepdim=True).clamp(min=1)
    return float(colour[has].std(0).mean()) if int(has.sum()) > 1 else float("nan")


def diversity(model, examples, sampling, args, maps: int = 4, draws: int = 4) -> dict[str, float]:
    """Mean pairwise l1 (pixels in [0, 1]) of ``draws`` samples of one map, over the first ``maps``
    maps; beside it, that of the real images of those maps (different maps: the most a set differs).
    Samples of one map that are all alike score near 0."""
    maps = min(maps, args.num)
    labels = examples["label"][:maps].repeat_interleave(draws, 0) if "label" in examples else None
    generator = torch.Generator(args.device).manual_seed(args.seed + 1)
    _, samples = model.generate(labels, num=maps * draws, sampling=sampling, generator=generator)
    groups = ((samples.clamp(-1, 1).cpu() + 1) / 2).reshape(maps, draws, -1)
    within = torch.cdist(groups, groups, p=1) / groups.shape[-1]  # [maps, draws, draws]
    real = ((examples["image"][:maps] + 1) / 2).flatten(1)
    between = torch.cdist(real, real, p=1) / real.shape[-1]
    pairs = draws * (draws - 1)
    return {
        "samples_of_one_map": float(within.sum((1, 2)).mean() / pairs),
        "real_images_of_different_maps": float(between.sum() / (maps * (maps - 1))) if maps > 1 else float("nan"),
    }


def markdown(metrics: dict) -> str:
    lines = [
        f"# Prior evaluation: {metrics['prior']}",
        "",
        f"{metrics['num']} validation maps, seed {metrics['seed']}, "
        f"{metrics['seconds_per_image']:.3f} s per sampled image on {metrics['device']}.",
        "",
    ]
    if "label_following" in metrics:
        lines += [
            "| images vs maps | object IoU | pixel accuracy | foreground accuracy | mean IoU |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, v in metrics["label_following"].items():
            lines.append(
                f"| {name} | {v['object_iou']:.3f} | {v['pixel_accuracy']:.3f} | {v['foreground_accuracy']:.3f} | {v['mean_iou']:.3f} |"
            )
        lines.append("")
    if "completion" in metrics:
        lines += ["Completion of the lower half (PSNR, dB, upper half unless named):", ""]
        lines += [f"- {name}: {value:.2f}" for name, value in metrics["completion"].items()] + [""]
    if "background_spread" in metrics:
        spread = metrics["background_spread"]
        lines += [
            "Background colour spread (sd across images of each one's mean background colour, [0, 1]): "
            + ", ".join(f"{name} {value:.3f}" for name, value in spread.items()),
            "",
        ]
    if "diversity" in metrics:
        lines += [
            "Diversity (mean pairwise l1, [0, 1]): "
            + ", ".join(f"{name.replace('_', ' ')} {value:.3f}" for name, value in metrics["diversity"].items()),
            "",
        ]
    if "teacher_forced" in metrics:
        lines += [
            "Teacher forcing (the first K rows of cells from the real images' codes, the rest sampled):",
            "",
            "| rows given | object IoU | mean IoU | FID |",
            "|---:|---:|---:|---:|",
        ]
        for rows, v in metrics["teacher_forced"].items():
            agreement = v.get("label_following", {})
            cells = zip((agreement.get("object_iou"), agreement.get("mean_iou"), v.get("fid")), (".3f", ".3f", ".2f"))
            lines.append(f"| {rows} | " + " | ".join("–" if c is None else format(c, f) for c, f in cells) + " |")
        lines.append("")
    for name in ("fid_samples", "fid_reconstructions"):
        if name in metrics:
            lines.append(f"- {name}: {metrics[name]:.2f}")
    return "\n".join(lines) + "\n"


def run(args) -> int:
    args.device = str(checked_device(args.device))  # one clear error for a device this machine lacks
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserValueError(f"--out {out}: a file, not a folder")
    model = load_pretrained(VQCTPrior, args.prior, "--prior").to(args.device).eval()
    sampling = sampling_from_flags(model, args)
    size = validation_size(model)
    if args.num == "all":
        args.num = size
    if args.num > size:  # every map and sample is held at once: a bound, not the procedural shapes grown
        raise UserValueError(
            f"--num {args.num}: the validation split of the prior's data set has {size} items; use --num {size} "
            "or fewer (--num all), or vqct-sample, which streams any number"
        )
    grid_rows, grid_columns = model.token_grid
    if any(not 0 < forced < grid_rows for forced in args.forced_rows):
        raise UserValueError(
            f"--forced-rows {' '.join(map(str, args.forced_rows))}: each must be 1 to {grid_rows - 1}, "
            f"rows of cells of this prior's {grid_rows}×{grid_columns} token grid"
        )
    examples = validation_examples(model, args.num)
    semantic = model.prior_config.condition == "semantic"
    out.mkdir(parents=True, exist_ok=True)  # every input checked: nothing written before
    generator = torch.Generator(args.device).manual_seed(args.seed)
    started = time.perf_counter()
    _, samples = model.generate(
        examples["label"] if semantic else None, num=args.num, sampling=sampling, generator=generator
    )
    seconds = time.perf_counter() - started
    samples = samples.clamp(-1, 1).cpu()
    reconstructions = reconstruct(model, examples["image"].to(args.device)).cpu()
    metrics = {
        "prior": args.prior,
        "num": args.num,
        "seed": args.seed,
        "sampling": asdict(sampling),
        "device": args.device,
        "seconds_per_image": seconds / args.num,
    }
    forced = teacher_forced(model, examples, examples["label"] if semantic else None, sampling, args)
    if forced:
        metrics["teacher_forced"] = {str(rows): {} for rows in forced}
    if semantic:
        segmenter = segmenter_for(model, args)
        classes = model.num_classes
        metrics["label_following"] = label_following(segmenter, examples, samples, reconstructions, classes)
        for rows, images in forced.items():
            agreement = label_agreement(segmenter.predict(images), examples["label"], classes)
            metrics["teacher_forced"][str(rows)]["label_following"] = agreement
        metrics["background_spread"] = {
            name: background_spread(images, examples["label"])
            for name, images in (
                ("samples", samples),
                ("reconstructions", reconstructions),
                ("real", examples["image"]),
            )
        }
    metrics["diversity"] = diversity(model, examples, sampling, args)
    if not args.no_completion:
        metrics["completion"] = completion(
            model, examples, reconstructions, examples["label"] if semantic else None, sampling, args
        )
    if not args.no_fid:
        try:
            real = fid_statistics(examples["image"], device=args.device)  # embedded once for both
            metrics["fid_samples"] = statistics_distance(real, fid_statistics(samples, device=args.device))
            metrics["fid_reconstructions"] = statistics_distance(
                real, fid_statistics(reconstructions, device=args.device)
            )
            for rows, images in forced.items():
                metrics["teacher_forced"][str(rows)]["fid"] = statistics_distance(
                    real, fid_statistics(images, device=args.device)
                )
        except FIDUnavailableError as error:
            log.warning("FID skipped: %s", error)
    given = [(f"{count} row{'s' * (count > 1)} given", images) for count, images in forced.items()]
    rows = [("sample", samples), *given, ("real", examples["image"])]
    if semantic:
        rows.insert(0, ("map", colourize(examples["label"][:8], model.num_classes)))
    save_labelled_grid(rows, out / "grid.png")
    write_json(out / "metrics.json", metrics)
    (out / "metrics.md").write_text(markdown(metrics))
    print(markdown(metrics), end="")
    print(f"wrote {out / 'metrics.json'}, {out / 'metrics.md'} and {out / 'grid.png'}")
    return 0


def main(argv: list[str] | None = None, prog: str = "vqct-evaluate prior") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=PlainHelpFormatter)
    parser.add_argument("--prior", required=True, help="a VQCTPrior save_pretrained folder or Hub id")
    parser.add_argument(
        "--num", type=count_or_all, default=256, help="validation maps to sample from, or 'all' (the whole split)"
    )
    parser.add_argument(
        "--out", required=True, help="output folder for metrics.json, metrics.md, grid.png, segmenter.safetensors"
    )
    add_sampling_flags(parser)
    parser.add_argument(
        "--segmenter-steps", type=int, default=400, help="training steps of the label-following segmenter (default 400)"
    )
    parser.add_argument(
        "--segmenter",
        help="a segmenter.safetensors from an earlier evaluation on the same data, instead of training one",
    )
    parser.add_argument("--no-fid", action="store_true", help="skip FID (it needs the offline Inception weights)")
    parser.add_argument("--no-completion", action="store_true", help="skip the completion of the lower halves")
    parser.add_argument(
        "--forced-rows",
        type=int,
        nargs="+",
        default=[],
        metavar="K",
        help="also sample with the first K rows of cells from the real images' codes, for each K (teacher forcing)",
    )
    args = parser.parse_args(argv)
    if args.num != "all" and args.num < 2:
        parser.error("--num must be at least 2 (shuffled maps and FID need two images)")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return exit_code(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
