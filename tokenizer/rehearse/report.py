"""The study's tables: each row's mean ± sd over seeds, its paired difference from VQCT, the
contrasts that test one claim each, and the codebooks' geometry at the start and the end.

Differences are judged by ``common.paired``'s rule: paired t-test, 95 % interval, and Holm's
correction over each table's family (the rows' differences from VQCT on one metric are one
family; the contrasts on one metric are another)."""

from __future__ import annotations

from collections import defaultdict

from vqct.common.paired import PairedTest, Spread, holm, paired_test, spread

from .rows import BASELINE_ROW, CONTRASTS, ROWS, Row

# The metrics compared by seed; for l1 lower is better, for the others higher.
COMPARED = ("psnr", "ssim", "l1")


def by_seed(results: list[dict]) -> dict[str, dict[str, dict[int, float]]]:
    """row → metric → seed → value, for every metric of the final validation."""
    table = defaultdict(lambda: defaultdict(dict))
    for result in results:
        for metric, value in result["metrics"].items():
            table[result["row"]][metric][result["seed"]] = value
    return table


def groups_of(metrics: dict[str, dict[int, float]], prefix: str, suffix: str) -> list[str]:
    """The code groups a row reports ``prefix<group>suffix`` for, in the model's order."""
    return [
        key.removeprefix(prefix).removesuffix(suffix)
        for key in metrics
        if key.startswith(prefix) and key.endswith(suffix)
    ]


def corrected(tests: dict[str, PairedTest]) -> dict[str, dict]:
    """A family's tests (name → test) with Holm's correction over them, as dicts."""
    return {name: test.as_dict() for name, test in zip(tests, holm(list(tests.values())))}


def summarize(rows: list[Row], results: list[dict]) -> dict:
    """Per row: spread of each metric and paired tests against VQCT; per contrast: the paired
    tests; per row and code group: the geometry at the start and the end."""
    values = by_seed(results)
    starts = defaultdict(lambda: defaultdict(list))
    for result in results:
        for key, value in result["start_geometry"].items():
            starts[result["row"]][key].append(value)
    summary = {"rows": [], "contrasts": []}
    compared = [row for row in rows if row.name != BASELINE_ROW and BASELINE_ROW in values]
    versus = {
        name: corrected({row.name: paired_test(values[row.name][name], values[BASELINE_ROW][name]) for row in compared})
        for name in COMPARED
    }
    for row in rows:
        metrics = values[row.name]
        entry = {"row": row.name, "table": row.table, "label": row.label, "seeds": sorted(metrics["psnr"])}
        entry["metrics"] = {name: spread(seeds.values()).as_dict() for name, seeds in metrics.items()}
        if row in compared:
            entry["versus_vqct"] = {name: versus[name][row.name] for name in COMPARED}
        entry["start_geometry"] = {key: spread(v).as_dict() for key, v in starts[row.name].items()}
        summary["rows"].append(entry)
    contrasts = [c for c in CONTRASTS if c.better in values and c.worse in values]
    tests = {
        name: corrected({c.name: paired_test(values[c.better][name], values[c.worse][name]) for c in contrasts})
        for name in COMPARED
    }
    for contrast in contrasts:
        summary["contrasts"].append(
            {
                "effect": contrast.name,
                "better": contrast.better,
                "worse": contrast.worse,
                **{name: tests[name][contrast.name] for name in COMPARED},
            }
        )
    return summary


def _spread(d: dict | None, digits: int = 2) -> str:
    return "–" if d is None else Spread(d["mean"], d["sd"], d["n"]).format(digits)


def _difference(d: dict | None, digits: int = 2) -> str:
    return "–" if d is None else PairedTest(**{k: v for k, v in d.items() if k != "real"}).format(digits)


def _p(d: dict | None) -> str:
    if d is None or d["real"] is None:
        return "–"
    verdict = "**real**" if d["real"] else "no"
    return f"{d['p']:.3f} / {d['p_holm']:.3f} {verdict}"


