"""The docs' measured tables, generated from committed data so that no verdict is typed by hand:

    python -m vqct.doc_tables           # rewrite every generated block of docs/*.md
    python -m vqct.doc_tables --check   # exit 1 naming each block that differs from its data

A block is the text between ``<!-- generated from docs/data/NAME.json by python -m vqct.doc_tables -->``
and ``<!-- end of generated table -->``; NAME.json's ``kind`` says how it is drawn:

- ``paired``: a study's contrasts, judged by ``common.paired``'s rule (paired t-test at n − 1
  degrees of freedom, 95 % interval, Holm's correction over the table's contrasts on one metric).
  Each contrast gives, per metric, per-seed values ``{"a": {seed: v}, "b": {seed: v}}`` (the
  difference is a − b), per-seed differences ``{"differences": {seed: d}}``, or, only where the
  per-seed values were never recorded, ``{"summary": {"mean": m, "sd": s, "n": n}}``: the
  differences' mean and sample sd, marked in the table as such.
- ``rehearsal``: a ``vqct-rehearse`` study's ``table.json`` (its header and per-seed runs),
  drawn by the rehearsal's own ``report.render_table``, its headings three levels down.
- ``prior_study``: a ``vqct-prior-study`` study's ``table.json`` (its header, tokenizers' runs and
  priors) with a ``wall`` text added, drawn by ``prior.study_report``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import textwrap
from pathlib import Path

from vqct.common.atomic import write_text
from vqct.common.errors import UserFileNotFoundError, UserValueError, exit_code
from vqct.common.paired import PairedTest, holm, paired_test, t_test

START = "<!-- generated from docs/data/{name}.json by python -m vqct.doc_tables -->"
END = "<!-- end of generated table -->"
BLOCK = re.compile(
    re.escape(START).replace(r"\{name\}", r"(?P<name>[\w.-]+)") + r"\n(?P<body>.*?)" + re.escape(END),
    re.DOTALL,
)
SUMMARY_MARK = "†"
LEGEND = (
    "Δ: the mean per-seed difference, first − second term of the contrast, with its 95 % confidence "
    "interval (t at n − 1 degrees of freedom); p: the two-sided paired t-test's; Holm p: corrected over "
    "the table's contrasts on one metric; **real** when Holm's p < 0.05, – from one seed (`common/paired.py`)."
)
PER_SEED_LEGEND = "Per seed, each cell reads second term → first (or, alone, the difference)."
# a no-break space keeps the mark with its words where the legend is wrapped
SUMMARY_LEGEND = (
    f"{SUMMARY_MARK}\u00a0from the recorded mean ± sd of the per-seed differences (their values were not recorded)."
)


def _seeds(values: dict, where: str) -> dict[int, float]:
    if not isinstance(values, dict) or not values:
        raise UserValueError(f"{where}: expected a non-empty {{seed: value}} mapping, got {values!r}")
    try:
        return {int(seed): float(value) for seed, value in values.items()}
    except (TypeError, ValueError) as error:
        raise UserValueError(f"{where}: seeds must be integers and values numbers ({error})") from None


def measured(entry: dict, where: str) -> tuple[PairedTest, dict[int, tuple[float, float] | float] | None]:
    """One contrast's test on one metric, and its per-seed cells (None from a summary)."""
    if set(entry) == {"a", "b"}:
        a, b = _seeds(entry["a"], f"{where}.a"), _seeds(entry["b"], f"{where}.b")
        if set(a) != set(b):
            raise UserValueError(f"{where}: a and b have different seeds ({sorted(a)} against {sorted(b)})")
        return paired_test(a, b), {seed: (b[seed], a[seed]) for seed in sorted(a)}
    if set(entry) == {"differences"}:
        differences = _seeds(entry["differences"], f"{where}.differences")
        zeros = dict.fromkeys(differences, 0.0)
        return paired_test(differences, zeros), dict(sorted(differences.items()))
    if set(entry) == {"summary"}:
        summary = entry["summary"]
        if not isinstance(summary, dict) or set(summary) != {"mean", "sd", "n"}:
            raise UserValueError(f"{where}.summary: expected the keys mean, sd and n, got {summary!r}")
        return t_test(float(summary["mean"]), float(summary["sd"]), int(summary["n"])), None
    raise UserValueError(f"{where}: expected the keys a and b, differences, or summary; got {sorted(entry)}")


