"""Shipped configs are found by name from any folder, a local file of the same path wins, a wrong
name lists what is shipped (the wheel carries them: tests/test_wheel.py)."""

from pathlib import Path

import pytest

import vqct.common.shipped_configs as shipped_configs
from vqct.common.config import ConfigError, load_config
from vqct.common.shipped_configs import find_config, shipped_configs_folder
from vqct.tokenizer import TokenizerTrainConfig

ROOT = Path(__file__).resolve().parents[2]
CODE_PACKAGES = ("vqct", "common", "tokenizer", "prior", "apps")


@pytest.mark.parametrize("argument", ["configs/tokenizer/shapes.yaml", "tokenizer/shapes.yaml", "shapes.yaml"])
def test_a_shipped_config_is_found_by_name_from_another_folder(argument, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = find_config(argument, "tokenizer")
    assert found == shipped_configs_folder() / "tokenizer" / "shapes.yaml"
    assert load_config(TokenizerTrainConfig, found).data.kind == "shapes"


def test_a_shipped_ablation_keeps_its_base_chain_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(
        TokenizerTrainConfig, find_config("configs/tokenizer/ablations/official_gcn.yaml", "tokenizer")
    )
    assert config.model.quantizer.transfer.layers == 2  # official_gcn.yaml itself
    assert config.data.kind == "cub"  # its base, cub_vqct.yaml
    assert config.model.autoencoder.ch_mult == [1, 1, 2, 2, 4]  # that one's base, celebahq_vqct_f16.yaml


def test_a_local_file_of_the_same_path_shadows_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local = Path("configs/tokenizer/shapes.yaml")
    local.parent.mkdir(parents=True)
    local.write_text("max_steps: 7\n")
    assert find_config("configs/tokenizer/shapes.yaml", "tokenizer") == local
    assert load_config(TokenizerTrainConfig, find_config(str(local), "tokenizer")).max_steps == 7


def test_a_missing_config_names_what_was_tried_and_the_nearest_shipped_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as error:
        find_config("configs/tokenizer/shapez.yaml", "tokenizer")
    message = str(error.value)
    assert message.startswith(
        "config configs/tokenizer/shapez.yaml: no such file (tried configs/tokenizer/shapez.yaml, "
    )
    assert str(shipped_configs_folder() / "tokenizer" / "shapez.yaml") in message
    nearest = message.split("nearest shipped tokenizer configs: ")[1].split(", ")
    assert nearest[0] == "configs/tokenizer/shapes.yaml" and len(nearest) <= 4  # the nearest, not all 44
    assert "official_gcn" not in message and "configs/prior/" not in message
    with pytest.raises(ConfigError, match="configs are shipped under configs/tokenizer/"):
        find_config("xyzzy", "tokenizer")  # nothing near: where they are, not a list


@pytest.mark.parametrize(
    ("argument", "stage", "shipped"),
    [
        ("shapes", "tokenizer", "tokenizer/shapes.yaml"),
        ("shapes", "prior", "prior/shapes.yaml"),
        ("official_gcn", "tokenizer", "tokenizer/ablations/official_gcn.yaml"),
        ("baselines/cub_vqgan", "tokenizer", "tokenizer/baselines/cub_vqgan.yaml"),
    ],
)
def test_a_shipped_config_is_found_by_its_short_name(argument, stage, shipped, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_config(argument, stage) == shipped_configs_folder() / shipped


def test_a_short_name_two_shipped_configs_share_is_an_error_naming_both(tmp_path, monkeypatch):
    for folder in ("tokenizer/ablations", "tokenizer/baselines"):  # neither at the top, where it would win
        (tmp_path / "shipped" / folder).mkdir(parents=True)
        (tmp_path / "shipped" / folder / "twin.yaml").write_text("max_steps: 1\n")
    monkeypatch.setattr(shipped_configs, "shipped_configs_folder", lambda: tmp_path / "shipped")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="2 shipped tokenizer configs have that name") as error:
        find_config("twin", "tokenizer")
    assert "configs/tokenizer/ablations/twin.yaml, configs/tokenizer/baselines/twin.yaml" in str(error.value)
