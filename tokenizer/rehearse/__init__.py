"""Rehearse the paper's ablations at quickstart size, seeded, on the built-in data:

    vqct-rehearse --out outputs/study --seeds 0 1 2 --jobs 2 \\
        --rows vqct ri_gcn mlp_transfer ri_mlp [key=value ...]

Each row of Tables 1–5 (and Table 6's Reg-VQ tokenizer) is its paper config's own change applied
to the quickstart tokenizer (``configs/tokenizer/shapes.yaml``, ``rows.py``), trained once per
seed in its own process (one CPU thread each, ``--jobs`` at a time). Every run is measured on the
same ``--validation-images`` validation images; rows are compared with VQCT seed by seed, and the
contrasts (the 2×2 of {word vectors, random vectors} × {GCN, MLP}, two codebooks at equal
capacity, the field's reparameterisations and the controls) are paired differences, judged by one
rule (``common.paired``): paired t-test, 95 % interval, Holm's correction over each table column.
``key=value`` overrides apply to every row (``data.kind=photos``
for the built-in photographs, ``model.quantizer.transfer.graph_weighting=binary`` …).

These are not the paper's numbers (another data set, 32×32 images, minutes of training): they
show which way each ablation points, and by how much more than the seeds' own spread.

Writes under ``--out``: ``language_codebooks/<name>/`` (built once); ``rows/<row>/seed-<s>/`` (each
run: train.log, metrics.json, samples/, final/); ``table.md`` and ``table.json``. A run whose
``final/`` exists is measured, not retrained; an interrupted one resumes from its checkpoint; a
run folder trained with another config is refused by name.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from vqct.common.atomic import write_json, write_text
from vqct.common.config import ConfigError, load_config
from vqct.common.errors import exit_code
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.shipped_configs import shipped_config
from vqct.tokenizer.config import TokenizerTrainConfig
from vqct.tokenizer.language import LanguageCodebook, build_language_codebook
from vqct.tokenizer.losses import LossConfig, load_perceptual

from .report import markdown, summarize
from .rows import LANGUAGE_CODEBOOKS, QUICKSTART, ROWS, Row, codebook_folder, row_changes, row_overrides, run_folder
from .runs import SINGLE_THREAD, RehearsalError, Run, train_and_measure

__all__ = ["QUICKSTART", "ROWS", "SINGLE_THREAD", "RehearsalError", "main", "rehearse", "row_changes", "row_overrides"]

log = logging.getLogger("vqct.tokenizer.rehearse")


def language_codebook(out: Path, name: str, common: list[str]) -> LanguageCodebook:
    """The study's language codebook ``name`` (``LANGUAGE_CODEBOOKS``), built on first use."""
    folder = codebook_folder(out, name)
    if not folder.is_dir():
        config = load_config(TokenizerTrainConfig, shipped_config(QUICKSTART), [*common, *LANGUAGE_CODEBOOKS[name]])
        log.info("building the %s language codebook into %s", name, folder)
        build_language_codebook(config.language).save(folder)
    return LanguageCodebook.load(folder)


def recipe(config: TokenizerTrainConfig, steps: int, lpips_loads: bool) -> str:
    """What a run's loss is made of at this budget, whatever its config's name promises."""
    loss = config.loss
    parts = [loss.reconstruction]
    if loss.perceptual_weight > 0:
        parts.append("LPIPS" if lpips_loads else "no LPIPS (weights unavailable)")
    if loss.disc_weight > 0:
        parts.append(f"GAN from step {loss.disc_start}" if loss.disc_start < steps else "no GAN (starts after the end)")
    return ", ".join(parts)


def check_arguments(names, steps: int, seeds: list[int], jobs: int, validation_images: int) -> list[Row]:
    known = {row.name: row for row in ROWS}
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        raise ConfigError(f"unknown --rows {', '.join(unknown)}; rows: {', '.join(known)}")
    for flag, value in (("--steps", steps), ("--jobs", jobs), ("--validation-images", validation_images)):
        if value < 1:
            raise ConfigError(f"{flag} must be at least 1, got {value}")
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds must be distinct numbers >= 0, got {seeds}")
    return [known[name] for name in names] if names else list(ROWS)


