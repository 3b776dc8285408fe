"""Model cards for the Hub: what was trained on what, how it measured, what it makes.

``save_final`` writes one into every ``final/`` folder (README.md, with the latest image grid
copied beside it as ``samples.png``), so a pushed repo shows its config, data set, metrics and
samples, and loading instructions that work as written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

USAGE = {
    "tokenizer": (
        "from vqct import VQCTTokenizer\n"
        'model = VQCTTokenizer.from_pretrained("{repo}").eval()\n'
        "codes = model.encode(images)   # [B, 3, H, W] in [-1, 1] → [B, G, h, w]\n"
        "images = model.decode(codes)"
    ),
    "prior": (
        "from vqct import VQCTPrior\n"
        'model = VQCTPrior.from_pretrained("{repo}").eval()   # its tokenizer comes with it\n'
        "codes, images = model.generate(label_maps)          # label maps [B, H, W] of class ids"
    ),
}


# The metrics a card reports to the Hub's model index (the card's table lists every one), with the
# name the index shows; a label map → image prior and a tokenizer are both image-to-image.
INDEXED_METRICS = {"val/psnr": "PSNR (dB)", "val/ssim": "SSIM", "val/fid": "FID", "val/loss": "validation loss"}

TRAINED_HERE = (
    "Trained with the VQCT toolkit (CVPR 2024, *Codebook Transfer with Part-of-Speech for "
    "Vector-Quantized Image Modeling*)."
)


def write_model_card(
    folder: Path,
    *,
    kind: str,
    repo: str,
    config: dict,
    metrics: dict | None,
    grid: Path | None,
    origin: str = TRAINED_HERE,
    training: dict | None = None,
    license: str = "mit",
    base_model: str | None = None,
) -> Path:
    """README.md in ``folder`` (and samples.png when ``grid`` exists); returns the card's path.
    ``origin`` is the card's first sentence, where the weights come from (a converted model was
    not trained here, and has no data section: the config has none). ``training``: facts of the
    training a user of the weights needs (the perceptual loss it had), one line each. ``license``
    and ``base_model``: the weights' own (a converted model keeps its source's licence)."""
    tags = ["vqct", "image-tokenizer" if kind == "tokenizer" else "image-generation", "vector-quantization"]
    data = config.get("data", {})
    dataset = data.get("root") if data.get("kind") == "hf" else None  # a Hub data set by its id
    metadata = ModelCardData(
        library_name="vqct",
        tags=tags,
        license=license,
        base_model=base_model,
        datasets=[dataset] if dataset else None,
        model_name=repo,
        eval_results=eval_results(metrics or {}, data, dataset) or None,
    )
    lines = [
        f"# VQCT {kind}: {repo}",
        "",
        origin,
        "",
        "## Use",
        "",
        "```python",
        USAGE[kind].format(repo=repo),
        "```",
        "",
    ]
    if data:
        lines += [
            "## Data",
            "",
            f"`{data.get('kind', 'unknown')}` at {data.get('resolution', '?')} px"
            + (f" from `{data['root']}`" if data.get("root") else "")
            + (f", {data['length']} training images" if data.get("kind") == "shapes" else "")
            + ".",
            "",
        ]
    if training:
        lines += ["## Training", ""]
        lines += [f"- {name.replace('_', ' ')}: {value}" for name, value in training.items()]
        lines.append("")
    if metrics:
        lines += ["## Metrics (last validation)", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {name} | {value:.4g} |" for name, value in metrics.items() if isinstance(value, (int, float))]
        lines.append("")
    if grid is not None and grid.is_file():
        shutil.copyfile(grid, folder / "samples.png")
        caption = (
            "validation images over their reconstructions"
            if kind == "tokenizer"
            else "label maps, samples, reconstructions of the real images"
        )
        lines += ["## Samples", "", f"![{caption}](samples.png)", "", f"Rows: {caption}.", ""]
    lines += ["## Config", "", "```yaml", yaml.safe_dump(config, sort_keys=False).strip(), "```", ""]
    card = folder / "README.md"
    # huggingface_hub writes the metadata header the Hub reads (and checks it is valid YAML)
    ModelCard(f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(lines)).save(card)
    return card


def eval_results(metrics: dict, data: dict, dataset: str | None) -> list[EvalResult]:
    """The last validation's headline metrics as the Hub's model-index entries."""
    kind = data.get("kind", "unknown")
    return [
        EvalResult(
            task_type="image-to-image",
            dataset_type=dataset or f"vqct-{kind}",
            dataset_name=f"{kind} (validation split)",
            dataset_split="validation",
            metric_type=name.removeprefix("val/"),
            metric_name=shown,
            metric_value=round(float(metrics[name]), 4),
        )
        for name, shown in INDEXED_METRICS.items()
        if isinstance(metrics.get(name), int | float)
    ]
