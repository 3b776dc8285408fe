"""Write a folder all at once: readers see the old one or the new one, never half of either."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch

from .errors import UserError


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it replaces ``target``.

    On an exception the temporary folder is removed and ``target`` is left as it was. The swap
    is two renames on the same file system, so an existing ``target`` is only ever replaced by
    a complete folder.
    """
    target = Path(target).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the result should read like any folder
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in(staging, target)


def swap_in(staging: Path, target: Path) -> None:
    """Move the complete folder ``staging`` to ``target``, replacing what was there, in two renames
    on one file system (``target`` is never half-written)."""
    retired = None
    if target.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rename(target, retired / target.name)
    os.rename(staging, target)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def remove_leftovers(parent: str | Path) -> None:
    """Delete the temporary folders a killed ``atomic_directory`` left in ``parent``."""
    parent = Path(parent)
    if parent.is_dir():
        for path in parent.glob(".*.tmp-*"):
            shutil.rmtree(path, ignore_errors=True)
        for path in parent.glob(".*.old-*"):
            shutil.rmtree(path, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    """``text`` at ``path``, replaced in one rename (a reader never sees half a file)."""
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_text(text)
    staging.replace(path)


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=1, default=float))


class DiskFullError(UserError, OSError):
    """A write that failed because its disk is full (the message says where and how much is needed)."""


def tensor_bytes(state) -> int:
    """The bytes of every tensor in ``state`` (a tensor, or dicts and lists of them, as state dicts hold)."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(tensor_bytes(value) for value in state.values())
    if isinstance(state, list | tuple):
        return sum(tensor_bytes(value) for value in state)
    return 0


def raise_if_disk_full(error: BaseException, target: Path, needed: int) -> None:
    """A ``DiskFullError`` for ``error`` when writing ``target`` failed for want of space: ENOSPC,
    or less free space than the ``needed`` bytes (torch's writer reports a full disk as a
    RuntimeError). Otherwise nothing: the caller re-raises."""
    folder = Path(target).absolute()
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if getattr(error, "errno", None) != errno.ENOSPC and free >= needed:
        return
    mount = folder
    while not os.path.ismount(mount):
        mount = mount.parent
    raise DiskFullError(
        f"no space left on {mount} to write {target} (needs ~{needed / 2**20:,.1f} MB, {free / 2**20:,.1f} MB free); "
        "free some space and run again (with resume_from_checkpoint=latest to go on from the last checkpoint)"
    ) from None
