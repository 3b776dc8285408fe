"""Token cache: encode a data set with a frozen tokenizer once, so prior training never runs the
tokenizer's encoder.

    python -m vqct.prior.tokens --tokenizer DIR_OR_HUB_ID --data CONFIG [--split train] [--label-detail S] --out DIR

``--data`` is a tokenizer training config, a file or a shipped one by name (its data section; no
random crop or flip here: the cache must be one fixed encoding). Writes ``DIR/<split>/shard-<k>.safetensors`` with ``codes``
[n, G, h, w] (int32), ``index`` [n] (data set indices) and, where the data set has semantic maps,
``labels`` [n, S·h, S·w] (uint8): each map reduced while encoding to S×S sub-cells per token-grid
cell (``--label-detail``, the prior's ``model.label_detail``; 1: the grid itself), each holding
the majority class of its pixels (255: no pixel with a class), which is all the prior reads of a
map (it reads a full map through the same reduction). Full maps would grow with the data set:
CelebA-HQ's 27,000 at 256² are 1.8 GB as uint8 in every process, their 16×16 cells 7 MB. Plus
``DIR/<split>/manifest.json``. Each shard is written to a temporary file and renamed as soon as
it fills, so memory stays one shard's worth and an interrupted run leaves only whole shards;
running the same command again encodes just the missing ones.

The manifest records the tokenizer's identity (``tokenizer_identity``: a hash of its config and
weights), not only its path: a tokenizer retrained in place keeps its path, and its codes mean
something else. A cache of another identity is refused, by the encoder and by ``prior/train.py
tokens=…``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from vqct.common.atomic import write_json
from vqct.common.config import load_config, to_dict
from vqct.common.device import add_device_flag, checked_device, default_device
from vqct.common.errors import UserFileNotFoundError, UserValueError, exit_code
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.hub import load_pretrained
from vqct.common.memory import fix_mmap_threshold
from vqct.common.shipped_configs import find_config
from vqct.tokenizer import DataConfig, TokenizerTrainConfig, VQCTTokenizer, build_dataset

from .sequence import cell_majority

log = logging.getLogger("vqct.prior.tokens")
MANIFEST = "manifest.json"
NO_CLASS = 255  # a cached cell without any pixel of a class (all its pixels ignored)
SPLITS = ("train", "validation")


def shard_path(folder: Path, shard: int) -> Path:
    return folder / f"shard-{shard:05d}.safetensors"


@torch.no_grad()
def encode_dataset(
    tokenizer: VQCTTokenizer,
    dataset: Dataset,
    folder: Path,
    *,
    shard_size: int,
    batch_size: int,
    device: torch.device,
    meta: dict,
    label_detail: int = 1,
) -> dict:
    """Encode every missing shard of ``dataset`` into ``folder``, label maps at ``label_detail``
    sub-cells per cell side; returns the manifest written."""
    meta = {**meta, "label_detail": label_detail}
    folder.mkdir(parents=True, exist_ok=True)
    manifest_file = folder / MANIFEST
    if manifest_file.is_file():
        # caches written before label_detail existed hold maps at the token grid: detail 1
        previous = {"label_detail": 1, **json.loads(manifest_file.read_text())}
        differing = [key for key in meta if previous.get(key) != meta[key]]
        if differing:
            raise UserValueError(
                f"{folder} holds a cache of another tokenizer or data set ({', '.join(differing)} differ); "
                "delete it to encode again, or choose another folder"
            )
    shards = math.ceil(len(dataset) / shard_size)
    write_json(
        manifest_file, {**meta, "items": len(dataset), "shard_size": shard_size, "shards": shards, "complete": False}
    )
    tokenizer = tokenizer.to(device).eval()
    missing = [k for k in range(shards) if not shard_path(folder, k).is_file()]
    for shard in tqdm(missing, desc=f"encoding {folder.name}", unit=" shard"):
        indices = range(shard * shard_size, min((shard + 1) * shard_size, len(dataset)))
        codes, labels = [], []
        for batch in DataLoader(Subset(dataset, indices), batch_size=batch_size):
            batch_codes = tokenizer.encode(batch["image"].to(device)).to(torch.int32)
            codes.append(batch_codes.cpu())
            if "label" in batch:
                h, w = batch_codes.shape[-2:]
                cells = cell_majority(batch["label"].to(device), label_detail * h, label_detail * w, classes=NO_CLASS)
                labels.append(cells.masked_fill(cells < 0, NO_CLASS).to(torch.uint8).cpu())
        tensors = {"codes": torch.cat(codes), "index": torch.tensor(list(indices), dtype=torch.int64)}
        if labels:
            tensors["labels"] = torch.cat(labels)
        staging = shard_path(folder, shard).with_suffix(".tmp")
        save_file(tensors, str(staging))
        staging.replace(shard_path(folder, shard))
    manifest = {**meta, "items": len(dataset), "shard_size": shard_size, "shards": shards, "complete": True}
    write_json(manifest_file, manifest)
    return manifest


def tokenizer_identity(tokenizer: VQCTTokenizer) -> str:
    """A hash of what a tokenizer's codes mean: its config and every tensor's name, dtype, shape
    and bytes (one pass over the weights)."""
    digest = hashlib.sha256(json.dumps(to_dict(tokenizer.config), sort_keys=True).encode())
    for name, tensor in sorted(tokenizer.state_dict().items()):
        digest.update(f"{name} {tensor.dtype} {list(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def check_cache_tokenizer(folder: Path, tokenizer: VQCTTokenizer, name: str) -> None:
    """Refuse the token cache ``folder`` (its splits) unless ``tokenizer`` (named ``name``) encoded it."""
    identity = tokenizer_identity(tokenizer)
    for split in SPLITS:
        manifest_file = folder / split / MANIFEST
        if not manifest_file.is_file():
            continue  # TokenDataset names a missing split
        recorded = json.loads(manifest_file.read_text()).get("tokenizer_identity")
        if recorded != identity:
            seen = f"{recorded[:12]}…" if recorded else "none recorded: a cache from before identities were kept"
            raise UserValueError(
                f"tokens={folder}: {split} was encoded by another tokenizer than {name} (identity {seen}, "
                f"{name}'s {identity[:12]}…); encode again with python -m vqct.prior.tokens --tokenizer {name} …, "
                "or set tokens=null"
            )


class TokenDataset(Dataset):
    """The cached codes (and label maps) of one split, in data set order."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        manifest_file = folder / MANIFEST
        if not manifest_file.is_file() or not json.loads(manifest_file.read_text()).get("complete"):
            raise UserFileNotFoundError(
                f"{folder} is not a complete token cache (run python -m vqct.prior.tokens … --out)"
            )
        self.manifest = json.loads(manifest_file.read_text())
        shards = [load_file(str(shard_path(folder, k))) for k in range(self.manifest["shards"])]
        # kept narrow in memory (int32 codes, uint8 token-grid maps) and widened per item
        self.codes = torch.cat([shard["codes"] for shard in shards])
        self.labels = torch.cat([shard["labels"] for shard in shards]) if "labels" in shards[0] else None

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, index: int) -> dict:
        item = {"codes": self.codes[index].long()}
        if self.labels is not None:
            item["label"] = self.labels[index].long()
        return item


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vqct.prior.tokens", description=__doc__, formatter_class=PlainHelpFormatter
    )
    parser.add_argument("--tokenizer", required=True, help="a save_pretrained folder or a Hub id")
    parser.add_argument("--data", required=True, help="a tokenizer training config (.yaml, or a shipped one by name)")
    parser.add_argument("--out", required=True, help="output folder of the token cache (shards per split)")
    parser.add_argument(
        "--split", action="append", choices=["train", "validation"], help="default: train and validation"
    )
    parser.add_argument(
        "--label-detail",
        type=int,
        default=1,
        help="sub-cells per side of a token-grid cell kept of each label map: the prior's model.label_detail",
    )
    parser.add_argument("--shard-size", type=int, default=4096, help="items per shard file (default 4096)")
    parser.add_argument("--batch-size", type=int, default=64, help="images encoded at a time (default 64)")
    add_device_flag(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return exit_code(lambda: run(args))


def cache_tokens(
    tokenizer: VQCTTokenizer,
    source: str,
    data: DataConfig,
    out: Path,
    splits=SPLITS,
    *,
    label_detail: int = 1,
    shard_size: int = 4096,
    batch_size: int = 64,
    device: torch.device | None = None,
) -> dict[str, dict]:
    """Encode each split of ``data`` into out/<split> (missing shards only), label maps at
    ``label_detail`` sub-cells per cell side; split → manifest."""
    if label_detail < 1:
        raise UserValueError(f"--label-detail must be at least 1, got {label_detail}")
    device = device or torch.device(default_device())
    identity = tokenizer_identity(tokenizer)
    manifests = {}
    for split in splits:
        # one fixed encoding: no random crop or flip
        split_data = data.evaluation_view(split)
        meta = {"tokenizer": str(source), "tokenizer_identity": identity, "data": to_dict(split_data)}
        manifests[split] = encode_dataset(
            tokenizer,
            build_dataset(split_data),
            out / split,
            shard_size=shard_size,
            batch_size=batch_size,
            device=device,
            meta=meta,
            label_detail=label_detail,
        )
    return manifests


def run(args) -> int:
    # memory flat over the whole pass (common.memory); only in this command's own process: it
    # slows a training process's many large temporaries (the train script encodes without it)
    fix_mmap_threshold()
    tokenizer = load_pretrained(VQCTTokenizer, args.tokenizer, "--tokenizer")
    data = load_config(TokenizerTrainConfig, find_config(args.data, "tokenizer")).data
    manifests = cache_tokens(
        tokenizer,
        args.tokenizer,
        data,
        Path(args.out),
        args.split or SPLITS,
        label_detail=args.label_detail,
        shard_size=args.shard_size,
        batch_size=args.batch_size,
        device=checked_device(args.device),
    )
    for split, manifest in manifests.items():
        print(f"{split}: {manifest['items']} items in {manifest['shards']} shards under {Path(args.out) / split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