def rehearse(
    out: Path,
    steps: int,
    names: list[str] | None = None,
    common: list[str] = (),
    *,
    seeds: list[int] = (0,),
    jobs: int = 1,
    validation_images: int = 1024,
    finished_only: bool = False,
) -> dict:
    started = time.perf_counter()
    rows = check_arguments(names, steps, list(seeds), jobs, validation_images)
    quickstart = load_config(
        TokenizerTrainConfig, shipped_config(QUICKSTART), list(common)
    )  # a bad override stops here
    language_codebooks = {
        name: language_codebook(out, name, list(common)) for name in dict.fromkeys(r.language_codebook for r in rows)
    }
    runs = []
    for row in rows:
        vocabulary = language_codebooks[row.language_codebook]
        sizes = (len(vocabulary.adjectives), len(vocabulary.nouns))
        for seed in seeds:
            overrides = row_overrides(
                row,
                out,
                steps=steps,
                seed=seed,
                codebook_sizes=sizes,
                validation_images=validation_images,
                common=common,
            )
            runs.append(Run(row, seed, run_folder(out, row, seed), tuple(overrides)))
    weighted = any(run.config().loss.perceptual_weight > 0 for run in runs)
    lpips_loads = weighted and load_perceptual(LossConfig(allow_missing_perceptual=True)).model is not None
    recipes = {run.row.name: recipe(run.config(), steps, lpips_loads) for run in runs}
    if finished_only:  # a study that spans sessions: the table of what is done, nothing trained
        left = [run for run in runs if not (run.folder / "final").is_dir()]
        for run in left:
            log.info("%s seed %d: not trained yet, left out of the table", run.row.name, run.seed)
        runs = [run for run in runs if run not in left]
        rows = [row for row in rows if any(run.row == row for run in runs)]
    results = train_and_measure(runs, language_codebooks, jobs)
    summary = summarize(rows, results)
    header = {
        "data": quickstart.data.kind,
        "steps": steps,
        "seeds": list(seeds),
        "validation_images": validation_images,
        "overrides": f", with {' '.join(f'`{o}`' for o in common)}" if common else "",
        "recipes": recipes,
        "wall": f"{len(results)} runs, {sum(r['loop_seconds'] for r in results) / 60:.0f} min of training loops "
        f"in all (one thread each); this invocation trained {sum(1 for r in results if r['train_seconds'])} of them, "
        f"{jobs} at a time, in {(time.perf_counter() - started) / 60:.0f} min wall",
    }
    write_json(out / "table.json", {**header, "runs": results, **summary})
    write_text(out / "table.md", markdown(summary, header))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vqct-rehearse", description=__doc__, formatter_class=PlainHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs/rehearsal"), help="output folder")
    parser.add_argument("--steps", type=int, default=1200, help="training steps per run (the quickstart's 1,200)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds; each row runs once per seed")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time, one CPU thread each")
    parser.add_argument(
        "--validation-images", type=int, default=1024, help="validation images every run is measured on"
    )
    parser.add_argument(
        "--finished-only",
        action="store_true",
        help="train nothing: the table of the runs already trained (a study that spans sessions)",
    )
    parser.add_argument(
        "--rows", nargs="*", metavar="ROW", help=f"rows to run (default all): {', '.join(r.name for r in ROWS)}"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="tokenizer config overrides for every row, e.g. data.kind=photos",
    )
    args = parser.parse_args(argv)
    # --rows takes every word after it; key=value words there are overrides (no row name holds "=")
    rows = [word for word in args.rows or () if "=" not in word] or None
    overrides = args.overrides + [word for word in args.rows or () if "=" in word]
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def run() -> int:
        rehearse(
            args.out,
            args.steps,
            rows,
            overrides,
            seeds=args.seeds,
            jobs=args.jobs,
            validation_images=args.validation_images,
            finished_only=args.finished_only,
        )
        print((args.out / "table.md").read_text(), end="")
        print(f"wrote {args.out / 'table.md'}, {args.out / 'table.json'}; each run under {args.out / 'rows'}")
        return 0

    return exit_code(run)
