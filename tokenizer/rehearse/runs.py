"""Train and measure the runs of a study: one process per (row, seed), at most ``jobs`` at a time.

Every run is trained with one CPU thread, whatever ``jobs`` is, so a row's numbers do not depend on
how many ran beside it (the thread count alone moves a run by a few tenths of a dB). A run whose
``final/`` exists is measured as it is; one that was interrupted resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from vqct.common.config import dotted, load_config
from vqct.common.errors import UserError
from vqct.common.shipped_configs import shipped_config
from vqct.tokenizer.config import TokenizerTrainConfig
from vqct.tokenizer.geometry import codebook_geometry
from vqct.tokenizer.language import LanguageCodebook
from vqct.tokenizer.model import VQCTTokenizer

from .rows import QUICKSTART, Row

log = logging.getLogger("vqct.tokenizer.rehearse")
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class RehearsalError(UserError):
    """A run failed, or a run folder holds another config than the one asked for."""


@dataclass(frozen=True)
class Run:
    row: Row
    seed: int
    folder: Path
    overrides: tuple[str, ...]

    def config(self) -> TokenizerTrainConfig:
        return load_config(TokenizerTrainConfig, shipped_config(QUICKSTART), list(self.overrides))


def check_same_config(run: Run) -> None:
    """A run folder trained (or started) with another config is never reused as if it were this one."""
    written = run.folder / "config.yaml"
    if not written.is_file():
        return
    # the written config read through today's schema: a key added since, at its default, is no difference
    old, new = dotted(load_config(TokenizerTrainConfig, written)), dotted(run.config())
    differing = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
    if differing:
        raise RehearsalError(
            f"{run.folder} was trained with another config ({', '.join(differing[:6])} differ): "
            "use another --out, or remove that folder to train it again"
        )


def train(run: Run) -> float:
    """Train one run in its own process (one run's state never leaks into the next), its output in
    train.log beside it; seconds taken."""
    command = [
        sys.executable,
        "-m",
        "vqct.tokenizer.train",
        "--config",
        str(shipped_config(QUICKSTART)),
        *run.overrides,
    ]
    run.folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(run.folder / "train.log", "ab") as output:
        result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, env=os.environ | SINGLE_THREAD)
    if result.returncode:
        raise RehearsalError(
            f"{run.row.name} seed {run.seed}: training failed, see {run.folder / 'train.log'}; rerun to resume it"
        )
    return round(time.perf_counter() - started, 1)


@torch.no_grad()
def start_geometry(run: Run, language_codebook: LanguageCodebook) -> dict[str, float]:
    """The codebooks' geometry as a run of this row and seed starts (built as training builds it)."""
    torch.manual_seed(run.seed)
    model = VQCTTokenizer.build(run.config().model, language_codebook, seed=run.seed).eval()
    return codebook_geometry(model.group_codebooks(), model.group_names)


def measured(run: Run, seconds: float | None, language_codebook: LanguageCodebook) -> dict:
    """One run's final validation (every validation image), and its codebooks' start geometry."""
    final = json.loads((run.folder / "metrics.json").read_text())["final"]
    grids = sorted((run.folder / "samples").glob("*.png"))
    return {
        "row": run.row.name,
        "seed": run.seed,
        "step": final["step"],
        "metrics": {key.removeprefix("val/"): value for key, value in final.items() if key.startswith("val/")},
        "start_geometry": start_geometry(run, language_codebook),
        "train_seconds": seconds,  # this invocation's, process start to end; None when measured as it was
        "loop_seconds": final["seconds"],  # the training loop's, from the run's own metrics
        "grid": str(grids[-1]) if grids else None,
    }


def train_and_measure(runs: list[Run], language_codebooks: dict[str, LanguageCodebook], jobs: int) -> list[dict]:
    """Every run trained (those not yet done, ``jobs`` at a time) and measured, in ``runs``' order."""
    for run in runs:
        check_same_config(run)
    pending = [run for run in runs if not (run.folder / "final").is_dir()]
    for run in runs:
        if run not in pending:
            log.info("%s seed %d: already trained (%s), measured as it is", run.row.name, run.seed, run.folder)
    seconds = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool, tqdm(total=len(pending), desc="runs", unit="run") as bar:
        futures = {pool.submit(train, run): run for run in pending}
        for future in as_completed(futures):
            run = futures[future]
            try:
                seconds[run] = future.result()
            except RehearsalError:
                pool.shutdown(cancel_futures=True)  # the runs already going finish; no new ones start
                raise
            bar.update(1)
            bar.write(f"{run.row.name} seed {run.seed}: trained in {seconds[run]:.0f} s")
    return [measured(run, seconds.get(run), language_codebooks[run.row.language_codebook]) for run in runs]
