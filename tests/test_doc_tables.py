"""The docs' generated tables: a paired study drawn by the one rule (scipy's paired t-test, Holm over
a metric's contrasts), a hand-edited block caught by --check, and the repository's own docs in step
with their data (so a typed-over table fails CI)."""

import json
from pathlib import Path

import pytest
from scipy import stats

from vqct.common.errors import UserFileNotFoundError, UserValueError
from vqct.doc_tables import END, START, main, render

ROOT = Path(__file__).resolve().parents[1]

A = {"0": 24.1, "1": 23.7, "2": 24.4}
B = {"0": 23.8, "1": 23.6, "2": 23.9}
C = {"0": 23.0, "1": 23.0, "2": 23.2}
STUDY = {
    "kind": "paired",
    "metrics": [{"key": "psnr", "label": "PSNR (dB)", "digits": 2}],
    "contrasts": [
        {"name": "a − b", "values": {"psnr": {"a": A, "b": B}}},
        {"name": "b − c", "values": {"psnr": {"differences": {s: B[s] - C[s] for s in B}}}},
        {"name": "recorded", "values": {"psnr": {"summary": {"mean": 0.18, "sd": 0.20, "n": 3}}}},
        {"name": "one seed", "values": {"psnr": {"a": {"0": 1.0}, "b": {"0": 0.5}}}},
    ],
}


def rows(markdown: str) -> dict[str, list[str]]:
    """The test table's rows by contrast name: [n, Δ [CI], p, Holm p, verdict]."""
    table = markdown.split("| contrast | n |")[1]
    cells = [line.strip("|").split(" | ") for line in table.splitlines()[2:] if line.startswith("|")]
    return {row[0].strip(): [c.strip() for c in row[1:]] for row in cells}


def test_a_paired_study_is_scipys_paired_t_test_with_holm_over_the_column(tmp_path):
    path = tmp_path / "study.json"
    path.write_text(json.dumps(STUDY))
    table = rows(render(path))
    seeds = sorted(A)
    ab = stats.ttest_rel([A[s] for s in seeds], [B[s] for s in seeds])
    bc = stats.ttest_rel([B[s] for s in seeds], [C[s] for s in seeds])
    recorded = 2 * stats.t.sf(0.18 / (0.20 / 3**0.5), 2)
    ab_ci, bc_ci = ab.confidence_interval(0.95), bc.confidence_interval(0.95)
    # by hand: differences a − b 0.3, 0.1, 0.5 (t 2.60, p 0.122); b − c 0.8, 0.6, 0.7 (t 12.1, p 0.0067);
    # recorded t 1.56, p 0.259. Holm: 3 × 0.0067 = 0.020, 2 × 0.122 = 0.243, 1 × 0.259
    assert (round(ab.pvalue, 3), round(bc.pvalue, 4), round(recorded, 3)) == (0.122, 0.0067, 0.259)
    assert table["a − b"] == ["3", f"+0.30 [{ab_ci.low:+.2f}, {ab_ci.high:+.2f}]", "0.122", "0.243", "no"]
    assert table["b − c"] == ["3", f"+0.70 [{bc_ci.low:+.2f}, {bc_ci.high:+.2f}]", "0.007", "0.020", "**real**"]
    assert (f"{ab_ci.low:+.2f}", f"{bc_ci.low:+.2f}", f"{bc_ci.high:+.2f}") == ("-0.20", "+0.45", "+0.95")
    assert table["recorded"] == ["3†", "+0.18 [-0.32, +0.68]", "0.259", "0.259", "no"]
    assert table["one seed"] == ["1", "+0.50", "–", "–", "–"]
    # the per-seed values are drawn too, second term → first
    assert "| a − b | 0 | 23.80 → 24.10 |" in render(path)


def write_docs(tmp_path: Path, study: dict) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "study.json").write_text(json.dumps(study))
    page = tmp_path / "page.md"
    page.write_text(f"# A page\n\nText before.\n\n{START.format(name='study')}\nold table\n{END}\n\nText after.\n")
    return page


def test_check_fails_on_a_hand_edited_block_and_passes_after_regeneration(tmp_path, capsys):
    page = write_docs(tmp_path, STUDY)
    assert main(["--check", "--docs", str(tmp_path)]) == 1  # the block was never drawn
    assert main(["--docs", str(tmp_path)]) == 0
    drawn = page.read_text()
    assert drawn.startswith("# A page\n\nText before.\n\n") and drawn.endswith(f"{END}\n\nText after.\n")
    assert main(["--check", "--docs", str(tmp_path)]) == 0
    page.write_text(drawn.replace("| 0.243 | no |", "| 0.040 | **real** |", 1))  # a verdict typed over
    capsys.readouterr()
    assert main(["--check", "--docs", str(tmp_path)]) == 1
    assert f"{page}: docs/data/study.json" in capsys.readouterr().err
    assert main(["--docs", str(tmp_path)]) == 0
    assert page.read_text() == drawn and main(["--check", "--docs", str(tmp_path)]) == 0


