"""Peak memory of the token cache as the data set grows: a generated CelebAMask-HQ stand-in
(256 px, all 18 part masks: 19 classes with the background) encoded by ``python -m vqct.prior.tokens``
with a small f16 tokenizer (16×16 codes), then read back as prior training does
(``TokenDataset``). Each step runs in its own process; the table gives its peak resident set
(ru_maxrss) and the cache's size on disk. Prints a table.

    python -m benchmarks.token_cache_memory                      # 1,000 / 4,000 / 16,000 images
    python -m benchmarks.token_cache_memory --images 500 2000 --work /tmp/bench

Memory flat in the data set's size means the encode column stays put while the image count
grows 16×, and the read column grows only by the cached cells (512 codes and 256 map cells an
image, 2.3 KB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.celebahq_stand_in import write_stand_in
from benchmarks.synthetic_codebook import synthetic_codebook
from vqct.tokenizer import TokenizerModelConfig, VQCTTokenizer
from vqct.tokenizer.autoencoder import AutoencoderConfig
from vqct.tokenizer.model import QuantizerConfig
from vqct.tokenizer.transfer import TransferConfig

RESOLUTION = 256
READ_BACK = "import sys; from prior.tokens import TokenDataset; TokenDataset(sys.argv[1])[0]"


def small_tokenizer(folder: Path) -> Path:
    """A randomly initialised f16 VQCT tokenizer: the paper's downsampling, a network narrow enough
    (8 channels, no normalization layers) that 16,000 images encode in minutes on a CPU."""
    config = TokenizerModelConfig(
        autoencoder=AutoencoderConfig(
            resolution=RESOLUTION,
            ch=8,
            ch_mult=[1, 1, 2, 2, 4],
            num_res_blocks=1,
            attn_resolutions=[],
            z_channels=8,
            norm="none",
        ),
        quantizer=QuantizerConfig(
            kind="dual", embed_dim=8, codebook_size=128, transfer=TransferConfig(layers=2, hidden_dim=16)
        ),
    )
    VQCTTokenizer.build(config, synthetic_codebook(64, 64, dim=32)).save_pretrained(folder)
    return folder


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(peak resident set in MB, seconds) of ``command`` run as a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started  # Linux reports KB


def folder_mb(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def measure(work: Path, images: list[int], batch_size: int) -> list[dict]:
    tokenizer = small_tokenizer(work / "tokenizer")
    shared = write_stand_in(work / "stand-in", max(images), size=RESOLUTION, distinct=64)
    rows = []
    for count in images:
        root = work / f"data-{count}"  # the shared files, this many of them listed for training
        root.mkdir(exist_ok=True)
        for name in ("CelebA-HQ-img", "CelebAMask-HQ-mask-anno"):
            if not (root / name).exists():
                (root / name).symlink_to(shared / name)
        (root / "train.txt").write_text("".join(f"{i}\n" for i in range(count)))
        config = root / "data.yaml"
        config.write_text(f"data:\n  kind: celebahq\n  root: {root}\n  resolution: {RESOLUTION}\n")
        cache = work / f"cache-{count}"
        encode = [sys.executable, "-m", "vqct.prior.tokens", "--tokenizer", str(tokenizer), "--data", str(config)]
        encode += ["--split", "train", "--out", str(cache), "--batch-size", str(batch_size), "--device", "cpu"]
        encode_mb, seconds = peak_rss_mb(encode)
        read_mb, _ = peak_rss_mb([sys.executable, "-c", READ_BACK, str(cache / "train")])
        rows.append(
            {
                "images": count,
                "encode_peak_mb": encode_mb,
                "read_peak_mb": read_mb,
                "cache_mb": folder_mb(cache),
                "encode_seconds": seconds,
            }
        )
        print(f"  {count} images: encode {encode_mb:.0f} MB, read {read_mb:.0f} MB, {seconds:.0f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.token_cache_memory", description=__doc__)
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--work", help="where the stand-in and caches go (default: a temporary folder)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.work or temporary)
        work.mkdir(parents=True, exist_ok=True)
        rows = measure(work, sorted(args.images), args.batch_size)
    print(f"\ntoken cache at {RESOLUTION} px, 19 classes, batch {args.batch_size}, torch {torch.__version__}")
    print("| images | encode peak RSS (MB) | read-back peak RSS (MB) | cache on disk (MB) | encode time (s) |")
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['images']:,} | {row['encode_peak_mb']:.0f} | {row['read_peak_mb']:.0f} "
            f"| {row['cache_mb']:.1f} | {row['encode_seconds']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
