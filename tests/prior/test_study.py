"""``vqct-prior-study``: Table 6's comparison at quickstart size. One command trains each row's
tokenizer and the same prior recipe over it per seed (code vectors on and off), evaluates every
prior with one shared segmenter, pairs rows by seed, and resumes without redoing any step."""

import json
import shutil

import pytest

from tests.tokenizer.test_rehearse import TINY
from vqct.common.config import ConfigError
from vqct.doc_tables import render
from vqct.prior.study import main, study
from vqct.prior.study_report import summarize

TINY_PRIOR = [
    "data.length=16",
    "data.validation_length=4",
    "batch_size=4",
    "validation_batches=1",
    "validation_steps=2",
    "checkpointing_steps=2",
    "log_steps=1",
    "num_samples=2",
    "model.dim=16",
    "model.depth=1",
    "model.heads=2",
]


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown --rows nope"):
        study(tmp_path, ["vqct", "nope"], [0])
    with pytest.raises(ConfigError, match="--code-vectors takes on and/or off"):
        study(tmp_path, ["vqct"], [0], code_vectors=["maybe"])
    with pytest.raises(ConfigError, match="--num must be at least 2"):
        study(tmp_path, ["vqct"], [0], num=1)
    assert main(["--out", str(tmp_path), "--rows", "nope"]) == 2
    assert not any(tmp_path.iterdir())  # nothing written before the arguments are checked


def measures(row, seed, cv, fid, reference, iou):
    return {
        "row": row,
        "seed": seed,
        "code_vectors": cv,
        "val_loss": 4.0,
        "metrics": {
            "fid_samples": fid,
            "fid_reconstructions": reference,
            "label_following": {"samples": {"object_iou": iou, "mean_iou": iou / 3}},
            "background_spread": {"samples": 0.1},
            "diversity": {"samples_of_one_map": 0.12},
        },
    }


def test_rows_are_paired_by_seed_and_code_vectors_compared_within_a_row():
    tokenizers = [
        {"row": row, "seed": seed, "metrics": {"psnr": 24.0 - (row == "fsq"), "usage/codebook_percent": 90.0}}
        for row in ("vqct", "fsq")
        for seed in (0, 1, 2)
    ]
    priors = []
    for seed, luck in enumerate((0.0, 5.0, -3.0)):  # a seed's luck that both rows share
        priors += [
            measures("vqct", seed, "on", 200 + luck, 180 + luck, 0.70),
            measures("vqct", seed, "off", 210 + luck, 180 + luck, 0.68 - 0.001 * seed),
            measures("fsq", seed, "on", 220 + luck + 0.5 * seed, 190 + luck, 0.65),
            measures("fsq", seed, "off", 221 + luck, 190 + luck, 0.64),
        ]
    summary = summarize({"rows": ["vqct", "fsq"], "seeds": [0, 1, 2]}, tokenizers, priors, [])
    fid = summary["versus_vqct"]["fid"]["fsq"]
    assert fid["n"] == 3 and fid["mean"] == pytest.approx(-20.5) and fid["real"] is True  # the luck cancels
    assert summary["versus_vqct"]["psnr"]["fsq"]["mean"] == pytest.approx(1.0)
    on_off = summary["code_vectors_on_minus_off"]["fid"]
    assert on_off["vqct"]["mean"] == pytest.approx(-10.0) and on_off["vqct"]["p_holm"] is not None
    entry = next(e for e in summary["rows"] if e["row"] == "vqct" and e["code_vectors"] == "on")
    assert entry["paper_fid"] == 14.47 and entry["measures"]["fid_ratio"]["mean"] == pytest.approx(
        sum((200 + luck) / (180 + luck) for luck in (0.0, 5.0, -3.0)) / 3
    )


