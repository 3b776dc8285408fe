"""Model cards for the Hub: what was trained on what, how it measured, what it makes.

One writer for every way a model is saved (a run's final save, ``save_pretrained``,
``push_to_hub``, ``vqct-convert``): the card is made from the model's own record (``card`` in its
config.json: where the weights come from, the data, the run's config, the last validation and
``vqct-evaluate``'s headline numbers), so a model loaded and saved again publishes the same card.
A card never shows a local path: the usage snippet names the repo id when one is known and
``<user>/<repo>`` otherwise, and paths in the config are shown as ``<local path>``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .errors import UserValueError

PAPER_URL = "https://arxiv.org/abs/2403.10071"
BIBTEX = """@inproceedings{zhang2024vqct,
  title     = {Codebook Transfer with Part-of-Speech for Vector-Quantized Image Modeling},
  author    = {Zhang, Baoquan and Wang, Huaibin and Luo, Chuyao and Li, Xutao and Liang, Guotao and
               Ye, Yunming and Qi, Xiaochen and He, Yao},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2024}
}"""
TRAINED_HERE = (
    f"Trained with the VQCT toolkit ([paper]({PAPER_URL}): CVPR 2024, *Codebook Transfer with "
    "Part-of-Speech for Vector-Quantized Image Modeling*)."
)
PLACEHOLDER_REPO = "<user>/<repo>"
LOCAL = "<local path>"
# namespace/name, as the Hub spells repo ids (a data set's or a model's)
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

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
        'images = model.generate_images(["map.png"], num_images_per_map=4)  # label maps → PIL images'
    ),
}
SAMPLES_CAPTION = {
    "tokenizer": "validation images over their reconstructions",
    "prior": "label maps, samples, reconstructions of the real images",
}
DATA_PROSE = {
    "shapes": "the toolkit's built-in procedural shapes (`data.kind=shapes`, drawn by the code, no download)",
    "photos": "the toolkit's built-in photographs (`data.kind=photos`: the ones scikit-image ships)",
    "folder": "a folder of images (`data.kind=folder`), not published with the model",
    "webdataset": "webdataset shards (`data.kind=webdataset`), not published with the model",
    "hf": "the Hugging Face data set `{root}`",
}
# The last validation's metrics the Hub's model index lists (the card's table has every val/ one)
VALIDATION_INDEXED = {"val/psnr": "PSNR (dB)", "val/ssim": "SSIM", "val/fid": "FID", "val/loss": "validation loss"}


def is_local_path(text: str) -> bool:
    """A string that names a place on this machine rather than a Hub id or a plain name."""
    path = Path(text).expanduser()
    if path.is_absolute() or text.startswith(("./", "../", "~", "outputs/")) or "\\" in text:
        return True
    return "/" in text and (not HUB_ID.match(text) or path.exists())


def public(value):
    """``value`` (JSON-like) with every local path replaced by ``<local path>``."""
    if isinstance(value, dict):
        return {key: public(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [public(item) for item in value]
    return LOCAL if isinstance(value, str) and is_local_path(value) else value


def hub_dataset(data: dict) -> str | None:
    """The data's Hub id, where it is one (``data.kind=hf`` from the Hub, not a local folder)."""
    root = str(data.get("root") or "")
    return root if data.get("kind") == "hf" and not is_local_path(root) and HUB_ID.match(root) else None


def evaluation_headline(metrics_file: str | Path) -> dict:
    """``vqct-evaluate``'s metrics.json (tokenizer or prior) → its headline numbers, flat, as a
    card shows them; a file of another shape is one error naming it."""
    path = Path(metrics_file)
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserValueError(f"{path}: not a readable vqct-evaluate metrics.json ({error})") from None
    if isinstance(metrics, dict) and isinstance(metrics.get("models"), dict) and metrics["models"]:
        model = next(iter(metrics["models"].values()))  # vqct-evaluate tokenizer: one row per --model
        names = ("psnr", "ssim", "l1", "l2", "fid")
        headline = {name: model[name] for name in names if isinstance(model.get(name), int | float)}
        return headline | {"images": model.get("images"), "data": metrics.get("data")}
    if isinstance(metrics, dict) and "num" in metrics and ("fid_samples" in metrics or "diversity" in metrics):
        following = metrics.get("label_following", {}).get("samples", {})
        headline = {
            f"label following: {name.replace('_', ' ')}": following[name]
            for name in ("object_iou", "mean_iou", "pixel_accuracy")
            if isinstance(following.get(name), int | float)
        }
        for name in ("fid_samples", "fid_reconstructions"):
            if isinstance(metrics.get(name), int | float):
                headline[name.replace("_", " of the ").replace("fid", "FID")] = metrics[name]
        return headline | {"images": metrics["num"]}
    raise UserValueError(f"{path}: not a vqct-evaluate metrics.json (no 'models', nor a prior's 'num' and metrics)")


