"""Measure tokenizers the same way: reconstruction metrics, codebook usage, speed, figures.

    vqct-evaluate tokenizer --model DIR_OR_HUB_ID [--model ...] --data CONFIG_OR_FOLDER [--num N] --out DIR

``--data`` is a tokenizer training config, a file or a shipped one by name (its data section,
validation split), ``shapes`` (the built-in validation split) or a folder of images (all of
them). Images are resized and centre-cropped to ``--resolution`` (default: the first model's
training resolution).

Writes ``metrics.json`` and ``metrics.md`` (one row per model, the paper's Table 1 columns):
FID of the reconstructions against the same originals (torch-fidelity, Inception 2015-12-05, on
the 8-bit images), PSNR, SSIM, l1 and l2 on both protocols of ``common.metrics`` (ours: pixel
values in [0, 1]; ``paper/…``: the official evaluation's [-1, 1] l1/l2 and 8-bit PSNR/SSIM;
``--protocol`` picks the table's columns, the JSON holds both), codebook usage % and perplexity
per codebook over the whole set, and encode+decode throughput. ``--figures`` adds PNGs: per-code usage
histograms, code similarity across the run's checkpoints and a patch→word overlay.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from vqct.common.atomic import write_json
from vqct.common.config import load_config
from vqct.common.device import add_device_flag, checked_device
from vqct.common.errors import UserFileNotFoundError, exit_code
from vqct.common.fid import FIDUnavailableError, fid_statistics, statistics_distance
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.hub import load_pretrained
from vqct.common.metrics import paper_pixel_metrics, pixel_metrics
from vqct.common.shipped_configs import find_config
from vqct.common.timing import synchronize
from vqct.tokenizer.config import TokenizerTrainConfig
from vqct.tokenizer.usage import CodeHistogram

from .data import DataConfig, build_dataset
from .model import VQCTTokenizer

log = logging.getLogger("vqct.tokenizer.evaluate")


def data_config(data: str, resolution: int, num: int | None) -> DataConfig:
    """The evaluation set named by ``--data``: a training config, ``shapes`` or a folder."""
    path = Path(data)
    if data in ("shapes", "builtin:shapes"):
        config = DataConfig(kind="shapes", split="validation", validation_length=num or 256)
    elif path.is_dir():
        config = DataConfig(kind="folder", root=str(path), split="all")
    elif path.suffix in (".yaml", ".yml"):
        config = load_config(TokenizerTrainConfig, find_config(path, "tokenizer")).data.evaluation_view()
    else:
        raise UserFileNotFoundError(f"--data {data}: not a folder, a tokenizer config (.yaml) or 'shapes'")
    return replace(config.evaluation_view(config.split), resolution=resolution)


def unreadable_files(dataset) -> set[str]:
    """The files a (possibly Subset-wrapped) image-file data set could not read so far."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return set(getattr(dataset, "skipped", ()))


@torch.no_grad()
def evaluate(
    model: VQCTTokenizer,
    dataset,
    *,
    batch_size: int,
    device: torch.device,
    fid: bool = True,
    reference: dict | None = None,
) -> tuple[dict[str, float], CodeHistogram]:
    """Every metric of the module docstring for one model over ``dataset``, and the code counts.
    ``reference``: the originals' ``fid_statistics`` when already computed (several models)."""
    model = model.to(device).eval()
    loader = DataLoader(dataset, batch_size=batch_size)
    histogram = CodeHistogram(model.codebook_sizes, device)
    measured, originals, reconstructed = defaultdict(list), [], []
    count = 0
    for batch in tqdm(loader, desc="evaluating", unit=" batch", leave=False):
        images = batch["image"].to(device)
        if "substituted" in batch:  # an unreadable file's stand-in would count an image twice
            images = images[~batch["substituted"].to(device)]
            if not len(images):
                continue
        # The forward pass, not decode(encode()): the same reconstructions in eval mode, and it
        # also serves the quantizer-free reference (kind=none), which has no codes to decode.
        reconstructions, quantized = model(images)
        count += len(images)
        histogram.update(quantized.indices)
        for name, values in (
            pixel_metrics(images, reconstructions) | paper_pixel_metrics(images, reconstructions)
        ).items():
            measured[name].append(values.cpu())
        if fid:
            originals.append(images.cpu())
            reconstructed.append(reconstructions.clamp(-1, 1).cpu())
    metrics = {name: float(torch.cat(values).mean()) for name, values in measured.items()}
    metrics["images"] = count
    skipped = sorted(unreadable_files(dataset))
    if skipped:
        metrics["skipped"] = skipped
        log.warning("%d unreadable file(s) left out of the metrics, e.g. %s", len(skipped), skipped[0])
    metrics |= {key.removeprefix("usage/"): value for key, value in histogram.metrics(model.group_names).items()}
    if fid:
        log.info("FID on %d reconstructions against their originals (Inception on %s)", count, device)
        try:
            reference = reference or fid_statistics(torch.cat(originals), device=device)
            metrics["fid"] = statistics_distance(reference, fid_statistics(torch.cat(reconstructed), device=device))
        except FIDUnavailableError as error:
            log.warning("FID skipped: %s", error)
    return metrics, histogram


@torch.no_grad()
def throughput(model: VQCTTokenizer, images: torch.Tensor, repeats: int = 5) -> float:
    """encode + decode images per second on one batch, after a warm-up pass (measured before any
    FID run, whose Inception passes slow later CPU work down)."""
    model.eval()
    model(images)
    synchronize(images.device)
    started = time.perf_counter()
    for _ in range(repeats):
        model(images)
    synchronize(images.device)
    return repeats * len(images) / (time.perf_counter() - started)


