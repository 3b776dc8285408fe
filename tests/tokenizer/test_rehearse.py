"""``vqct-rehearse``: each row is its paper config's own change on the quickstart
config, every ablation is rehearsed, and a seeded study trains each row once per seed, compares
rows by seed, resumes without retraining and refuses a run folder trained with another config."""

import json
import shutil

import pytest

from vqct.common.config import ConfigError, dotted, load_config
from vqct.common.shipped_configs import shipped_config, shipped_config_names
from vqct.tokenizer import TokenizerTrainConfig, VQCTTokenizer
from vqct.tokenizer.rehearse import QUICKSTART, ROWS, RehearsalError, main, rehearse, row_changes, row_overrides

# glove_vectors is the VQCT row itself at quickstart size (the quickstart's vectors are GloVe)
NOT_A_ROW = {"ablations/glove_vectors.yaml"}


def test_every_ablation_config_is_rehearsed():
    names = shipped_config_names("tokenizer")
    shipped = {name.removeprefix("configs/tokenizer/") for name in names if "/ablations/" in name}
    rehearsed = {row.config for row in ROWS}
    assert shipped - NOT_A_ROW <= rehearsed, sorted(shipped - NOT_A_ROW - rehearsed)


def resolved(row, out, seed=0):
    overrides = row_overrides(row, out, steps=300, seed=seed, codebook_sizes=(512, 1024), validation_images=64)
    return dotted(load_config(TokenizerTrainConfig, shipped_config(QUICKSTART), overrides))


@pytest.mark.parametrize("row", [row for row in ROWS if row.config], ids=lambda row: row.name)
def test_a_row_differs_from_the_quickstart_vqct_in_its_own_keys_only(row, tmp_path):
    base_row = next(r for r in ROWS if r.config is None)
    config, base = resolved(row, tmp_path), resolved(base_row, tmp_path)
    changed = {key for key in config if config[key] != base[key]} - {"output_dir"}
    own = {change.split("=")[0] for change in [*row_changes(row), *row.extra]}
    language = {"language_codebook"} if row.language_codebook != base_row.language_codebook else set()
    # its own keys, every one (a config may restate a default, e.g. shapes_fsq.yaml's levels)
    assert changed <= own | language and language <= changed
    assert changed, "a row that changes nothing is the quickstart again"
    assert not own & {"model.quantizer.codebook_size", "output_dir", "language_codebook"}  # paper-scale keys


def test_seeds_change_the_seed_and_the_run_folder_only(tmp_path):
    row = ROWS[0]
    first, second = resolved(row, tmp_path, seed=0), resolved(row, tmp_path, seed=1)
    assert {key for key in first if first[key] != second[key]} == {"seed", "output_dir"}
    assert first["validation_steps"] == first["max_steps"] == 300  # measured once, at the end
    assert first["data.validation_length"] == 64 and first["validation_batches"] * first["batch_size"] >= 64


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown --rows nope"):
        rehearse(tmp_path, 10, ["vqct", "nope"])
    with pytest.raises(ConfigError, match="--steps must be at least 1"):
        rehearse(tmp_path, 0)
    with pytest.raises(ConfigError, match="--jobs must be at least 1"):
        rehearse(tmp_path, 10, jobs=0)
    with pytest.raises(ConfigError, match="--seeds must be distinct"):
        rehearse(tmp_path, 10, seeds=[1, 1])
    assert main(["--out", str(tmp_path), "--rows", "nope"]) == 2  # the one-line error, no traceback


TINY = [
    "batch_size=4",
    "data.length=16",
    "log_steps=1",
    "loss.perceptual_weight=0.0",
    "model.autoencoder.ch=8",
    "model.autoencoder.z_channels=8",
    "model.quantizer.transfer.hidden_dim=16",
]


@pytest.mark.slow  # each run is its own process, as a study runs them
def test_a_seeded_study_compares_rows_by_seed_resumes_and_refuses_another_config(
    tiny_language_codebook_dir, tmp_path, capsys
):
    shutil.copytree(
        tiny_language_codebook_dir, tmp_path / "language_codebooks" / "glove"
    )  # built once, shared by every row
    rows = ["vqct", "split_vq", "vqgan"]
    summary = rehearse(tmp_path, 2, rows, TINY, seeds=[0, 1], jobs=2, validation_images=8)
    runs = json.loads((tmp_path / "table.json").read_text())["runs"]
    assert [(r["row"], r["seed"]) for r in runs] == [(row, seed) for row in rows for seed in (0, 1)]
    assert all(r["step"] == 2 and r["train_seconds"] > 0 for r in runs)
    assert all((tmp_path / "rows" / row / f"seed-{seed}" / "train.log").is_file() for row in rows for seed in (0, 1))
    vqct, split, vqgan = (VQCTTokenizer.from_pretrained(tmp_path / "rows" / row / "seed-0" / "final") for row in rows)
    assert split.codebook_sizes == vqct.codebook_sizes and vqgan.codebook_sizes == (sum(vqct.codebook_sizes),)
    assert runs[0]["metrics"]["psnr"] != runs[1]["metrics"]["psnr"]  # another seed, another run

    by_row = {entry["row"]: entry for entry in summary["rows"]}
    psnr = {(r["row"], r["seed"]): r["metrics"]["psnr"] for r in runs}
    difference = by_row["vqgan"]["versus_vqct"]["psnr"]
    assert difference["n"] == 2
    assert difference["mean"] == pytest.approx(
        ((psnr["vqgan", 0] - psnr["vqct", 0]) + (psnr["vqgan", 1] - psnr["vqct", 1])) / 2
    )
    assert "versus_vqct" not in by_row["vqct"]
    assert [c["better"] + "-" + c["worse"] for c in summary["contrasts"]] == ["vqct-split_vq", "split_vq-vqgan"]
    assert set(by_row["vqct"]["start_geometry"]) == {
        "geometry/adjective_cosine",
        "geometry/adjective_rank",
        "geometry/noun_cosine",
        "geometry/noun_rank",
    }
    table = (tmp_path / "table.md").read_text()
    assert "| 1 | VQGAN's recipe, one learned codebook | l1, no GAN (starts after the end) |" in table
    assert "`vqct` − `split_vq`" in table and "| vqct | adjective |" in table

    assert (
        main(
            [
                "--out",
                str(tmp_path),
                "--steps",
                "2",
                "--seeds",
                "0",
                "1",
                "--validation-images",
                "8",
                "--rows",
                *rows,
                *TINY,
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "table.json").read_text())["runs"]
    assert all(r["train_seconds"] is None for r in again)  # measured from the runs already there
    assert [r["metrics"] for r in again] == [r["metrics"] for r in runs]
    assert "VQCT" in capsys.readouterr().out

    partial = rehearse(tmp_path, 2, ["vqct", "ri_gcn"], TINY, seeds=[0, 1, 2], validation_images=8, finished_only=True)
    assert [entry["row"] for entry in partial["rows"]] == ["vqct"]  # ri_gcn has no run yet: left out
    assert partial["rows"][0]["seeds"] == [0, 1] and not (tmp_path / "rows" / "ri_gcn").exists()  # nothing trained

    with pytest.raises(RehearsalError, match=r"seed-0 was trained with another config \(batch_size differ"):
        rehearse(tmp_path, 2, ["vqct"], [*TINY, "batch_size=2"], validation_images=8)
