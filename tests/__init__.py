"""Helpers the test packages share (fixtures live in ``conftest.py``)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def accelerate_command(stage: str, *arguments: str) -> list[str]:
    """``accelerate launch <stage>/train.py --config configs/<stage>/shapes.yaml …`` on one CPU process."""
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1"]
    script = [str(ROOT / stage / "train.py"), "--config", str(ROOT / "configs" / stage / "shapes.yaml")]
    return [*launcher, "--dynamo_backend", "no", *script, *arguments]
