"""Peak memory of the quantizer (forward + backward) at the paper's 6,207 codes on a batch of
256 px images (f16: 16×16 codes each), for several nearest-search chunk sizes. Prints a table.

    python -m benchmarks.quantizer_memory --batch-size 32      # peak measured on CUDA

The distance matrix of an unchunked search alone is B·256 × K floats; chunking bounds it by
chunk × K. On CPU only those sizes are printed (torch keeps no CPU allocation peak).
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.synthetic_codebook import (
    PAPER_ADJECTIVES,
    PAPER_NOUNS,
    synthetic_codebook,
)
from vqct.common.timing import synchronize
from vqct.tokenizer.model import QuantizerConfig, build_quantizer
from vqct.tokenizer.transfer import TransferConfig

GRID, EMBED_DIM = 16, 256


def build(kind: str, chunk_size: int, codebook):
    config = QuantizerConfig(
        kind=kind,
        embed_dim=EMBED_DIM,
        codebook_size=PAPER_ADJECTIVES + PAPER_NOUNS,
        chunk_size=chunk_size,
        transfer=TransferConfig(),
    )
    quantizer = build_quantizer(
        config,
        len(codebook.adjectives),
        len(codebook.nouns),
        codebook.dim,
        codebook.normalized_adjacency().values().numel(),
    )
    if kind == "dual":
        quantizer.transfer.load_word_graph(
            torch.cat([codebook.adjective_vectors, codebook.noun_vectors]), codebook.normalized_adjacency()
        )
    return quantizer


def peak_mib(quantizer, batch_size: int, device: torch.device) -> float:
    z = torch.randn(batch_size, EMBED_DIM, GRID, GRID, device=device, requires_grad=True)
    synchronize(device)
    torch.cuda.reset_peak_memory_stats()
    baseline = torch.cuda.memory_allocated()
    quantized, _, loss = quantizer(z)
    (quantized.square().mean() + loss).backward()
    synchronize(device)
    return (torch.cuda.max_memory_allocated() - baseline) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--chunks", type=int, nargs="*", default=[0, 16384, 4096, 1024])
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    codebook = synthetic_codebook()
    rows = args.batch_size * GRID * GRID
    print(
        f"batch {args.batch_size} × 256 px (f16) = {rows} code positions; {PAPER_ADJECTIVES} + {PAPER_NOUNS} = {PAPER_ADJECTIVES + PAPER_NOUNS} codes; device {device}"
    )
    print("| quantizer | chunk | largest distance block (MiB) | peak (MiB) |")
    print("|---|---:|---:|---:|")
    for kind, widest in (("vq", PAPER_ADJECTIVES + PAPER_NOUNS), ("dual", PAPER_NOUNS)):
        for chunk in args.chunks:
            chunk_rows = rows if chunk == 0 else min(chunk, rows)
            block = chunk_rows * widest * 4 / 2**20
            quantizer = build(kind, chunk or rows, codebook).to(device)
            peak = f"{peak_mib(quantizer, args.batch_size, device):.1f}" if device.type == "cuda" else "n/a (CPU)"
            print(f"| {'VQGAN' if kind == 'vq' else 'VQCT dual'} | {chunk or 'none'} | {block:.1f} | {peak} |")


if __name__ == "__main__":
    main()
