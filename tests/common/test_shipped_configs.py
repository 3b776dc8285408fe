"""Shipped configs are found by name from any folder, a local file of the same path wins, a wrong
name lists what is shipped, and the wheel carries every YAML under configs/ as vqct.configs."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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


def test_a_missing_config_names_what_was_tried_and_lists_the_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as error:
        find_config("configs/tokenizer/shapez.yaml", "tokenizer")
    message = str(error.value)
    assert message.startswith(
        "config configs/tokenizer/shapez.yaml: no such file (tried configs/tokenizer/shapez.yaml, "
    )
    assert str(shipped_configs_folder() / "tokenizer" / "shapez.yaml") in message
    assert "shipped tokenizer configs: " in message and "configs/tokenizer/ablations/official_gcn.yaml" in message
    assert "configs/prior/" not in message.split("shipped tokenizer configs: ")[1]  # that stage's only


@pytest.mark.slow
def test_the_wheel_ships_every_config_and_finds_them_by_name_when_installed(tmp_path):
    """Build the wheel from a clean copy of the source (an in-place build would leave build/ in the
    checkout, and a stale build/lib could hide a file missing from the wheel), check its contents,
    then run the wheel's own train script from another folder on a shipped ablation."""
    source = tmp_path / "source"
    ignored = shutil.ignore_patterns(".git", ".venv", "outputs", "build", "*.egg-info", "__pycache__", ".pytest_cache")
    shutil.copytree(ROOT, source, ignore=ignored)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    subprocess.run([*pip, "-w", str(tmp_path / "wheel"), str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("vqct-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "installed")
    configs = {"vqct/configs/" + p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    assert len(configs) > 40 and not configs - names, sorted(configs - names)
    modules = {
        ("" if package == "vqct" else "vqct/") + p.relative_to(ROOT).as_posix()
        for package in CODE_PACKAGES
        for p in (ROOT / package).rglob("*.py")
    }
    assert not modules - names, f"packages missing from pyproject.toml: {sorted(modules - names)}"
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"vqct"}, tops  # one import name: nothing that could shadow another package

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    environment = {**os.environ, "PYTHONPATH": str(tmp_path / "installed")}  # the wheel's code, not the checkout's
    printed = subprocess.run(
        [sys.executable, "-m", "vqct.tokenizer.train", "--config", "configs/tokenizer/ablations/official_gcn.yaml"]
        + ["--print-config"],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert printed.returncode == 0, printed.stderr
    assert "output_dir: outputs/ablations/official_gcn\n" in printed.stdout and "  kind: cub\n" in printed.stdout
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "from vqct.common.shipped_configs import shipped_configs_folder; print(shipped_configs_folder())",
        ],
        cwd=elsewhere,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()) == tmp_path / "installed" / "vqct" / "configs"
