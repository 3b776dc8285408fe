"""Table 6 at quickstart size: one prior recipe over each tokenizer row, seeded, paired by seed.

    vqct-prior-study --out outputs/table6 --seeds 0 1 2 --jobs 2 \\
        --rows vqct ri_gcn ri_mlp fsq vqgan_encoder cvq

For each tokenizer row (``vqct-rehearse``'s rows: the same configs, trained by the same code) and
seed s: the tokenizer trained at seed s (``--tokenizers``, by default ``<out>/tokenizers``: a
``vqct-rehearse`` study folder, so tokenizers trained there are reused, not retrained), the
quickstart prior recipe (``configs/prior/shapes.yaml``, the same for every row) trained over its
codes at seed s, with the prior's image tokens started from the tokenizer's code vectors
(``model.code_vector_init`` 1, every row has code vectors: FSQ's and LFQ's are their implicit
codes) and once without (0), and ``vqct-evaluate prior`` on the same validation maps with one
shared label segmenter. The segmenter is trained once, on real training images and on their
reconstructions by every row's seed-0 tokenizer in turn, so no row's reconstructions are its
favourite. Every run is its own process with one CPU thread, ``--jobs`` at a time.

Writes under ``--out``: ``tokenizers/`` (the stage-one study), ``segmenter.safetensors``,
``priors/<row>/seed-<s>/code-vectors-<on|off>/`` (each prior's train.log, final/, eval/ with
metrics.json and grid.png; the first prior's ``sampling/seed-<k>/`` holds it evaluated again at
other sampling seeds: FID's own sampling noise), ``table.md`` and ``table.json``. Each step whose
output exists is skipped, so the same command resumes a study stopped anywhere (another day,
another session); ``--finished-only`` runs nothing and writes the table of the priors evaluated so far.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import save_file

from vqct.common.atomic import write_json, write_text
from vqct.common.config import ConfigError, load_config
from vqct.common.errors import exit_code
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.shipped_configs import shipped_config
from vqct.tokenizer import REHEARSAL_ROWS, SINGLE_THREAD, RehearsalError, VQCTTokenizer, build_dataset, rehearse

from .config import PriorTrainConfig
from .segmenter import train_segmenter
from .study_report import markdown, summarize

log = logging.getLogger("vqct.prior.study")
RECIPE = "prior/shapes.yaml"
DEFAULT_ROWS = ("vqct", "ri_gcn", "ri_mlp", "fsq", "vqgan_encoder", "cvq")
CODE_VECTORS = {"on": 1.0, "off": 0.0}


@dataclass(frozen=True)
class PriorRun:
    row: str
    seed: int
    code_vectors: str  # a CODE_VECTORS key
    folder: Path
    tokenizer: Path

    def overrides(self, steps: int | None, extra: list[str] = ()) -> list[str]:
        return [
            f"tokenizer={self.tokenizer}",
            f"output_dir={self.folder}",
            f"seed={self.seed}",
            f"model.code_vector_init={CODE_VECTORS[self.code_vectors]}",
            "resume_from_checkpoint=latest",
            *([f"max_steps={steps}"] if steps else []),
            *extra,
        ]


def run_logged(command: list[str], log_file: Path, what: str) -> None:
    """One step in its own process with one CPU thread, its output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as output:
        result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, env=os.environ | SINGLE_THREAD)
    if result.returncode:
        raise RehearsalError(f"{what} failed, see {log_file}; rerun the same command to resume")


def train_prior(run: PriorRun, steps: int | None, extra: list[str]) -> None:
    if (run.folder / "final").is_dir():
        return
    command = [sys.executable, "-m", "vqct.prior.train", "--config", str(shipped_config(RECIPE))]
    run_logged(command + run.overrides(steps, extra), run.folder / "train.log", f"{run.row} seed {run.seed} prior")


def evaluate_prior(prior: Path, out: Path, num: int, segmenter: Path, seed: int = 0) -> dict:
    """``vqct-evaluate prior`` on the first ``num`` validation maps (no completion: Table 6 is
    synthesis), or its metrics as written by an earlier invocation."""
    if not (out / "metrics.json").is_file():
        command = [sys.executable, "-m", "vqct.prior.evaluate", "--prior", str(prior), "--out", str(out)]
        command += ["--num", str(num), "--segmenter", str(segmenter), "--seed", str(seed), "--no-completion"]
        run_logged(command, out.parent / f"{out.name}.log", f"evaluation of {prior}")
    return json.loads((out / "metrics.json").read_text())


