"""Model cards for the Hub: what was trained on what, how it measured, what it makes.

``save_final`` writes one into every ``final/`` folder (README.md, with the latest image grid
copied beside it as ``samples.png``), so a pushed repo shows its config, data set, metrics and
samples, and loading instructions that work as written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from huggingface_hub import ModelCard, ModelCardData

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
) -> Path:
    """README.md in ``folder`` (and samples.png when ``grid`` exists); returns the card's path.
    ``origin`` is the card's first sentence, where the weights come from (a converted model was
    not trained here, and has no data section: the config has none)."""
    tags = ["vqct", "image-tokenizer" if kind == "tokenizer" else "image-generation", "vector-quantization"]
    data = config.get("data", {})
    metadata = ModelCardData(library_name="vqct", tags=tags, license="mit")
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
