"""The wheel, installed into a fresh virtual environment beside PyPI's ``tokenizer`` package: it
holds one import name (vqct) with every module and config, neither package shadows the other, each
console script runs, and shipped configs are found by name from any folder."""

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests import ROOT

pytestmark = pytest.mark.slow  # a wheel build, a virtual environment, fresh interpreters

CODE_PACKAGES = ("vqct", "common", "tokenizer", "prior", "apps")
CONSOLE_SCRIPTS = (
    "vqct-language-codebook",
    "vqct-train-tokenizer",
    "vqct-train-prior",
    "vqct-sample",
    "vqct-evaluate",
    "vqct-demo",
    "vqct-convert",
    "vqct-rehearse",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a clean copy of the source (an in-place build would leave build/ in the checkout,
    and a stale build/lib could hide a file missing from the wheel)."""
    folder = tmp_path_factory.mktemp("wheel")
    ignored = shutil.ignore_patterns(".git", ".venv", "outputs", "build", "*.egg-info", "__pycache__", ".pytest_cache")
    shutil.copytree(ROOT, folder / "source", ignore=ignored)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    subprocess.run([*pip, "-w", str(folder), str(folder / "source")], check=True, capture_output=True)
    (built,) = folder.glob("vqct-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and PyPI's ``tokenizer`` in its own site-packages; the heavy
    dependencies (torch …) come from this interpreter's, listed after its own."""
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run([sys._base_executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    own = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    (Path(own) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", str(wheel), "tokenizer"], capture_output=True, text=True
    )
    if done.returncode and "tokenizer" in done.stderr and "No matching distribution" in done.stderr:
        pytest.skip("PyPI's tokenizer package cannot be downloaded here")
    assert done.returncode == 0, done.stderr[-2000:]
    return folder


def run(venv: Path, *command: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={"PATH": str(venv / "bin")})
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_the_wheel_holds_one_import_name_with_every_module_and_config(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    configs = {"vqct/configs/" + p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    assert len(configs) > 40 and not configs - names, sorted(configs - names)
    modules = {
        ("" if package == "vqct" else "vqct/") + p.relative_to(ROOT).as_posix()
        for package in CODE_PACKAGES
        for p in (ROOT / package).rglob("*.py")
    }
    assert not modules - names, f"packages missing from pyproject.toml: {sorted(modules - names)}"
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"vqct"}, tops  # nothing that could shadow another package


def test_installed_beside_pypis_tokenizer_neither_shadows_the_other(venv, tmp_path):
    program = (
        "import tokenizer, vqct.tokenizer; from vqct import VQCTTokenizer, VQCTPrior; "
        "print(tokenizer.__file__); print(vqct.tokenizer.__file__); print(VQCTPrior.__module__)"
    )
    theirs, ours, prior = run(venv, "python", "-c", program, cwd=tmp_path).stdout.split()
    site = str(next(venv.glob("lib/python*/site-packages")))
    assert theirs == f"{site}/tokenizer/__init__.py"  # PyPI's package, not ours
    assert ours == f"{site}/vqct/tokenizer/__init__.py"  # the wheel's, not the checkout's
    assert prior == "vqct.prior.pretrained"


def test_every_console_script_runs_from_any_folder(venv, tmp_path):
    """Each console script the wheel declares resolves to its command (all loaded in one
    interpreter: an import of torch is seconds), and one of pip's generated shims runs as a
    user types it."""
    program = (
        "import sys; from importlib.metadata import entry_points\n"
        "for script in entry_points(group='console_scripts'):\n"
        "    if script.name.startswith('vqct-'):\n"
        "        sys.argv = [script.name, '--help']\n"
        "        try:\n"
        "            script.load()()\n"
        "        except SystemExit as stop:\n"
        "            assert stop.code == 0, script.name\n"
    )
    printed = run(venv, "python", "-c", program, cwd=tmp_path).stdout
    for script in CONSOLE_SCRIPTS:
        assert f"usage: {script}" in printed, script
    assert "usage: vqct-sample" in run(venv, "vqct-sample", "--help", cwd=tmp_path).stdout


def test_shipped_configs_are_found_by_name_from_another_folder(venv, tmp_path):
    config = "configs/tokenizer/ablations/official_gcn.yaml"
    printed = run(venv, "vqct-train-tokenizer", "--config", config, "--print-config", cwd=tmp_path).stdout
    assert "output_dir: outputs/ablations/official_gcn\n" in printed and "  kind: cub\n" in printed
    program = "from vqct.common.shipped_configs import shipped_configs_folder; print(shipped_configs_folder())"
    where = run(venv, "python", "-c", program, cwd=tmp_path).stdout.strip()
    assert where == str(next(venv.glob("lib/python*/site-packages")) / "vqct" / "configs")
