"""One run per output folder: the run holds ``output_dir/.run.lock`` from before it writes its
config until its final model is saved. The lock is the kernel's (``flock``) on that file, so it
ends with the process however the process ends: a lock file left by a killed run is stale and
taken over at once. The file holds the holder's PID and host, which a refused run names."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from pathlib import Path

from .config import ConfigError

log = logging.getLogger(__name__)
LOCK_FILE = ".run.lock"
# the open lock files of this process (a lock lasts as long as its file stays open)
_held: dict[Path, int] = {}


def hold_output_dir(output_dir: Path) -> None:
    """Take the lock of ``output_dir`` (created if need be) for this process, until
    ``release_output_dir`` or the process's end; a ``ConfigError`` naming the run that holds it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    path = (output_dir / LOCK_FILE).absolute()
    if path in _held:  # a run before in this process (tests run several in one)
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(descriptor, 4096).decode(errors="replace")
        os.close(descriptor)
        try:
            holder = json.loads(holder)
            holder = f"PID {holder['pid']} on {holder['host']}"
        except (ValueError, KeyError, TypeError):
            holder = "a process that has not written its PID yet"
        raise ConfigError(
            f"output_dir={output_dir} is in use by another run ({holder}; {path}); wait for it to end, or use "
            "another output_dir"
        ) from None
    previous = os.read(descriptor, 4096).decode(errors="replace").strip()
    if previous:
        log.warning("%s: a stale lock (%s): that run ended without releasing it; taken over", path, previous)
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode(), 0)
    _held[path] = descriptor


def release_output_dir(output_dir: Path) -> None:
    """End this process's lock of ``output_dir`` (the file stays: removing it could let a waiting
    run lock a file no one else sees)."""
    descriptor = _held.pop((output_dir / LOCK_FILE).absolute(), None)
    if descriptor is not None:
        os.ftruncate(descriptor, 0)
        os.close(descriptor)  # closing the file ends the lock