TABLE_COLUMNS = (
    ("fid", "FID ↓", "{:.2f}"),
    ("l1", "l1 ↓", "{:.4f}"),
    ("l2", "l2 ↓", "{:.4f}"),
    ("psnr", "PSNR ↑", "{:.2f}"),
    ("ssim", "SSIM ↑", "{:.4f}"),
)
PROTOCOL_NOTES = {
    "ours": "Pixel metrics on values in [0, 1] (reconstructions clamped)",
    "paper": "Pixel metrics as the official VQCT evaluation: l1, l2 on [-1, 1] outputs, not clamped; PSNR, SSIM on 8-bit images",
}


def markdown_table(results: dict[str, dict], protocol: str = "ours") -> str:
    """One row per model: method, codebook sizes, then Table 1's columns (``protocol``'s pixel
    metrics) and usage."""
    prefix = "paper/" if protocol == "paper" else ""
    header = (
        ["model", "quantizer", "codebooks"]
        + [title for _, title, _ in TABLE_COLUMNS]
        + ["usage % ↑", "perplexity", "images/s"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 3 + "---:|" * (len(header) - 3)]
    for name, metrics in results.items():
        groups = metrics["groups"]
        cells = [name, metrics["quantizer"], " + ".join(str(size) for size in metrics["codebook_sizes"]) or "none"]
        for key, _, fmt in TABLE_COLUMNS:
            key = key if key == "fid" else prefix + key
            cells.append(fmt.format(metrics[key]) if key in metrics else "n/a")
        cells.append(" / ".join(f"{metrics[f'{g}_percent']:.1f}" for g in groups) or "no codes")
        cells.append(" / ".join(f"{metrics[f'{g}_perplexity']:.1f}" for g in groups) or "no codes")
        cells.append(f"{metrics['images_per_second']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    notes = f"{PROTOCOL_NOTES[protocol]}; FID of the 8-bit reconstructions against the same originals."
    return "\n".join(lines) + "\n\n" + notes + "\n"


def model_name(source: str) -> str:
    path = Path(source)
    if path.exists():  # .../run/final → run
        return path.parent.name if path.name == "final" else path.name
    return source


def main(argv: list[str] | None = None, prog: str = "vqct-evaluate tokenizer") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=PlainHelpFormatter)
    parser.add_argument(
        "--model", action="append", required=True, help="a save_pretrained folder or a Hub id; repeat to compare"
    )
    parser.add_argument(
        "--data", required=True, help="tokenizer config (.yaml file or shipped name), 'shapes', or a folder of images"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num", type=int, help="evaluate the first N images only")
    parser.add_argument("--resolution", type=int, help="default: the first model's training resolution")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch (default 32)")
    add_device_flag(parser)
    parser.add_argument("--no-fid", action="store_true", help="skip FID")
    parser.add_argument(
        "--protocol",
        choices=sorted(PROTOCOL_NOTES),
        default="ours",
        help="the pixel metrics metrics.md shows: ours ([0, 1]) or the paper's ([-1, 1] l1/l2, 8-bit PSNR/SSIM)",
    )
    parser.add_argument(
        "--figures", action="store_true", help="usage histograms, code similarity over checkpoints, patch→word overlay"
    )
    args = parser.parse_args(argv)
    for flag, value in (("--num", args.num), ("--resolution", args.resolution), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return exit_code(lambda: run(args))


def run(args) -> int:
    out = Path(args.out)
    device = checked_device(args.device)
    models = {model_name(source): (source, load_pretrained(VQCTTokenizer, source, "--model")) for source in args.model}
    first = next(iter(models.values()))[1]
    resolution = args.resolution or first.config.autoencoder.resolution
    dataset = build_dataset(data_config(args.data, resolution, args.num))
    if args.num is not None:
        dataset = Subset(dataset, range(min(args.num, len(dataset))))
    out.mkdir(parents=True, exist_ok=True)
    timing_batch = torch.stack([dataset[i]["image"] for i in range(min(args.batch_size, len(dataset)))]).to(device)
    speeds = {name: throughput(model.to(device), timing_batch) for name, (_, model) in models.items()}
    results, reference = {}, None
    if not args.no_fid and len(models) > 1:  # the originals embedded once for every model
        try:
            reference = fid_statistics(torch.stack([dataset[i]["image"] for i in range(len(dataset))]), device=device)
        except FIDUnavailableError:
            pass  # evaluate() says that FID was skipped
    for name, (source, model) in models.items():
        log.info("%s: %d images at %d px", name, len(dataset), resolution)
        metrics, histogram = evaluate(
            model, dataset, batch_size=args.batch_size, device=device, fid=not args.no_fid, reference=reference
        )
        metrics |= {
            "images_per_second": speeds[name],
            "source": source,
            "quantizer": model.config.quantizer.kind,
            "codebook_sizes": list(model.codebook_sizes),
            "groups": list(model.group_names),
        }
        results[name] = metrics
        if args.figures:
            from .figures import write_figures

            metrics["figures"] = [
                str(path) for path in write_figures(model, source, dataset, histogram.counts, out / name, device)
            ]
    write_json(out / "metrics.json", {"data": args.data, "resolution": resolution, "models": results})
    table = markdown_table(results, args.protocol)
    (out / "metrics.md").write_text(table)
    print(table)
    print(f"wrote {out / 'metrics.json'} and {out / 'metrics.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
