"""Typed configs: a YAML file merged onto a dataclass, then dotted ``key=value`` overrides.

A YAML file may start from others: ``base: ../tokenizer/celebahq_vqct_f16.yaml`` (a path or a
list of paths, relative to the file) is merged first, so an ablation is a few lines.
OmegaConf structured configs do the merging and type checking; this module only turns their
errors into one line that names the file or override and the offending key.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .errors import UserError

T = TypeVar("T")
log = logging.getLogger(__name__)
# A schema may list keys it renamed, old → new (``RENAMED_KEYS: ClassVar[dict[str, str]]``): an old
# key in a YAML file or an override still works, moved to its new name with a notice.
RENAMED = "RENAMED_KEYS"


class ConfigError(UserError, ValueError):
    """A config file or override that does not fit its schema."""


def _describe(error: OmegaConfBaseException) -> str:
    key = getattr(error, "full_key", None)
    message = str(error).splitlines()[0]
    return f"key '{key}': {message}" if key else message


BASE_KEY = "base"


# Interpolations that read the process's environment: a config from anyone could copy a secret
# into output_dir and from there into a model card pushed to the Hub. Set this variable to 1 to
# allow them (``${other.key}`` interpolations are always allowed).
ALLOW_ENV_VARIABLE = "VQCT_CONFIG_ENV"
ENV_INTERPOLATION = re.compile(r"\$\{\s*(oc\.)?env\s*:")


def _refuse_env_interpolation(layer, source: str) -> None:
    """A ``ConfigError`` naming the first key of ``layer`` whose value reads the environment,
    unless ``VQCT_CONFIG_ENV=1``."""
    if os.environ.get(ALLOW_ENV_VARIABLE) == "1":
        return

    def walk(node, key: str) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, f"{key}.{name}" if key else str(name))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{key}[{index}]")
        elif isinstance(node, str) and ENV_INTERPOLATION.search(node):
            raise ConfigError(
                f"{source}: key '{key}': {node!r} reads an environment variable, which configs may not "
                f"(a value from the environment could end up in a model card); set {ALLOW_ENV_VARIABLE}=1 to allow it"
            )

    walk(OmegaConf.to_container(layer, resolve=False), "")


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


def _renamed(layer, renames: dict[str, str], source: str):
    """``layer`` with every renamed top-level key moved to its new name (merged into what the new
    name already holds), and a notice naming where the old one was."""
    for old, new in renames.items():
        if old in layer:
            log.warning("%s: config key '%s' is now '%s'; the old name still works for now", source, old, new)
            moved = layer.pop(old)
            layer[new] = OmegaConf.merge(layer[new], moved) if new in layer else moved
    return layer


def load_config(schema: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Return ``schema`` filled from the YAML at ``path`` and the ``key=value`` overrides."""
    merged = OmegaConf.structured(schema)
    layers = []
    if path is not None:
        layers += _load_yaml(Path(path))
    if overrides:
        layers.append(("command-line override", _parse_overrides(overrides)))
    renames = getattr(schema, RENAMED, {})
    for source, layer in layers:
        _refuse_env_interpolation(layer, source)
        layer = _renamed(layer, renames, source)
        try:
            merged = OmegaConf.merge(merged, layer)
        except OmegaConfBaseException as error:
            raise ConfigError(f"{source}: {_describe(error)}") from None
    try:
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ConfigError(f"{path or 'config'}: {_describe(error)}") from None
    check_values(config)
    return config


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a number may take: ``low``/``high`` bounds (None: unbounded), each closed unless open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'greater than' if self.low_open else 'at least'} {low}"
        return f"{'less than' if self.high_open else 'at most'} {high}"


def _number(bound: float | None) -> str:
    """A bound as a reader writes it: 16,777,216, not 1.67772e+07."""
    if bound is None:
        return ""
    return f"{bound:,}" if isinstance(bound, int) else f"{bound:g}"


def ranged(default: Any, low: float | None = None, high: float | None = None, **openness) -> Any:
    """A dataclass field whose value ``check_values`` keeps in ``Range(low, high, **openness)``."""
    return dataclasses.field(default=default, metadata={"range": Range(low, high, **openness)})


def chosen(default: str, choices: Sequence[str]) -> Any:
    """A dataclass field whose value ``check_values`` keeps among ``choices``."""
    return dataclasses.field(default=default, metadata={"choices": tuple(choices)})


def did_you_mean(value: object, choices: Sequence[str]) -> str:
    """``"; did you mean 'cosine'?"`` for a near miss of one of ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(value), [str(choice) for choice in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def field_rules(config_type: type, name: str) -> dict:
    """The ``range`` / ``choices`` of field ``name``, from the nearest class in ``config_type``'s
    MRO that gives any: a subclass that only changes a default (the prior's ``lr_warmup_steps:
    int = 100``) keeps the rule its base defines once."""
    for klass in config_type.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and field.metadata:
            return dict(field.metadata)
    return {}


def check_values(config, name: Callable[[str], str] = str, prefix: str = "") -> None:
    """Every number of ``config`` (a dataclass, recursively) finite and in its field's ``Range``,
    every choice key one of its choices: one ``ConfigError`` naming the first that is not (a near
    miss with "did you mean"). ``name(key)`` is how a key is shown (a command-line flag for the
    sampling options)."""
    for field in dataclasses.fields(config):
        value, key = getattr(config, field.name), prefix + field.name
        if dataclasses.is_dataclass(value):
            check_values(value, name, key + ".")
            continue
        rules = field_rules(type(config), field.name)
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"{name(key)}={item}: must be a finite number")
            allowed = rules.get("range")
            if allowed is not None and isinstance(item, int | float) and item not in allowed:
                raise ConfigError(f"{name(key)}={item}: must be {allowed}")
            choices = rules.get("choices")
            if choices is not None and item not in choices:
                raise ConfigError(
                    f"{name(key)}={item!r}: must be one of {', '.join(choices)}{did_you_mean(item, choices)}"
                )


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
