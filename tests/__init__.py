"""Helpers the test packages share (fixtures live in ``conftest.py``)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def accelerate_command(stage: str, *arguments: str) -> list[str]:
    """``accelerate launch --quiet <stage>/train.py --config configs/<stage>/shapes.yaml …`` on one CPU
    process (``--quiet``: a failure is the script's own output, without the launcher's traceback)."""
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--quiet", "--num_processes", "1"]
    script = [str(ROOT / stage / "train.py"), "--config", str(ROOT / "configs" / stage / "shapes.yaml")]
    return [*launcher, "--num_machines", "1", "--dynamo_backend", "no", *script, *arguments]