def _p(p: float | None) -> str:
    if p is None or p != p:
        return "–"
    return "< 0.001" if p < 0.0005 else f"{p:.3f}"


def _verdict(test: PairedTest) -> str:
    return {None: "–", True: "**real**", False: "no"}[test.real]


def _cell(cell, digits: int) -> str:
    if cell is None:
        return "–"
    if isinstance(cell, tuple):
        return f"{cell[0]:.{digits}f} → {cell[1]:.{digits}f}"
    return f"{cell:+.{digits}f}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_paired(data: dict, where: str) -> str:
    """The per-seed values (where recorded) and each contrast's test on each metric, Holm's
    correction taken over the contrasts of one metric."""
    metrics, contrasts = data.get("metrics"), data.get("contrasts")
    if not metrics or not contrasts:
        raise UserValueError(f"{where}: a paired study needs non-empty 'metrics' and 'contrasts'")
    for field, entries, needed in (
        ("metrics", metrics, {"key", "label", "digits"}),
        ("contrasts", contrasts, {"name", "values"}),
    ):
        for entry in entries:
            if not isinstance(entry, dict) or not needed <= set(entry):
                raise UserValueError(
                    f"{where}: each of '{field}' needs the keys {', '.join(sorted(needed))}; got {entry!r}"
                )
    keys = [metric["key"] for metric in metrics]
    tests, cells = {}, {}  # (contrast index, metric key) → test / per-seed cells
    for i, contrast in enumerate(contrasts):
        unknown = set(contrast["values"]) - set(keys)
        if unknown:
            raise UserValueError(f"{where}: contrast {contrast['name']!r} has values for no metric: {sorted(unknown)}")
        for key, entry in contrast["values"].items():
            tests[i, key], cells[i, key] = measured(entry, f"{where}: {contrast['name']!r}.{key}")
    for key in keys:  # one family a metric
        family = [pair for pair in tests if pair[1] == key]
        tests.update(zip(family, holm([tests[pair] for pair in family])))

    many_contrasts, many_metrics = len(contrasts) > 1, len(metrics) > 1
    lines = [] if many_contrasts else [f"{contrasts[0]['name']}, paired by seed:", ""]
    seeded = [i for i in range(len(contrasts)) if any(cells.get((i, key)) for key in keys)]
    if seeded:
        lines += [
            _row(["contrast"] * many_contrasts + ["seed"] + [metric["label"] for metric in metrics]),
            _row(["---"] * (many_contrasts + 1 + len(metrics))),
        ]
        for i in seeded:
            seeds = sorted({seed for key in keys for seed in (cells.get((i, key)) or {})})
            for seed in seeds:
                row = [contrasts[i]["name"]] * many_contrasts + [str(seed)]
                for metric in metrics:
                    digits = metric.get("value_digits", metric["digits"])
                    row.append(_cell((cells.get((i, metric["key"])) or {}).get(seed), digits))
                lines.append(_row(row))
        lines.append("")
    difference = "Δ [95 % CI]" if many_metrics else f"Δ {metrics[0]['label']} [95 % CI]"
    lines += [
        _row(["contrast"] * many_contrasts + ["metric"] * many_metrics + ["n", difference, "p", "Holm p", "verdict"]),
        _row(["---"] * many_contrasts + ["---"] * many_metrics + ["---:", "---", "---:", "---:", "---"]),
    ]
    summarized = False
    for i, contrast in enumerate(contrasts):
        first = True
        for metric in metrics:
            test = tests.get((i, metric["key"]))
            if test is None:
                continue
            from_summary = cells[i, metric["key"]] is None
            summarized |= from_summary
            row = [contrast["name"] if first else ""] * many_contrasts + [metric["label"]] * many_metrics
            row += [f"{test.n}{SUMMARY_MARK * from_summary}", test.format(metric["digits"]), _p(test.p)]
            row += [_p(test.p_holm), _verdict(test)]
            lines.append(_row(row))
            first = False
    legend = LEGEND + (" " + PER_SEED_LEGEND) * bool(seeded) + (" " + SUMMARY_LEGEND) * summarized
    lines += ["", textwrap.fill(legend, width=100, break_long_words=False, break_on_hyphens=False)]
    return "\n".join(lines) + "\n"


