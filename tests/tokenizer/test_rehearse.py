"""``python -m tokenizer.rehearse``: each row is its paper config's own change on the quickstart
config, every ablation is rehearsed, and a run writes one table and resumes without retraining."""

import json
import shutil

import pytest

from common.config import ConfigError, dotted, load_config
from common.shipped_configs import shipped_config, shipped_config_names
from tokenizer import TokenizerTrainConfig, VQCTTokenizer
from tokenizer.rehearse import QUICKSTART, ROWS, main, rehearse, row_changes, row_overrides

# glove_vectors is the VQCT row itself at quickstart size (the quickstart's vectors are GloVe)
NOT_A_ROW = {"ablations/glove_vectors.yaml"}


def test_every_ablation_config_is_rehearsed():
    names = shipped_config_names("tokenizer")
    shipped = {name.removeprefix("configs/tokenizer/") for name in names if "/ablations/" in name}
    rehearsed = {row.config for row in ROWS}
    assert shipped - NOT_A_ROW <= rehearsed, sorted(shipped - NOT_A_ROW - rehearsed)


@pytest.mark.parametrize("row", [row for row in ROWS if row.config], ids=lambda row: row.name)
def test_a_row_differs_from_the_quickstart_vqct_in_its_own_keys_only(row, tmp_path):
    base_row = next(r for r in ROWS if r.config is None)

    def resolved(r):
        return dotted(
            load_config(TokenizerTrainConfig, shipped_config(QUICKSTART), row_overrides(r, tmp_path, 300, 1536))
        )

    config, base = resolved(row), resolved(base_row)
    changed = {key for key in config if config[key] != base[key]} - {"output_dir"}
    own = {change.split("=")[0] for change in row_changes(row) + list(row.extra)}
    assert changed == own - {"language_codebook"} | ({"language_codebook"} if row.extra else set())
    assert "model.quantizer.codebook_size" not in own and "output_dir" not in own  # paper-scale keys


def test_unknown_rows_and_bad_steps_are_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown --rows nope"):
        rehearse(tmp_path, 10, ["vqct", "nope"])
    with pytest.raises(ConfigError, match="--steps must be at least 1"):
        rehearse(tmp_path, 0)
    assert main(["--out", str(tmp_path), "--rows", "nope"]) == 2  # the one-line error, no traceback


TINY = [
    "batch_size=4",
    "data.length=16",
    "data.validation_length=8",
    "validation_batches=1",
    "log_steps=1",
    "loss.perceptual_weight=0.0",
    "model.autoencoder.ch=8",
    "model.autoencoder.z_channels=8",
    "model.quantizer.transfer.hidden_dim=16",
]


def test_two_rows_write_one_table_and_a_rerun_does_not_retrain(tiny_codebook_dir, tmp_path, capsys):
    shutil.copytree(tiny_codebook_dir, tmp_path / "language_codebook")  # built once, reused by every row
    results = rehearse(tmp_path, 2, ["vqct", "vqgan"], TINY)
    assert [r["row"] for r in results] == ["vqct", "vqgan"]
    assert set(results[0]["usage_percent"]) == {"adjective", "noun"} and set(results[1]["usage_percent"]) == {
        "codebook"
    }
    assert all(r["step"] == 2 and r["psnr"] > 0 and r["train_seconds"] > 0 for r in results)
    vqct, vqgan = (VQCTTokenizer.from_pretrained(tmp_path / "rows" / name / "final") for name in ("vqct", "vqgan"))
    assert vqgan.codebook_sizes == (sum(vqct.codebook_sizes),)  # the language codebook's size
    table = (tmp_path / "table.md").read_text()
    assert "| 1 | VQGAN | `configs/tokenizer/baselines/cub_vqgan.yaml` |" in table

    assert main(["--out", str(tmp_path), "--steps", "2", "--rows", "vqct", "vqgan", *TINY]) == 0
    again = json.loads((tmp_path / "table.json").read_text())["rows"]
    assert [r["train_seconds"] for r in again] == [None, None]  # measured from the runs already there
    assert [r["psnr"] for r in again] == [r["psnr"] for r in results]
    assert "VQCT" in capsys.readouterr().out
