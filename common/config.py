"""Typed configs: a YAML file merged onto a dataclass, then dotted ``key=value`` overrides.

A YAML file may start from others: ``base: ../tokenizer/celebahq_vqct_f16.yaml`` (a path or a
list of paths, relative to the file) is merged first, so an ablation is a few lines.
OmegaConf structured configs do the merging and type checking; this module only turns their
errors into one line that names the file or override and the offending key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import UserError

T = TypeVar("T")


class ConfigError(UserError, ValueError):
    """A config file or override that does not fit its schema."""


def _describe(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None)
    message = str(error).splitlines()[0]
    return f"key '{key}': {message}" if key else message


BASE_KEY = "base"


def _load_yaml(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[str, object]]:
    """(source, YAML) layers of ``path``: its bases first (recursively), then the file itself."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}" + (f" (base of {seen[-1]})" if seen else ""))
    if path.resolve() in seen:
        raise ConfigError(f"{path}: its bases include itself")
    try:
        layer = OmegaConf.load(path) if path.stat().st_size else OmegaConf.create({})
    except (yaml.YAMLError, OmegaConfBaseException) as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    layers = []
    bases = layer.pop(BASE_KEY, None)
    for base in [bases] if isinstance(bases, str) else list(bases or []):
        layers += _load_yaml(path.parent / base, (*seen, path.resolve()))
    return layers + [(str(path), layer)]


def _parse_overrides(overrides: Sequence[str]):
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}' must look like key=value (dotted keys allowed)")
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except OmegaConfBaseException as error:
        raise ConfigError(f"overrides {list(overrides)}: {_describe(error)}") from None


def load_config(schema: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Return ``schema`` filled from the YAML at ``path`` and the ``key=value`` overrides."""
    merged = OmegaConf.structured(schema)
    layers = []
    if path is not None:
        layers += _load_yaml(Path(path))
    if overrides:
        layers.append(("command-line override", _parse_overrides(overrides)))
    for source, layer in layers:
        try:
            merged = OmegaConf.merge(merged, layer)
        except OmegaConfBaseException as error:
            raise ConfigError(f"{source}: {_describe(error)}") from None
    try:
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{path or 'config'}: {_describe(error)}") from None


def to_yaml(config) -> str:
    """The config as YAML, for logs, model cards and artifacts."""
    return OmegaConf.to_yaml(OmegaConf.structured(config))


def to_dict(config) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(config), resolve=True)


def dotted(config) -> dict:
    """Every leaf of ``config`` as ``{"dotted.key": value}`` (an empty section is one leaf)."""

    def walk(node: dict, prefix: str) -> dict:
        leaves = {}
        for key, value in node.items():
            if isinstance(value, dict) and value:
                leaves |= walk(value, f"{prefix}{key}.")
            else:
                leaves[f"{prefix}{key}"] = value
        return leaves

    return walk(to_dict(config), "")
