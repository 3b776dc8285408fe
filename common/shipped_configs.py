"""The YAML configs the toolkit ships, and finding a ``--config`` argument among them.

The repository's top-level ``configs/`` folder is installed as the package ``vqct.configs``
(pyproject.toml maps one to the other), so ``--config configs/tokenizer/shapes.yaml`` works from
any folder once vqct is installed, not only from a checkout's root. A file at the path given
wins, so a user's own copy of a config, edited or not, is the one they get.
"""

from __future__ import annotations

import difflib
import importlib.resources
from pathlib import Path

from .config import ConfigError

PACKAGE = "vqct.configs"  # configs/ as installed (pyproject.toml: package-dir)
FOLDER = "configs"  # its name in the repository, and the prefix the README names configs by


def shipped_configs_folder() -> Path:
    """The folder of shipped configs: a source checkout's own ``configs/``, else the installed package's."""
    # A checkout (an editable install, or PYTHONPATH) reads the configs beside its own code: several
    # worktrees share one virtualenv, whose editable install maps vqct.configs to only one of them.
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / FOLDER / "__init__.py").is_file():
        return checkout / FOLDER
    try:
        folder = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:
        raise ConfigError(f"the shipped configs (package {PACKAGE}) are not installed: reinstall vqct") from None
    if not isinstance(folder, Path):
        # `base:` chains are read as files beside each other; pip installs a wheel as plain files
        raise ConfigError(f"the shipped configs are not plain files here ({folder}): install vqct with pip")
    return folder


def shipped_config_names(stage: str) -> list[str]:
    """Every shipped config of ``stage`` (``tokenizer``, ``prior``, ``language_codebook``) as ``configs/<stage>/…``."""
    folder = shipped_configs_folder()
    return sorted(f"{FOLDER}/{path.relative_to(folder).as_posix()}" for path in (folder / stage).rglob("*.yaml"))


def shipped_config(name: str) -> Path:
    """The shipped config ``name`` (``tokenizer/shapes.yaml``), wherever vqct is installed."""
    path = shipped_configs_folder() / name
    if not path.is_file():
        stage = Path(name).parts[0]
        raise ConfigError(
            f"no shipped config {name}; shipped {stage} configs: {', '.join(shipped_config_names(stage))}"
        )
    return path


def find_config(argument: str | Path, stage: str) -> Path:
    """The YAML file a config argument of a ``stage`` command names: the file at that path if there
    is one (relative to the working folder); else the shipped ``stage`` config it names, written
    ``configs/<stage>/NAME.yaml``, ``<stage>/NAME.yaml``, ``NAME.yaml`` or ``NAME`` (NAME may hold
    folders: ``ablations/official_gcn``; a bare name is also looked for in the stage's subfolders,
    ``official_gcn``, and two configs of that name are an error naming both). A name found nowhere
    is one error listing the nearest shipped names."""
    path = Path(argument)
    if path.is_file():
        return path
    tried = [str(path)]
    if not path.is_absolute():
        name = path.parts
        for prefix in (FOLDER, stage):  # each optional, in this order
            name = name[1:] if name[:1] == (prefix,) else name
        folder = shipped_configs_folder() / stage
        relative = Path(*name) if name else Path()
        if name and relative.suffix != ".yaml":
            relative = relative.with_name(relative.name + ".yaml")
        if name and (folder / relative).is_file():
            return folder / relative
        tried.append(str(folder / relative))
        if len(name) == 1:
            same_name = sorted(folder.rglob(relative.name))
            if len(same_name) == 1:
                return same_name[0]
            if same_name:
                names = ", ".join(f"{FOLDER}/{stage}/{match.relative_to(folder).as_posix()}" for match in same_name)
                raise ConfigError(
                    f"config {argument}: {len(same_name)} shipped {stage} configs have that name ({names}); name one"
                )
    shipped = shipped_config_names(stage)
    short = {name.removeprefix(f"{FOLDER}/{stage}/").removesuffix(".yaml"): name for name in shipped}
    wanted = Path(argument).as_posix().removeprefix(f"{FOLDER}/").removeprefix(f"{stage}/").removesuffix(".yaml")
    # compared with each name as written and with its file name alone (baselines/cub_vqgan: cub_vqgan)
    pool = {key.split("/")[-1]: key for key in short} | {key: key for key in short}
    matches = difflib.get_close_matches(wanted, list(pool), n=8, cutoff=0.5)
    nearest = list(dict.fromkeys(pool[match] for match in matches))[:4]
    hint = (
        f"nearest shipped {stage} configs: {', '.join(short[key] for key in nearest)}"
        if nearest
        else f"{len(shipped)} {stage} configs are shipped under {FOLDER}/{stage}/ (docs/configs.md lists them)"
    )
    raise ConfigError(f"config {argument}: no such file (tried {', '.join(tried)}); {hint}")