def shared_segmenter(out: Path, tokenizers: list[Path], steps: int, recipe: PriorTrainConfig) -> Path:
    """The one label segmenter every evaluation uses, trained once: real training images, and
    their reconstructions by each tokenizer in turn."""
    path = out / "segmenter.safetensors"
    if path.is_file():
        return path
    models = [VQCTTokenizer.from_pretrained(folder).eval() for folder in tokenizers]
    turns = itertools.cycle(models)
    segmenter = train_segmenter(
        build_dataset(recipe.data.evaluation_view("train")),
        recipe.model.num_classes,
        steps=steps,
        reconstruct=lambda images: (lambda model: model.decode(model.encode(images)))(next(turns)),
    )
    staging = path.with_suffix(".partial")
    save_file(segmenter.state_dict(), str(staging))
    staging.replace(path)  # whole or absent: a study stopped here trains it again
    return path


def check_arguments(names, seeds, jobs, num, code_vectors) -> list[str]:
    known = {row.name for row in REHEARSAL_ROWS}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ConfigError(f"unknown --rows {', '.join(unknown)}; rows: {', '.join(sorted(known))}")
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds must be distinct numbers >= 0, got {seeds}")
    for flag, value, least in (("--jobs", jobs, 1), ("--num", num, 2)):
        if value < least:
            raise ConfigError(f"{flag} must be at least {least}, got {value}")
    if not code_vectors or set(code_vectors) - set(CODE_VECTORS):
        raise ConfigError(f"--code-vectors takes on and/or off, got {' '.join(code_vectors)}")
    return list(dict.fromkeys(names))


