"""The stage-two study's tables: each row's measures over seeds, VQCT against each row and the
code vectors on against off, paired by seed and judged by ``common.paired``'s rule (paired t,
95 % interval, Holm over each column's family), with the paper's Table 6 beside."""

from __future__ import annotations

import math
from collections import defaultdict

from vqct.common.paired import PairedTest, holm, paired_test, spread

BASELINE = "vqct"
# The paper's Table 6 (CelebA-HQ semantic synthesis, FID): its rows, by the tokenizer row that plays them here
PAPER_FID = {"vqct": 14.47, "vqgan": 17.42, "vqgan_encoder": 17.42, "gumbel": 16.78, "regvq": 15.34, "vqvae": 39.57}
# name → (label, digits, whether higher is better); every measure is per (row, seed, code vectors)
MEASURES = {
    "psnr": ("tokenizer PSNR (dB)", 2, True),
    "codes_used": ("codes used (%)", 0, True),
    "fid": ("FID vs real", 1, False),
    "fid_ratio": ("FID ÷ own reconstructions'", 3, False),
    "object_iou": ("object IoU", 3, True),
    "mean_iou": ("mean IoU", 3, True),
    "background_spread": ("background spread", 3, None),
    "diversity": ("diversity, one map", 3, None),
    "val_loss": ("val loss / token (not comparable)", 2, None),
}
COMPARED = ("fid", "fid_ratio", "object_iou", "mean_iou", "psnr")


def prior_measures(metrics: dict) -> dict[str, float]:
    """What one evaluation's metrics.json says, by this study's names."""
    samples = metrics.get("label_following", {}).get("samples", {})
    fid, reference = metrics.get("fid_samples", math.nan), metrics.get("fid_reconstructions", math.nan)
    return {
        "fid": fid,
        "fid_ratio": fid / reference if reference else math.nan,
        "object_iou": samples.get("object_iou", math.nan),
        "mean_iou": samples.get("mean_iou", math.nan),
        "background_spread": metrics.get("background_spread", {}).get("samples", math.nan),
        "diversity": metrics.get("diversity", {}).get("samples_of_one_map", math.nan),
    }


def tokenizer_measures(metrics: dict) -> dict[str, float]:
    usage = [value for key, value in metrics.items() if key.startswith("usage/") and key.endswith("_percent")]
    return {"psnr": metrics["psnr"], "codes_used": sum(usage) / len(usage) if usage else math.nan}


def by_seed(tokenizer_runs: list[dict], priors: list[dict]) -> dict:
    """(row, code vectors) → measure → seed → value."""
    tokenizers = {(run["row"], run["seed"]): tokenizer_measures(run["metrics"]) for run in tokenizer_runs}
    table = defaultdict(lambda: defaultdict(dict))
    for prior in priors:
        values = {**tokenizers[prior["row"], prior["seed"]], **prior_measures(prior["metrics"])}
        values["val_loss"] = prior.get("val_loss", math.nan)
        for name, value in values.items():
            table[prior["row"], prior["code_vectors"]][name][prior["seed"]] = value
    return table


def family(pairs: dict[str, tuple[dict, dict]]) -> dict[str, dict]:
    """name → (a, b) per-seed values, tested a − b and Holm-corrected as one family."""
    tests = [paired_test(a, b) for a, b in pairs.values()]
    return {name: test.as_dict() for name, test in zip(pairs, holm(tests))}


def summarize(header: dict, tokenizer_runs: list[dict], priors: list[dict], sampling: list[dict]) -> dict:
    values = by_seed(tokenizer_runs, priors)
    rows, settings = header["rows"], sorted({prior["code_vectors"] for prior in priors})
    summary = {
        "rows": [
            {
                "row": row,
                "code_vectors": setting,
                "paper_fid": PAPER_FID.get(row),
                "measures": {name: spread(values[row, setting][name].values()).as_dict() for name in MEASURES},
            }
            for row in rows
            for setting in settings
            if (row, setting) in values
        ],
        "versus_vqct": {},
        "code_vectors_on_minus_off": {},
        "sampling_noise": {},
    }
    main = "on" if "on" in settings else settings[0]
    others = [row for row in rows if row != BASELINE and (row, main) in values]
    if (BASELINE, main) in values:
        summary["versus_vqct"] = {
            name: family({row: (values[BASELINE, main][name], values[row, main][name]) for row in others})
            for name in COMPARED
        }
    if {"on", "off"} <= set(settings):
        both = [row for row in rows if (row, "on") in values and (row, "off") in values]
        summary["code_vectors_on_minus_off"] = {
            name: family({row: (values[row, "on"][name], values[row, "off"][name]) for row in both})
            for name in COMPARED
            if name != "psnr"  # the tokenizer is the same one
        }
    if sampling:  # the first prior evaluated again at other sampling seeds; its own evaluation is one more draw
        draws = [prior_measures(metrics) for metrics in (priors[0]["metrics"], *sampling)]
        summary["sampling_noise"] = {
            name: spread(draw[name] for draw in draws).as_dict() for name in ("fid", "fid_ratio", "object_iou")
        }
    return summary