def test_a_block_naming_missing_data_is_a_user_error(tmp_path):
    page = write_docs(tmp_path, STUDY)
    page.write_text(page.read_text().replace("study.json", "missing.json"))
    with pytest.raises(UserFileNotFoundError, match="missing.json: no such data file"):
        main(["--check", "--docs", str(tmp_path)])


def test_the_repositorys_docs_are_in_step_with_their_data():
    assert main(["--check", "--docs", str(ROOT / "docs")]) == 0


def test_a_rehearsal_block_is_the_rehearsals_own_table(tmp_path):
    from vqct.tokenizer.rehearse.report import render_table

    runs = [
        {
            "row": row,
            "seed": seed,
            "metrics": {
                "psnr": 23.9 + bump + 0.1 * seed,
                "ssim": 0.62 + bump / 10,
                "l1": 0.039 - bump / 100,
                "usage/adjective_percent": 90.0,
                "usage/adjective_perplexity": 300.0,
                "geometry/adjective_cosine": 0.8,
                "geometry/adjective_rank": 3.0,
            },
            "start_geometry": {"geometry/adjective_cosine": 0.97, "geometry/adjective_rank": 4.1},
        }
        for row, bump in (("vqct", 0.2), ("ri_gcn", 0.0))
        for seed in (0, 1, 2)
    ]
    header = {"data": "shapes", "steps": 1200, "seeds": [0, 1, 2], "validation_images": 1024, "overrides": ""}
    data = {"kind": "rehearsal", **header, "recipes": {}, "wall": "6 runs", "runs": runs}
    path = tmp_path / "study.json"
    path.write_text(json.dumps(data))
    own, block = render_table(data).splitlines(), render(path).splitlines()
    assert [line.lstrip("#") for line in block] == [line.lstrip("#") for line in own]
    headings = [line.split(" ")[0] for line in block if line.startswith("#")]
    assert headings and set(headings) <= {"####", "#####"}  # inside the page's ### section
    assert "| language effect, through the GCN (GloVe − random) |" in render(path)  # its contrasts, by seed


def test_a_prior_study_block_is_the_studys_own_table_with_its_wall_time(tmp_path):
    from tests.prior.test_study import measures

    tokenizer_runs = [
        {
            "row": row,
            "seed": seed,
            "metrics": {"psnr": 24.0 - (row == "fsq") + 0.1 * seed, "usage/codebook_percent": 90.0},
        }
        for row in ("vqct", "fsq")
        for seed in (0, 1)
    ]
    priors = [
        measures(row, seed, "on", fid + 3 * seed, 180.0, 0.7)
        for row, fid in (("vqct", 200.0), ("fsq", 215.0))
        for seed in (0, 1)
    ]
    header = {"rows": ["vqct", "fsq"], "seeds": [0, 1], "num": 128, "tokenizer_steps": 1200, "prior_steps": 1200}
    data = {
        "kind": "prior_study",
        **header,
        "wall": "4 priors in 30 min",
        "tokenizer_runs": tokenizer_runs,
        "priors": priors,
    }
    path = tmp_path / "table6.json"
    path.write_text(json.dumps(data))
    block = render(path)
    assert block.startswith("#### Table 6 at quickstart size") and "\n##### VQCT − each row" in block
    assert "| fsq | on | – | 23.05 ± 0.07 |" in block  # the tokenizer's PSNR over its seeds, no paper FID
    assert "-15.0 [" in block and block.rstrip().endswith("Wall time: 4 priors in 30 min.")
    del data["wall"]
    path.write_text(json.dumps(data))
    with pytest.raises(UserValueError, match="table6.json: a prior study needs the keys wall"):
        render(path)


def test_bad_data_and_unclosed_blocks_are_named(tmp_path):
    broken = {**STUDY, "contrasts": [{"name": "a − b", "values": {"psnr": {"a": A}}}]}
    page = write_docs(tmp_path, broken)
    with pytest.raises(UserValueError, match=r"study.json: 'a − b'.psnr: expected the keys a and b"):
        main(["--check", "--docs", str(tmp_path)])
    page.write_text(page.read_text().replace(END, ""))
    with pytest.raises(UserValueError, match="page.md: 1 generated-block start markers but 0 end markers"):
        main(["--check", "--docs", str(tmp_path)])
    (tmp_path / "data" / "study.json").write_text(json.dumps({**STUDY, "metrics": [{"key": "psnr"}]}))
    with pytest.raises(UserValueError, match="each of 'metrics' needs the keys digits, key, label"):
        render(tmp_path / "data" / "study.json")
