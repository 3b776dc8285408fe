"""``python -m benchmarks.suite --quick``: every row measured, the table and the JSON agree, and the
pass counts are the samplers' own (one transformer pass per image token for the autoregressive
prior, one per step for the masked one)."""

import argparse
import json

import pytest
import torch

from benchmarks.host_syncs import main as host_syncs_main
from benchmarks.host_syncs import sync_sites
from benchmarks.prior_step import main as prior_step_main
from benchmarks.prior_workload import prior_training_step
from benchmarks.suite import main


def test_the_quick_suite_measures_every_row(tmp_path, capsys):
    out = tmp_path / "suite.json"
    assert main(["--quick", "--steps", "1", "--channels-last", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {row["row"]: row for row in report["rows"]}
    assert report["settings"]["quick"] and report["settings"]["device"].startswith("CPU")
    assert all(row["value"] > 0 for row in rows.values())
    assert rows["tokenizer train step, VQCT"]["ratio_to_vqgan"] > 0
    assert 0 < rows["codebook transfer forward + backward"]["share_of_vqct_step"] < 1
    assert rows["tokenizer train step, VQCT, channels-last"]["speed_up"] > 0
    assert {name for name in rows if name.startswith("AR sampling")} == {
        f"AR sampling, batch {batch}, {cache}, guidance {guidance}"
        for batch in (1, 4)
        for cache in ("KV cache", "no cache")
        for guidance in ("1", "1.5")
    }
    masked = next(row for name, row in rows.items() if name.startswith("masked sampling"))
    assert masked["value"] == 12  # celebahq_masked's sampling.steps
    assert masked["ar_forward_passes"] == 2 * 4 * 4  # the quick 4×4 grid: 32 image tokens
    printed = capsys.readouterr().out
    assert printed.count("\n| ") == len(rows) + 1  # a header and one line a row


def test_host_syncs_steps_run_and_the_check_asks_for_cuda(capsys):
    """The steps ``benchmarks.host_syncs`` inspects run (here on CPU, quick sizes); finding syncs
    needs CUDA's sync debug mode, which the CPU path says instead of reporting none."""
    args = argparse.Namespace(quick=True, steps=1)
    step = prior_training_step(args, torch.device("cpu"), None, "celebahq_masked.yaml")[0]
    step()
    with pytest.raises(RuntimeError, match="CUDA only"):
        sync_sites(step, torch.device("cpu"))
    assert host_syncs_main(["--quick"]) == 0
    assert "no CUDA device" in capsys.readouterr().out


def test_the_quickstart_prior_step_is_timed_with_and_without_the_prefix(capsys):
    assert prior_step_main(["--steps", "1", "--warmup", "0"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    assert [(row[0], row[2]) for row in rows] == [
        ("| prefix + label embedding", "192"),
        ("| label embedding alone", "128"),
    ]
    assert all(float(row[3]) > 0 for row in rows)