def _cell(d: dict, digits: int) -> str:
    if d["n"] == 0 or math.isnan(d["mean"]):
        return "–"
    return f"{d['mean']:.{digits}f}" + (f" ± {d['sd']:.{digits}f}" if d["n"] > 1 else "")


def _test(d: dict | None, digits: int) -> str:
    if d is None:
        return "–"
    test = PairedTest(**{k: v for k, v in d.items() if k != "real"})
    verdict = {True: "**real**", False: "no", None: "–"}[d["real"]]
    p = "" if math.isnan(test.p) else f", p {test.p:.3f} / Holm {test.p_verdict:.3f}"
    return f"{test.format(digits)}{p} {verdict}"


def markdown(summary: dict, header: dict) -> str:
    seeds = ", ".join(str(s) for s in header["seeds"])
    lines = [
        f"# Table 6 at quickstart size: the quickstart prior over each tokenizer, seeds {seeds}",
        "",
        f"Each tokenizer row trained {header['tokenizer_steps']} steps at each seed, the prior recipe "
        f"(`configs/prior/shapes.yaml`, {header['prior_steps']} steps) over its codes at the same seed, each "
        f"evaluated on the same {header['num']} validation maps with one shared segmenter. Mean ± sd over seeds. "
        "FID vs real is the Table 6 number's kind (ours: 32 px shapes, 128 maps, not CelebA-HQ); the ratio "
        "to the row's own reconstructions is what the prior adds. Validation loss per token is over each "
        "row's own vocabulary, so it is not comparable across rows and nothing is ranked by it.",
        "",
        "| row | code vectors | paper FID (CelebA-HQ) | "
        + " | ".join(label for label, _, _ in MEASURES.values())
        + " |",
        "|---|---|---:|" + "---|" * len(MEASURES),
    ]
    for entry in summary["rows"]:
        paper = "–" if entry["paper_fid"] is None else f"{entry['paper_fid']:.2f}"
        cells = [_cell(entry["measures"][name], digits) for name, (_, digits, _) in MEASURES.items()]
        lines.append(f"| {entry['row']} | {entry['code_vectors']} | {paper} | " + " | ".join(cells) + " |")
    for title, key in (
        ("VQCT − each row (code vectors on), paired by seed; Holm over the rows", "versus_vqct"),
        ("Code vectors on − off, per row, paired by seed; Holm over the rows", "code_vectors_on_minus_off"),
    ):
        tests = summary[key]
        if not tests:
            continue
        names = list(tests)
        lines += [
            "",
            f"## {title}",
            "",
            "Mean difference [95 % CI], p / Holm's p, verdict (real when Holm's p < 0.05).",
            "",
            "| row | " + " | ".join(MEASURES[name][0] for name in names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for row in tests[names[0]]:
            cells = [_test(tests[name].get(row), MEASURES[name][1]) for name in names]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
    if summary["sampling_noise"]:
        noise = summary["sampling_noise"]
        lines += [
            "",
            f"Sampling noise: the first prior evaluated at {noise['fid']['n']} sampling seeds: FID sd "
            f"{noise['fid']['sd']:.2f}, ratio sd {noise['fid_ratio']['sd']:.3f}, object IoU sd "
            f"{noise['object_iou']['sd']:.3f}.",
        ]
    # a study that spans sessions carries its own account of the time (the docs' copy does)
    wall = header.get("wall") or f"{header['wall_minutes']} min, this invocation"
    lines += ["", f"Wall time: {wall}."]
    return "\n".join(lines) + "\n"