def _inside_section(page: str) -> str:
    """A study's table.md is a page of its own; in the docs it sits under a study's ### heading,
    so its headings move three levels down to stay inside that section."""
    return re.sub(r"^(#+) ", lambda heading: "#" * (len(heading[1]) + 3) + " ", page, flags=re.M)


# The studies' reports are modules of stage one and two outside their public API, and importing
# either loads torch: imported by name, and only for a block that needs it (as vqct.cli does).


def render_rehearsal(data: dict, where: str) -> str:
    return _inside_section(importlib.import_module("vqct.tokenizer.rehearse.report").render_table(data))


PRIOR_STUDY_KEYS = ("rows", "seeds", "num", "tokenizer_steps", "prior_steps", "wall", "tokenizer_runs", "priors")


def render_prior_study(data: dict, where: str) -> str:
    missing = [key for key in PRIOR_STUDY_KEYS if key not in data]
    if missing:
        raise UserValueError(f"{where}: a prior study needs the keys {', '.join(missing)}")
    report = importlib.import_module("vqct.prior.study_report")
    summary = report.summarize(data, data["tokenizer_runs"], data["priors"], data.get("sampling", []))
    return _inside_section(report.markdown(summary, data))


KINDS = {"paired": render_paired, "rehearsal": render_rehearsal, "prior_study": render_prior_study}


def render(path: Path) -> str:
    """The markdown a data file draws."""
    if not path.is_file():
        raise UserFileNotFoundError(f"{path}: no such data file (named by a generated block)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserValueError(f"{path}: not valid JSON ({error})") from None
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in KINDS:
        raise UserValueError(f"{path}: kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return KINDS[kind](data, str(path))


def regenerate(text: str, data_dir: Path, where: str) -> tuple[str, list[str]]:
    """``text`` with every generated block drawn again from ``data_dir``, and the names of the
    blocks that changed."""
    starts = len(re.findall(re.escape(START).replace(r"\{name\}", r"[\w.-]+"), text))
    blocks = list(BLOCK.finditer(text))
    if starts != len(blocks):
        raise UserValueError(
            f"{where}: {starts} generated-block start markers but {len(blocks)} end markers after them"
        )
    stale, pieces, last = [], [], 0
    for block in blocks:
        body = render(data_dir / f"{block['name']}.json")
        if body != block["body"]:
            stale.append(block["name"])
        pieces += [text[last : block.start("body")], body]
        last = block.end("body")
    return "".join(pieces) + text[last:], stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vqct.doc_tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="rewrite nothing; exit 1 naming every stale block")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="the docs folder (default: docs)")
    args = parser.parse_args(argv)
    if not args.docs.is_dir():
        raise UserFileNotFoundError(f"{args.docs}: no such docs folder (run from the repository's root or pass --docs)")
    stale = []
    for page in sorted(args.docs.glob("*.md")):
        text = page.read_text()
        new, changed = regenerate(text, args.docs / "data", str(page))
        stale += [f"{page}: docs/data/{name}.json" for name in changed]
        if changed and not args.check:
            write_text(page, new)
    if args.check and stale:
        print("stale generated tables (run python -m vqct.doc_tables):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    for entry in stale:
        print(f"rewrote {entry}")
    return 0


if __name__ == "__main__":
    sys.exit(exit_code(main))
