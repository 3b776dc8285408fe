"""Train a VQCT tokenizer (or a baseline):

    accelerate launch tokenizer/train.py --config configs/tokenizer/shapes.yaml [key=value ...]

The recipe: language codebook → data → model, loss, optimizers → loop (generator step, then
discriminator step) → validation, grids, checkpoints → final model. Everything is written under
``output_dir``: checkpoints/checkpoint-<step> (rotated; resume with
resume_from_checkpoint=latest), logs/ (tensorboard), samples/ (reconstruction grids),
language_codebook/ (when built here), metrics.json, final/ (save_pretrained).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # run as a script: tokenizer/config.py, data.py… must not shadow top-level modules

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from vqct.common.accelerator import make_accelerator
from vqct.common.checkpoints import resume, save_checkpoint
from vqct.common.compile import compile_if_possible
from vqct.common.config import to_dict
from vqct.common.ema import EMA_FILE, EMA_NAME, WeightAverage, averaged
from vqct.common.errors import exit_code
from vqct.common.fid import FIDUnavailableError, frechet_distance, inception_weights_path
from vqct.common.final import finish
from vqct.common.grid import save_labelled_grid
from vqct.common.history import record_validation
from vqct.common.hub import load_pretrained
from vqct.common.loop import due, loader_options, resumable_batches, spread_sample
from vqct.common.metrics import pixel_metrics
from vqct.common.run_config import read_run_config
from vqct.common.trackers import log_grid
from vqct.tokenizer.config import TokenizerTrainConfig, scaled_learning_rate
from vqct.tokenizer.data import build_dataset
from vqct.tokenizer.geometry import codebook_geometry
from vqct.tokenizer.language import LanguageCodebook, build_language_codebook
from vqct.tokenizer.losses import VQGANLoss, load_perceptual
from vqct.tokenizer.model import LANGUAGE_KINDS, VQCTTokenizer
from vqct.tokenizer.usage import CodeHistogram

log = logging.getLogger("vqct.tokenizer.train")


def load_language_codebook(
    config: TokenizerTrainConfig, accelerator: Accelerator, output_dir: Path
) -> LanguageCodebook | None:
    if config.model.quantizer.kind not in LANGUAGE_KINDS:
        return None
    folder = Path(config.language_codebook) if config.language_codebook else output_dir / "language_codebook"
    with accelerator.main_process_first():
        if not config.language_codebook and not folder.is_dir() and accelerator.is_main_process:
            log.info("building the language codebook into %s", folder)
            build_language_codebook(config.language).save(folder)
        return LanguageCodebook.load(folder)


@torch.no_grad()
def validate(model, loader, accelerator, step: int, output_dir: Path, with_fid: bool) -> dict[str, float]:
    """PSNR, SSIM, l1, l2, code usage and the codebooks' geometry over ``loader``, plus a grid;
    with ``with_fid`` also FID of reconstructions against originals."""
    model.eval()
    bare = accelerator.unwrap_model(model)
    histogram = CodeHistogram(bare.codebook_sizes, accelerator.device)
    measured, originals, reconstructed = defaultdict(list), [], []
    for i, batch in enumerate(loader):
        images = batch["image"]
        reconstructions, quantized = model(images)
        for name, values in pixel_metrics(images, reconstructions).items():
            measured[name].append(accelerator.gather_for_metrics(values))
        histogram.update(accelerator.gather_for_metrics(quantized.indices))
        if with_fid:
            originals.append(accelerator.gather_for_metrics(images).cpu())
            reconstructed.append(accelerator.gather_for_metrics(reconstructions.clamp(-1, 1)).cpu())
        if i == 0 and accelerator.is_main_process:
            path = output_dir / "samples" / f"reconstructions-{step:07d}.png"
            save_labelled_grid([("real", images), ("reconstruction", reconstructions)], path)
            log_grid(accelerator, path, step, "reconstructions")
    model.train()
    metrics = {f"val/{name}": float(torch.cat(values).mean()) for name, values in measured.items()}
    metrics |= {f"val/{key}": value for key, value in histogram.metrics(bare.group_names).items()}
    metrics |= {
        f"val/{key}": value for key, value in codebook_geometry(bare.group_codebooks(), bare.group_names).items()
    }
    if with_fid and accelerator.is_main_process:
        metrics["val/fid"] = frechet_distance(torch.cat(originals), torch.cat(reconstructed), device=accelerator.device)
    return metrics


def fid_available(config: TokenizerTrainConfig) -> bool:
    if config.fid_steps <= 0:
        return False
    try:
        inception_weights_path()
    except FIDUnavailableError as error:
        log.warning("FID during training is off: %s", error)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    return exit_code(lambda: train(argv))


def train(argv: list[str] | None = None) -> int:
    config = read_run_config(TokenizerTrainConfig, argv, __doc__, "tokenizer")
    output_dir = Path(config.output_dir)
    perceptual = load_perceptual(config.loss)  # a paper run without its LPIPS weights stops here, before any file
    accelerator = make_accelerator(config)

    # data
    train_set = build_dataset(config.data)
    validation_set = build_dataset(config.data.evaluation_view())
    # not persistent: the crops and flips follow the data set's epoch, which workers kept alive would miss
    loading = loader_options(config, accelerator)
    train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, drop_last=True, **loading)
    # metrics on a fixed sample spread over the split; FID over all of it
    validation_loader = DataLoader(
        spread_sample(validation_set, config.validation_batches * config.batch_size),
        batch_size=config.batch_size,
        **loading,
    )
    fid_loader = DataLoader(validation_set, batch_size=config.batch_size, **loading)

    # model, loss, optimizers
    if config.init_from:
        model = load_pretrained(VQCTTokenizer, config.init_from, "init_from")
        if to_dict(model.config) != to_dict(config.model):
            log.warning(
                "init_from=%s: its own architecture is used; the config's model section is not", config.init_from
            )
        config.model = model.config  # the final model card says what was trained
    else:
        language_codebook = load_language_codebook(config, accelerator, output_dir)
        model = VQCTTokenizer.build(config.model, language_codebook, seed=config.seed)
    model.record_training(perceptual_loss=perceptual.record)
    loss_fn = VQGANLoss(config.loss, perceptual)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    loss_fn.discriminator.to(memory_format=memory_format)
    if config.compile:
        compile_if_possible(model, accelerator.device, log)
    lr = scaled_learning_rate(config, accelerator.num_processes)
    betas = (config.adam_beta1, config.adam_beta2)
    fused = accelerator.device.type == "cuda"  # one kernel for the whole update instead of one per op
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, betas=betas, fused=fused)
    disc_optimizer = torch.optim.Adam(loss_fn.discriminator.parameters(), lr=lr, betas=betas, fused=fused)
    from diffusers.optimization import get_scheduler  # diffusers takes seconds to import: not for --help

    scheduler, disc_scheduler = (
        get_scheduler(
            config.lr_scheduler,
            optimizer=opt,
            num_warmup_steps=config.lr_warmup_steps * accelerator.num_processes,
            num_training_steps=config.max_steps * accelerator.num_processes,
        )
        for opt in (optimizer, disc_optimizer)
    )
    loss_fn.to(accelerator.device)
    (
        model,
        discriminator,
        optimizer,
        disc_optimizer,
        train_loader,
        validation_loader,
        fid_loader,
        scheduler,
        disc_scheduler,
    ) = accelerator.prepare(
        model,
        loss_fn.discriminator,
        optimizer,
        disc_optimizer,
        train_loader,
        validation_loader,
        fid_loader,
        scheduler,
        disc_scheduler,
    )
    bare_model = accelerator.unwrap_model(model)
    names = bare_model.group_names

    # the EMA of the weights (use_ema): validation, grids and the final model use it; checkpoints keep it
    ema = WeightAverage(bare_model, config.ema_decay, accelerator.device) if config.use_ema else None
    load_extra = None if ema is None else (lambda folder: ema.load(folder / EMA_FILE, accelerator.device))
    step, history = resume(accelerator, config, "tokenizer", log, load_extra)
    if accelerator.is_main_process:
        log.info(
            "model: %s quantizer, %.2f M parameters, codebooks %s, lr %.3g",
            bare_model.config.quantizer.kind,
            sum(p.numel() for p in bare_model.parameters()) / 1e6,
            bare_model.codebook_sizes,
            lr,
        )

    # loop
    use_fid = fid_available(config)
    progress = tqdm(total=config.max_steps, initial=step, desc="training", disable=not accelerator.is_main_process)
    started = time.perf_counter()
    # the data set's crops and flips follow the epoch too (accelerate forwards only the sampler's)
    batches = resumable_batches(
        accelerator,
        train_loader,
        start_step=step,
        max_steps=config.max_steps,
        accumulation=config.gradient_accumulation_steps,
        on_epoch=train_set.set_epoch,
    )
    for batch in batches:
        images = batch["image"].contiguous(memory_format=memory_format)
        bare_model.quantizer.set_step(step)
        with accelerator.accumulate(model, discriminator):
            reconstructions, quantized = model(images)
            g_loss, logs = loss_fn.generator_loss(
                images, reconstructions, quantized.loss, bare_model.decoder.last_layer, step
            )
            accelerator.backward(g_loss)
            if accelerator.sync_gradients and config.max_grad_norm > 0:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if loss_fn.gan_active(step):
                d_loss, d_logs = loss_fn.discriminator_loss(images, reconstructions, discriminator)
                accelerator.backward(d_loss)
                disc_optimizer.step()
                disc_scheduler.step()
                disc_optimizer.zero_grad(set_to_none=True)
                logs |= d_logs
        if not accelerator.sync_gradients:
            continue
        step += 1
        progress.update(1)
        if ema is not None:
            ema.step()
        if due(step, config.log_steps, config.max_steps):
            histogram = CodeHistogram(bare_model.codebook_sizes, accelerator.device)
            histogram.update(quantized.indices)
            usage = histogram.metrics(names)
            scalars = {k: float(v) for k, v in logs.items()} | usage | {"lr": scheduler.get_last_lr()[0]}
            accelerator.log(scalars, step=step)
            progress.set_postfix(
                loss=f"{scalars['loss/generator']:.4f}",
                usage="/".join(f"{usage[f'usage/{n}_percent']:.0f}%" for n in names),
            )
        if due(step, config.validation_steps, config.max_steps):
            with_fid = use_fid and due(step, config.fid_steps, config.max_steps)
            with averaged(ema):
                metrics = validate(
                    model, fid_loader if with_fid else validation_loader, accelerator, step, output_dir, with_fid
                )
            accelerator.log(metrics, step=step)
            entry = {"step": step, "seconds": round(time.perf_counter() - started, 1), **metrics}
            record_validation(accelerator, output_dir, history, entry)
            if accelerator.is_main_process:
                log.info("step %d: %s", step, ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        if due(step, config.checkpointing_steps, config.max_steps):
            save_checkpoint(
                accelerator,
                output_dir,
                step,
                config.checkpoints_total_limit,
                {EMA_NAME: ema.tensors()} if ema is not None else None,
                keep_every=config.checkpoints_keep_every,
            )
        if step >= config.max_steps:
            break
    progress.close()

    if ema is not None:  # the final model: the EMA weights
        ema.copy_to_module()
    finish(accelerator, bare_model, config, log, kind="tokenizer", history=history)
    return 0


if __name__ == "__main__":
    sys.exit(main())