def study(
    out: Path,
    rows: list[str],
    seeds: list[int],
    *,
    jobs: int = 1,
    num: int = 128,
    tokenizer_steps: int = 1200,
    prior_steps: int | None = None,
    code_vectors: list[str] = ("on", "off"),
    tokenizers: Path | None = None,
    validation_images: int = 1024,
    segmenter_steps: int = 400,
    sampling_repeats: int = 0,
    common: list[str] = (),
    prior_overrides: list[str] = (),
    finished_only: bool = False,
) -> dict:
    started = time.perf_counter()
    rows = check_arguments(rows, list(seeds), jobs, num, list(code_vectors))
    out.mkdir(parents=True, exist_ok=True)  # the segmenter is written first, and --tokenizers may lie elsewhere
    tokenizers = tokenizers or out / "tokenizers"
    rehearse(
        tokenizers,
        tokenizer_steps,
        rows,
        list(common),
        seeds=list(seeds),
        jobs=jobs,
        validation_images=validation_images,
        finished_only=finished_only,
    )
    finals = {(row, seed): tokenizers / "rows" / row / f"seed-{seed}" / "final" for row in rows for seed in seeds}
    recipe = load_config(PriorTrainConfig, shipped_config(RECIPE), list(prior_overrides))  # a bad override stops here
    runs = [
        PriorRun(row, seed, cv, out / "priors" / row / f"seed-{seed}" / f"code-vectors-{cv}", finals[row, seed])
        for row in rows
        for seed in seeds
        for cv in code_vectors
    ]
    # beside the prior they resample: a later invocation whose first prior differs cannot take them for its own
    repeats = [runs[0].folder / "sampling" / f"seed-{seed}" for seed in range(1, sampling_repeats + 1)]
    if finished_only:  # a study that spans sessions: the table of the priors evaluated so far, nothing run
        evaluated = [run for run in runs if (run.folder / "eval" / "metrics.json").is_file()]
        for run in sorted(set(runs) - set(evaluated), key=runs.index):
            log.info("%s seed %d code vectors %s: not evaluated yet, left out", run.row, run.seed, run.code_vectors)
        # the repeats are draws beside the first prior's own evaluation, so they count only with it
        done = [folder / "metrics.json" for folder in repeats if (folder / "metrics.json").is_file()]
        sampling = [json.loads(path.read_text()) for path in done] if runs[0] in evaluated else []
        runs = evaluated
        evaluations = [json.loads((run.folder / "eval" / "metrics.json").read_text()) for run in runs]
    else:
        segmenter = shared_segmenter(out, [finals[row, seeds[0]] for row in rows], segmenter_steps, recipe)

        def train_and_evaluate(run: PriorRun) -> dict:
            train_prior(run, prior_steps, list(prior_overrides))
            return evaluate_prior(run.folder / "final", run.folder / "eval", num, segmenter)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            evaluations = list(pool.map(train_and_evaluate, runs))  # in runs' order; the first failure stops it
        sampling = [
            evaluate_prior(runs[0].folder / "final", folder, num, segmenter, seed=seed)
            for seed, folder in enumerate(repeats, start=1)
        ]
    results = [
        {
            "row": run.row,
            "seed": run.seed,
            "code_vectors": run.code_vectors,
            "metrics": metrics,
            "val_loss": json.loads((run.folder / "metrics.json").read_text())["final"]["val/loss"],
        }
        for run, metrics in zip(runs, evaluations)
    ]
    header = {
        "rows": rows,
        "seeds": list(seeds),
        "num": num,
        "prior_steps": prior_steps or recipe.max_steps,
        "prior_overrides": list(prior_overrides),
        "tokenizer_steps": tokenizer_steps,
        "wall_minutes": round((time.perf_counter() - started) / 60, 1),
    }
    # this study's tokenizers, kept with its priors: table.json alone then redraws the table (the docs' data is it)
    tokenizer_runs = [
        {"row": run["row"], "seed": run["seed"], "metrics": run["metrics"]}
        for run in json.loads((tokenizers / "table.json").read_text())["runs"]
        if (run["row"], run["seed"]) in finals
    ]
    summary = summarize(header, tokenizer_runs, results, sampling)
    # the summary nested: its "rows" (per row and setting) would otherwise replace the header's row names
    table = {**header, "tokenizer_runs": tokenizer_runs, "priors": results, "sampling": sampling, "summary": summary}
    write_json(out / "table.json", table)
    write_text(out / "table.md", markdown(summary, header))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vqct-prior-study", description=__doc__, formatter_class=PlainHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs/table6"), help="output folder")
    parser.add_argument(
        "--rows", nargs="*", metavar="ROW", help=f"tokenizer rows (vqct-rehearse's; default {' '.join(DEFAULT_ROWS)})"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds; tokenizer and prior share one")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, one CPU thread each")
    parser.add_argument("--num", type=int, default=128, help="validation maps each prior samples for (and FID over)")
    parser.add_argument("--tokenizer-steps", type=int, default=1200, help="tokenizer training steps (the quickstart's)")
    parser.add_argument("--prior-steps", type=int, help="prior training steps (default: the recipe's)")
    parser.add_argument(
        "--code-vectors", nargs="+", default=["on", "off"], help="priors started from the code vectors (on), or not"
    )
    parser.add_argument("--tokenizers", type=Path, help="a vqct-rehearse study folder (default: OUT/tokenizers)")
    parser.add_argument("--validation-images", type=int, default=1024, help="images each tokenizer is measured on")
    parser.add_argument("--segmenter-steps", type=int, default=400, help="training steps of the shared segmenter")
    parser.add_argument(
        "--sampling-repeats", type=int, default=0, help="evaluate the first prior again at this many sampling seeds"
    )
    parser.add_argument(
        "--prior-overrides", nargs="+", default=[], metavar="key=value", help="prior config overrides for every prior"
    )
    parser.add_argument(
        "--finished-only", action="store_true", help="run nothing: the table of the priors evaluated so far"
    )
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="tokenizer config overrides for every row")
    args = parser.parse_args(argv)
    # --rows takes every word after it; key=value words there are overrides (no row name holds "=")
    rows = [word for word in args.rows or () if "=" not in word] or list(DEFAULT_ROWS)
    overrides = args.overrides + [word for word in args.rows or () if "=" in word]
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def run() -> int:
        study(
            args.out,
            rows,
            args.seeds,
            jobs=args.jobs,
            num=args.num,
            tokenizer_steps=args.tokenizer_steps,
            prior_steps=args.prior_steps,
            code_vectors=args.code_vectors,
            tokenizers=args.tokenizers,
            validation_images=args.validation_images,
            segmenter_steps=args.segmenter_steps,
            sampling_repeats=args.sampling_repeats,
            common=overrides,
            prior_overrides=args.prior_overrides,
            finished_only=args.finished_only,
        )
        print((args.out / "table.md").read_text(), end="")
        print(f"wrote {args.out / 'table.md'}, {args.out / 'table.json'}; each prior under {args.out / 'priors'}")
        return 0

    return exit_code(run)


if __name__ == "__main__":
    sys.exit(main())
