"""Helpers the test packages share (fixtures live in ``conftest.py``)."""

import importlib
import io
import logging
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
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
        # port 0: the launcher picks a free one, so two such runs in parallel test workers don't collide
        launcher += ["--main_process_port", "0"]
    script = [str(ROOT / stage / "train.py"), "--config", str(ROOT / "configs" / stage / f"{config}.yaml")]
    return [*launcher, "--num_machines", "1", "--dynamo_backend", "no", *script, *arguments]


@dataclass
class Finished:
    """What a script run left: as ``subprocess.run``'s result, for tests that read either."""

    returncode: int
    stdout: str
    stderr: str


def train_in_process(stage: str, *arguments: str, config: str = "shapes") -> Finished:
    """``<stage>/train.py``'s ``main(argv)`` in this process: what a one-process ``accelerate launch``
    runs, without a fresh interpreter and its imports (seconds a run). Tests of what a config does
    use it; tests of the launcher itself (the smoke test per script, SIGKILL, two processes) launch.
    The script's log lines and output are captured as a launch's would be."""
    from accelerate.state import AcceleratorState

    main = importlib.import_module(f"vqct.{stage}.train").main
    argv = ["--config", str(ROOT / "configs" / stage / f"{config}.yaml"), *arguments]
    stdout, stderr = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(stderr)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # the scripts' basicConfig level; pytest's handler makes theirs a no-op
    AcceleratorState._reset_state(reset_partial_state=True)  # as a fresh launch finds it
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                code = main(argv)
            except SystemExit as exit:  # argparse's --help and usage errors
                code = exit.code if isinstance(exit.code, int) else 1
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        AcceleratorState._reset_state(reset_partial_state=True)  # nothing of this run leaks into the next test
    return Finished(code or 0, stdout.getvalue(), stderr.getvalue())