def markdown(summary: dict, header: dict) -> str:
    seeds = ", ".join(str(s) for s in header["seeds"])
    lines = [
        f"# Ablation study at quickstart size: {header['data']}, 32×32, {header['steps']} steps, seeds {seeds}",
        "",
        f"Each row is its paper config's change applied to `configs/tokenizer/shapes.yaml`{header['overrides']}. "
        f"Metrics: the final validation over {header['validation_images']} validation images, pixels in [0, 1]; "
        "mean ± sd over seeds. Δ: the mean paired difference (same seed) from VQCT, or between a contrast's "
        "rows, with its 95 % confidence interval (t at n − 1 degrees of freedom); p: the paired t-test's, "
        "then Holm's over the table's column; **real** when Holm's p < 0.05 (`common/paired.py`). "
        "Recipe: what the rows train with at this budget (a GAN whose `disc_start` is past the last step "
        "never runs).",
        "",
        "| table | row | recipe | seeds | PSNR (dB) | SSIM | l1 | codes used (%) | perplexity | Δ PSNR vs VQCT [95 % CI] | p / Holm | Δ SSIM vs VQCT [95 % CI] | p / Holm |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in summary["rows"]:
        metrics, versus = entry["metrics"], entry.get("versus_vqct", {})
        groups = groups_of(metrics, "usage/", "_percent")
        usage = " / ".join(f"{g} {metrics[f'usage/{g}_percent']['mean']:.0f}" for g in groups)
        perplexity = " / ".join(f"{metrics[f'usage/{g}_perplexity']['mean']:.0f}" for g in groups)
        lines.append(
            f"| {entry['table']} | {entry['label']} | {header['recipes'].get(entry['row'], '')} "
            f"| {', '.join(map(str, entry['seeds']))} | {_spread(metrics['psnr'])} | {_spread(metrics['ssim'], 3)} | {_spread(metrics['l1'], 4)} "
            f"| {usage} | {perplexity} | {_difference(versus.get('psnr'))} | {_p(versus.get('psnr'))} "
            f"| {_difference(versus.get('ssim'), 3)} | {_p(versus.get('ssim'))} |"
        )
    if summary["contrasts"]:
        lines += [
            "",
            "## Contrasts, paired by seed",
            "",
            "| effect | rows | Δ PSNR (dB) [95 % CI] | p / Holm | Δ SSIM [95 % CI] | p / Holm | Δ l1 (lower is better) | p / Holm |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in summary["contrasts"]:
            lines.append(
                f"| {c['effect']} | `{c['better']}` − `{c['worse']}` | {_difference(c['psnr'])} | {_p(c['psnr'])} "
                f"| {_difference(c['ssim'], 3)} | {_p(c['ssim'])} | {_difference(c['l1'], 4)} | {_p(c['l1'])} |"
            )
    lines += [
        "",
        "## Codebook geometry: at the start → at the end (mean over seeds)",
        "",
        "Mean pairwise cosine of the codes, their effective rank (exp of the entropy of the normalised "
        "singular values; at most the code width), and the codes no validation image used.",
        "",
        "| row | codebook | cosine | effective rank | dead codes at the end (%) |",
        "|---|---|---|---|---|",
    ]
    for entry in summary["rows"]:
        metrics, start = entry["metrics"], entry["start_geometry"]
        for group in groups_of(metrics, "geometry/", "_cosine"):
            cosine, rank = f"geometry/{group}_cosine", f"geometry/{group}_rank"
            dead = 100 - metrics[f"usage/{group}_percent"]["mean"]
            lines.append(
                f"| {entry['row']} | {group} | {start[cosine]['mean']:.2f} → {metrics[cosine]['mean']:.2f} "
                f"| {start[rank]['mean']:.1f} → {metrics[rank]['mean']:.1f} | {dead:.1f} |"
            )
    lines += ["", f"Wall time: {header['wall']}."]
    return "\n".join(lines) + "\n"


def render_table(data: dict) -> str:
    """``table.md`` again from a study's ``table.json`` (or its per-seed runs and header committed
    under docs/data/): the summary is recomputed from the runs, so a table is never typed."""
    known = {row.name: row for row in ROWS}
    rows = [known[name] for name in dict.fromkeys(run["row"] for run in data["runs"])]
    return markdown(summarize(rows, data["runs"]), data)
