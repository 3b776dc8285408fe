"""A saved model's ``config.json`` read against its typed schema, strictly: a saved model can come
from anyone (a folder handed over, a Hub repo), so nothing in it is coerced or ignored. An unknown
key, a value of the wrong JSON type (``"32"`` for an int) or a number out of its field's range is
one ``SavedConfigError`` naming the file and the key, raised before any module is built.

A schema is ``{key: type}``; a type is a JSON scalar type, ``X | None``, ``list[X]``,
``tuple[X, ...]``, ``dict`` (any JSON object, read by its own code), a config dataclass (its fields,
recursively; a missing field takes its default, so older saves load) or a class with its own
``SAVED_CONFIG`` schema (a model saved inside another)."""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache

from .config import ConfigError, check_values
from .errors import UserValueError


class SavedConfigError(UserValueError):
    """A saved model's config.json that does not fit the model's schema."""


JSON_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a JSON object"}


@cache
def _hints(kind: type) -> dict[str, object]:
    return typing.get_type_hints(kind)


def _check(value, kind, key: str):
    """``value`` as ``kind`` (lists become tuples where the type says tuple, objects become config
    dataclasses); ``SavedConfigError`` where it does not fit."""
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        choices = [argument for argument in arguments if argument is not type(None)]
        errors = []
        for choice in choices:
            try:
                return _check(value, choice, key)
            except SavedConfigError as error:
                errors.append(error)
        raise errors[0]
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise SavedConfigError(f"{key}: expected a list, got {_shown(value)}")
        item = arguments[0] if arguments else object
        items = [_check(element, item, f"{key}[{index}]") for index, element in enumerate(value)]
        if origin is tuple and arguments and arguments[-1] is not Ellipsis and len(items) != len(arguments):
            raise SavedConfigError(f"{key}: expected {len(arguments)} items, got {len(items)}")
        return tuple(items) if origin is tuple else items
    if hasattr(kind, "SAVED_CONFIG"):
        return check_saved_config(value, kind.SAVED_CONFIG, key + ".", getattr(kind, "RENAMED_SAVED_KEYS", {}))
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise SavedConfigError(f"{key}: expected a JSON object, got {_shown(value)}")
        fields = _hints(kind)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise SavedConfigError(f"{key}.{unknown[0]}: not a key of {kind.__name__}")
        try:
            return kind(**{name: _check(item, fields[name], f"{key}.{name}") for name, item in value.items()})
        except ConfigError as error:  # a dataclass that checks itself on construction
            raise SavedConfigError(f"{key}: {error}") from None
    if kind is object:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in JSON_NAMES and not (isinstance(value, kind) and (kind is bool or not isinstance(value, bool))):
        raise SavedConfigError(f"{key}: expected {JSON_NAMES[kind]}, got {_shown(value)}")
    return value


def _shown(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def check_saved_config(config, schema: dict[str, object], prefix: str = "", renamed: dict[str, str] | None = None):
    """``config`` (a JSON object) checked against ``schema``: keys renamed by ``renamed`` (old → new)
    are moved first; then every key must be the schema's, of its type, and every config dataclass
    in its fields' ranges. Returns the renamed dict, as saved otherwise (the model reads it)."""
    if not isinstance(config, dict):
        raise SavedConfigError(f"{prefix.rstrip('.') or 'config'}: expected a JSON object, got {_shown(config)}")
    config = dict(config)
    for old, new in (renamed or {}).items():
        if old in config and new not in config:
            config[new] = config.pop(old)
    unknown = sorted(set(config) - set(schema))
    if unknown:
        raise SavedConfigError(f"{prefix}{unknown[0]}: not a key this model saves (it saves {', '.join(schema)})")
    for key, value in config.items():
        checked = _check(value, schema[key], prefix + key)
        if dataclasses.is_dataclass(checked):
            try:
                check_values(checked, prefix=f"{prefix}{key}.")
            except ConfigError as error:
                raise SavedConfigError(str(error)) from None
    return config
