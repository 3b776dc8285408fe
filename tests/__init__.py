"""Helpers the test packages share (fixtures live in ``conftest.py``)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def accelerate_command(stage: str, *arguments: str, processes: int = 1, config: str = "shapes") -> list[str]:
    """``accelerate launch --quiet <stage>/train.py --config configs/<stage>/<config>.yaml …`` on
    ``processes`` CPU processes (gloo when more than one; ``--quiet``: a failure is the script's own
    output, without the launcher's traceback)."""
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--quiet", "--num_processes", str(processes)]
    if processes > 1:
        # `--cpu --num_processes 2` starts one process (accelerate 1.15); CPU processes that form a
        # group come from the distributed launcher told to use the CPU.
        launcher = ["env", "ACCELERATE_USE_CPU=true", *launcher, "--multi_gpu", "--num_cpu_threads_per_process", "1"]
    script = [str(ROOT / stage / "train.py"), "--config", str(ROOT / "configs" / stage / f"{config}.yaml")]
    return [*launcher, "--num_machines", "1", "--dynamo_backend", "no", *script, *arguments]