@pytest.mark.slow  # every tokenizer, prior and evaluation is its own process (about 3 min on 2 cores)
@pytest.mark.timeout(1200)
def test_the_study_trains_evaluates_pairs_and_resumes(tiny_language_codebook_dir, tmp_path):
    shutil.copytree(tiny_language_codebook_dir, tmp_path / "tokenizers" / "language_codebooks" / "glove")
    arguments = dict(
        jobs=2,
        num=4,
        tokenizer_steps=2,
        prior_steps=2,
        validation_images=4,
        segmenter_steps=2,
        sampling_repeats=1,
        common=TINY,
        prior_overrides=TINY_PRIOR,
    )
    summary = study(tmp_path, ["vqct", "fsq"], [0], **arguments)
    table = json.loads((tmp_path / "table.json").read_text())
    saved = table["summary"]["versus_vqct"]["fid"]["fsq"]  # one seed: its interval is nan, so compare the mean
    assert table["rows"] == ["vqct", "fsq"] and saved["mean"] == summary["versus_vqct"]["fid"]["fsq"]["mean"]
    assert [(run["row"], run["seed"]) for run in table["tokenizer_runs"]] == [("vqct", 0), ("fsq", 0)]
    assert [(p["row"], p["seed"], p["code_vectors"]) for p in table["priors"]] == [
        (row, 0, cv) for row in ("vqct", "fsq") for cv in ("on", "off")
    ]
    for row in ("vqct", "fsq"):
        for cv in ("on", "off"):
            folder = tmp_path / "priors" / row / "seed-0" / f"code-vectors-{cv}"
            assert (folder / "final").is_dir() and (folder / "eval" / "grid.png").is_file()
            saved = json.loads((folder / "final" / "config.json").read_text())
            assert saved["prior_config"]["code_vector_init"] == (1.0 if cv == "on" else 0.0)
    assert (tmp_path / "segmenter.safetensors").is_file()
    evaluation = json.loads((tmp_path / "priors/fsq/seed-0/code-vectors-on/eval/metrics.json").read_text())
    assert "fid_samples" in evaluation and "object_iou" in evaluation["label_following"]["samples"]
    versus = summary["versus_vqct"]["fid"]["fsq"]
    assert versus["n"] == 1 and versus["real"] is None  # one seed: a difference, never a verdict
    assert summary["sampling_noise"]["fid"]["n"] == 2
    assert (tmp_path / "priors/vqct/seed-0/code-vectors-on/sampling/seed-1/metrics.json").is_file()  # beside its prior
    written = (tmp_path / "table.md").read_text()
    assert "| vqct | on | 14.47 |" in written and "Code vectors on − off" in written
    as_docs_data = tmp_path / "table6.json"  # the docs' data: table.json with its kind and a wall text
    as_docs_data.write_text(json.dumps({**table, "kind": "prior_study", "wall": "two priors"}))
    assert "| vqct | on | 14.47 |" in render(as_docs_data)  # table.json alone redraws the table

    stamp = (tmp_path / "priors/vqct/seed-0/code-vectors-on/eval/metrics.json").stat().st_mtime_ns
    assert main(["--out", str(tmp_path), "--rows", "vqct", "fsq", "--seeds", "0", "--jobs", "2", "--num", "4",
                 "--tokenizer-steps", "2", "--prior-steps", "2", "--validation-images", "4", "--segmenter-steps", "2",
                 "--sampling-repeats", "1", "--prior-overrides", *TINY_PRIOR, "--", *TINY]) == 0  # fmt: skip
    assert (tmp_path / "priors/vqct/seed-0/code-vectors-on/eval/metrics.json").stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "table.json").read_text())["priors"] == table["priors"]  # nothing redone

    # a study stopped part-way: the table of what is evaluated, and nothing trained or evaluated to fill it
    shutil.rmtree(tmp_path / "priors/fsq/seed-0/code-vectors-off")
    partial = study(tmp_path, ["vqct", "fsq"], [0], finished_only=True, **arguments)
    assert not (tmp_path / "priors/fsq/seed-0/code-vectors-off").exists()
    assert [(p["row"], p["code_vectors"]) for p in json.loads((tmp_path / "table.json").read_text())["priors"]] == [
        ("vqct", "on"),
        ("vqct", "off"),
        ("fsq", "on"),
    ]
    assert list(partial["code_vectors_on_minus_off"]["fid"]) == ["vqct"]  # fsq has no pair yet
    before, after = summary["versus_vqct"]["fid"]["fsq"], partial["versus_vqct"]["fid"]["fsq"]
    assert (after["mean"], after["n"]) == (before["mean"], before["n"])  # one seed: its interval is nan
    assert partial["sampling_noise"]["fid"]["n"] == 2  # the first prior's repeats, read back from beside it
    shutil.rmtree(tmp_path / "priors/vqct/seed-0/code-vectors-on/eval")
    without_first = study(tmp_path, ["vqct", "fsq"], [0], finished_only=True, **arguments)
    assert without_first["sampling_noise"] == {}  # its repeats are draws only beside its own evaluation

    # a study whose tokenizers were trained elsewhere (--tokenizers): its own folder is made for it
    elsewhere = tmp_path / "table6" / "elsewhere"
    study(elsewhere, ["vqct"], [0], code_vectors=["on"], tokenizers=tmp_path / "tokenizers", **arguments)
    assert (elsewhere / "segmenter.safetensors").is_file() and (elsewhere / "table.json").is_file()
    assert not (elsewhere / "tokenizers").exists()  # the tokenizers were reused where they are