def model_card(
    *,
    kind: str,
    record: dict,
    data: dict,
    config: dict,
    repo_id: str | None,
    samples: bool,
    pipeline_tag: str,
    tags: list[str],
    base_model: str | None = None,
    training: dict | None = None,
) -> ModelCard:
    """The card of a ``kind`` model (tokenizer or prior) from its ``record`` (``card`` in its
    config.json). ``data``: the data config it was trained on; ``config``: what the Config section
    shows (the run's config where recorded); ``samples``: whether samples.png is beside the card;
    ``training``: facts of its training a user of the weights needs, one line each."""
    repo = repo_id or record.get("repo_id") or None
    dataset = hub_dataset(data)
    validation = {k: v for k, v in (record.get("validation") or {}).items() if k.startswith("val/")}
    evaluation = record.get("evaluation") or {}
    results = eval_results(validation, evaluation, data, dataset, pipeline_tag)
    metadata = ModelCardData(
        library_name="vqct",
        license=record.get("license", "mit"),
        pipeline_tag=pipeline_tag,
        tags=tags,
        base_model=record.get("base_model") or base_model,
        datasets=[dataset] if dataset else None,
        model_name=repo or f"vqct-{kind}",
        eval_results=results or None,
    )
    lines = [f"# VQCT {kind}" + (f": {repo}" if repo else ""), "", record.get("origin", TRAINED_HERE), ""]
    lines += ["## Use", "", "```python", USAGE[kind].format(repo=repo or PLACEHOLDER_REPO), "```", ""]
    if not repo:
        lines += [f"`{PLACEHOLDER_REPO}`: the Hub id this model is published under, or the folder it is in.", ""]
    if data:
        kind_name = str(data.get("kind", "unknown"))
        prose = DATA_PROSE.get(kind_name, f"`data.kind={kind_name}`").format(root=data.get("root"))
        count = f", {data['length']} training images" if kind_name == "shapes" and data.get("length") else ""
        lines += ["## Data", "", f"{prose[0].upper()}{prose[1:]}, at {data.get('resolution', '?')} px{count}.", ""]
    if training:
        lines += ["## Training", ""]
        lines += [f"- {name.replace('_', ' ')}: {value}" for name, value in training.items()]
        lines.append("")
    if validation:
        step = record.get("validation", {}).get("step")
        lines += [f"## Last validation{f' (step {step})' if step is not None else ''}", ""]
        lines += ["| metric | value |", "|---|---:|"]
        lines += [f"| {name} | {value:.4g} |" for name, value in validation.items() if _number(value)]
        lines.append("")
    if evaluation:
        images = evaluation.get("images")
        lines += [f"## Evaluation (`vqct-evaluate`{f', {images} images' if images else ''})", ""]
        lines += ["| metric | value |", "|---|---:|"]
        lines += [
            f"| {name} | {value:.4g} |" for name, value in evaluation.items() if name != "images" and _number(value)
        ]
        lines.append("")
    if samples:
        caption = SAMPLES_CAPTION[kind]
        lines += ["## Samples", "", f"![{caption}](samples.png)", "", f"Rows: {caption}.", ""]
    lines += ["## Config", "", "```yaml", yaml.safe_dump(public(config), sort_keys=False).strip(), "```", ""]
    lines += ["## Citation", "", f"The method is the paper's ({PAPER_URL}):", "", "```bibtex", BIBTEX, "```", ""]
    # huggingface_hub writes the metadata header the Hub reads (and checks it is valid YAML)
    return ModelCard(f"---\n{metadata.to_yaml()}\n---\n\n" + "\n".join(lines))


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def eval_results(validation: dict, evaluation: dict, data: dict, dataset: str | None, task: str) -> list[EvalResult]:
    """The last validation's headline metrics and ``vqct-evaluate``'s as the Hub's model-index entries."""
    kind = str(data.get("kind", "unknown"))
    entries = [
        (name.removeprefix("val/"), shown, validation[name])
        for name, shown in VALIDATION_INDEXED.items()
        if name in validation
    ]
    entries += [(name, f"{name} (vqct-evaluate)", value) for name, value in evaluation.items() if name != "images"]
    return [
        EvalResult(
            task_type=task,
            dataset_type=dataset or kind,
            dataset_name=f"{dataset or kind} (validation split)",
            dataset_split="validation",
            metric_type=metric.replace(" ", "_").replace(":", ""),
            metric_name=shown,
            metric_value=round(float(value), 4),
        )
        for metric, shown, value in entries
        if _number(value)
    ]
