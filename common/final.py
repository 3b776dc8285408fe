"""The end of a run: every process checked to hold the same weights, the final model saved with
its model card (atomically) and, if asked, pushed to the Hub."""

from __future__ import annotations

from pathlib import Path

import torch
from accelerate import Accelerator
from huggingface_hub import HfApi
from safetensors import SafetensorError

from .atomic import atomic_directory, raise_if_disk_full, tensor_bytes
from .config import to_dict
from .history import latest_grid
from .run_config import RunConfig
from .run_lock import release_output_dir


def save_final(model, config: RunConfig, log, *, kind: str, metrics: dict | None, grid: Path | None) -> Path:
    """``save_pretrained`` into output_dir/final, atomically, with the model card its record makes
    (``common.card``: the run's config, the last validation's ``metrics``, ``grid`` as samples.png);
    then, with ``push_to_hub``, that folder uploaded to ``hub_model_id`` as it is. ``kind``
    (tokenizer or prior) names the model in the log. Call on the main process only."""
    final = Path(config.output_dir) / "final"
    model.record_card(repo_id=config.hub_model_id, run_config=to_dict(config), validation=metrics)
    model.sample_grid = grid
    try:
        with atomic_directory(final) as staging:
            model.eval().save_pretrained(staging)
    except (OSError, RuntimeError, SafetensorError) as error:
        raise_if_disk_full(error, final, tensor_bytes(model.state_dict()))
        raise
    log.info("wrote %s (the %s, its config and model card)", final, kind)
    if config.push_to_hub:
        api = HfApi()
        url = api.create_repo(config.hub_model_id, private=config.hub_private, exist_ok=True)
        api.upload_folder(
            repo_id=config.hub_model_id, folder_path=str(final), commit_message="Upload from the VQCT toolkit"
        )
        log.info("pushed %s to %s", final, url)
    return final


def weight_fingerprint(model: torch.nn.Module) -> tuple[list[str], torch.Tensor]:
    """Names and [T, 2] float64 (sum, sum of squares) of every tensor of ``model``'s state."""
    state = model.state_dict()
    values = [t.detach().double() for t in state.values()]
    return list(state), torch.stack([torch.stack([t.sum(), t.square().sum()]) for t in values])


def disagreeing_tensors(names: list[str], fingerprints: torch.Tensor) -> list[str]:
    """The tensors whose fingerprint differs between processes (``fingerprints``: [P, T, 2])."""
    differs = (fingerprints != fingerprints[:1]).any(-1).any(0)
    return [name for name, differ in zip(names, differs.tolist(), strict=True) if differ]


def check_ranks_agree(accelerator: Accelerator, model: torch.nn.Module, log) -> None:
    """Every process must end with the same weights (DDP keeps them in step; a rank that did not,
    e.g. a layer updated outside the synchronised backward, would mean the saved model is only
    rank 0's). Exact comparison of per-tensor fingerprints, gathered from every process."""
    if accelerator.num_processes == 1:
        return
    names, fingerprint = weight_fingerprint(model)
    gathered = accelerator.gather(fingerprint.to(accelerator.device)[None]).cpu()
    differing = disagreeing_tensors(names, gathered)
    if differing:
        raise RuntimeError(
            f"the {accelerator.num_processes} processes ended with different weights in {len(differing)} "
            f"tensors ({', '.join(differing[:5])}): a bug in distributed training, please report it"
        )
    if accelerator.is_main_process:
        log.info("all %d processes hold the same final weights (%d tensors compared)", len(gathered), len(names))


def finish(accelerator: Accelerator, model, config: RunConfig, log, *, kind: str, history: list[dict]) -> Path:
    """After the loop: once every process is done and they are checked to hold the same weights,
    the final model saved by the main one (``save_final``, with the last validation's metrics and
    grid) and the folder's lock released; the trackers closed."""
    accelerator.wait_for_everyone()
    check_ranks_agree(accelerator, model, log)
    final = Path(config.output_dir) / "final"
    if accelerator.is_main_process:
        metrics = history[-1] if history else None
        save_final(model, config, log, kind=kind, metrics=metrics, grid=latest_grid(Path(config.output_dir)))
        release_output_dir(Path(config.output_dir))
    accelerator.end_training()
    return final
