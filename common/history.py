"""A run's metrics history: output_dir/metrics.json, the validation entries so far and the last one."""

from __future__ import annotations

import json
from pathlib import Path

from accelerate import Accelerator

from .atomic import write_json


def record_validation(accelerator: Accelerator, output_dir: Path, history: list[dict], entry: dict) -> None:
    """``entry`` appended to the metrics history, and output_dir/metrics.json rewritten with it."""
    history.append(entry)
    if accelerator.is_main_process:
        write_json(Path(output_dir) / "metrics.json", {"final": entry, "history": history})


def read_history(output_dir: Path) -> list[dict]:
    path = output_dir / "metrics.json"
    return json.loads(path.read_text()).get("history", []) if path.is_file() else []


def latest_grid(output_dir: Path) -> Path | None:
    """The newest image grid under output_dir/samples (for the model card)."""
    grids = sorted((Path(output_dir) / "samples").glob("*.png"))
    return grids[-1] if grids else None
