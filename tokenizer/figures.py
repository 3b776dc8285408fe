"""The paper's analysis figures for one tokenizer, as PNG files.

- ``usage.png`` (Fig. 5): how often each code of each codebook was used, codes sorted by use;
- ``code_similarity.png`` (Fig. 6): cosine similarity among a fixed sample of codes at every
  checkpoint of the run (``<run>/checkpoints`` beside ``<run>/final``), and its mean over steps;
- ``patch_words.png`` (Fig. 7, language tokenizers only): images with the adjective and noun
  chosen for each patch written over it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from safetensors.torch import load_file

from vqct.common.checkpoints import checkpoints
from vqct.common.metrics import to_unit

from .model import LANGUAGE_KINDS, VQCTTokenizer

SAMPLED_CODES = 64
PATCH_PIXELS = 64  # drawn size of one patch in the overlay, room for two short words


def usage_figure(model: VQCTTokenizer, counts: list[torch.Tensor], path: Path) -> Path:
    figure, axes = plt.subplots(1, len(counts), figsize=(6 * len(counts), 3.5), squeeze=False)
    for axis, name, group_counts in zip(axes[0], model.group_names, counts):
        ordered = group_counts.cpu().sort(descending=True).values.float()
        used = int((ordered > 0).sum())
        axis.bar(range(len(ordered)), ordered.numpy(), width=1.0, color="tab:blue")
        axis.set_title(f"{name}: {used} of {len(ordered)} codes used ({100 * used / len(ordered):.1f}%)")
        axis.set_xlabel("code (sorted by use)")
        axis.set_ylabel("times chosen")
        axis.set_yscale("symlog")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def run_checkpoints(source: str) -> list[tuple[int, Path]]:
    """(step, model weights) of the checkpoints of the run ``source`` came from, oldest first."""
    found = checkpoints(Path(source).parent)
    return [(step, folder / "model.safetensors") for step, folder in found if (folder / "model.safetensors").is_file()]


@torch.no_grad()
def similarity_figure(model: VQCTTokenizer, source: str, path: Path) -> Path:
    """Cosine similarity of a fixed code sample per checkpoint (codes drifting together = collapse)."""
    stages = [(step, load_file(str(weights))) for step, weights in run_checkpoints(source)]
    stages.append(("final", model.state_dict()))
    probe = copy.deepcopy(model).cpu().eval()
    samples = [
        torch.randperm(size, generator=torch.Generator().manual_seed(size))[:SAMPLED_CODES]
        for size in probe.codebook_sizes
    ]
    groups = len(samples)
    figure, axes = plt.subplots(groups + 1, len(stages), figsize=(2.4 * len(stages), 2.4 * (groups + 1)), squeeze=False)
    means = [[] for _ in range(groups)]
    for column, (step, state) in enumerate(stages):
        probe.load_state_dict(state)
        for row, (codes, sample) in enumerate(zip(probe.group_codebooks(), samples)):
            unit = F.normalize(codes[sample].float().cpu(), dim=1)
            similarity = unit @ unit.T
            off_diagonal = similarity[~torch.eye(len(sample), dtype=torch.bool)]
            means[row].append(float(off_diagonal.mean()))
            axis = axes[row][column]
            axis.imshow(similarity.numpy(), vmin=-1, vmax=1, cmap="coolwarm")
            axis.set_title(f"{probe.group_names[row]} @ {step}", fontsize=8)
            axis.axis("off")
    for column in range(len(stages)):
        axes[groups][column].axis("off")
    summary = figure.add_subplot(groups + 1, 1, groups + 1)
    for name, values in zip(probe.group_names, means):
        summary.plot([str(step) for step, _ in stages], values, marker="o", label=name)
    summary.set_ylabel("mean cosine")
    summary.set_xlabel("checkpoint step")
    summary.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


@torch.no_grad()
def patch_words_figure(model: VQCTTokenizer, images: torch.Tensor, path: Path) -> Path:
    """Each image enlarged, a grid over its patches, and each patch's adjective / noun."""
    words = model.words(model.encode(images))
    panels = []
    for image, grid in zip(to_unit(images.cpu()), words):
        rows, cols = len(grid), len(grid[0])
        pixels = (image.permute(1, 2, 0).numpy() * 255).astype("uint8")
        panel = Image.fromarray(pixels).resize((cols * PATCH_PIXELS, rows * PATCH_PIXELS), Image.NEAREST)
        draw = ImageDraw.Draw(panel)
        for r, row in enumerate(grid):
            for c, (adjective, noun) in enumerate(row):
                x, y = c * PATCH_PIXELS, r * PATCH_PIXELS
                draw.rectangle([x, y, x + PATCH_PIXELS - 1, y + PATCH_PIXELS - 1], outline=(255, 255, 255))
                for line, text in enumerate(word for word in (adjective, noun) if word):
                    draw.text(
                        (x + 3, y + 3 + 12 * line),
                        text[:10],
                        fill=(255, 255, 255),
                        stroke_width=2,
                        stroke_fill=(0, 0, 0),
                    )
        panels.append(panel)
    sheet = Image.new("RGB", (sum(p.width for p in panels) + 8 * (len(panels) - 1), panels[0].height), "white")
    x = 0
    for panel in panels:
        sheet.paste(panel, (x, 0))
        x += panel.width + 8
    sheet.save(path)
    return path


def write_figures(
    model: VQCTTokenizer, source: str, dataset, counts: list[torch.Tensor], folder: Path, device
) -> list[Path]:
    if not model.groups:  # the quantizer-free reference: no codes to count, compare or name
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = [
        usage_figure(model, counts, folder / "usage.png"),
        similarity_figure(model, source, folder / "code_similarity.png"),
    ]
    if model.config.quantizer.kind in LANGUAGE_KINDS:
        images = torch.stack([dataset[i]["image"] for i in range(min(4, len(dataset)))]).to(device)
        written.append(patch_words_figure(model.to(device).eval(), images, folder / "patch_words.png"))
    return written
