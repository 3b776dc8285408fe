"""Train a stage-two prior over a trained tokenizer's codes:

    accelerate launch prior/train.py --config configs/prior/shapes.yaml tokenizer=DIR_OR_HUB_ID [key=value ...]

The recipe: tokenizer → token cache (built into output_dir/tokens unless ``tokens`` names one) →
prior, AdamW, diffusers' warm-up/decay schedule and EMA → loop → validation loss and sample
grids → final model. Everything is written under ``output_dir``: checkpoints/checkpoint-<step>
(rotated; resume with resume_from_checkpoint=latest), logs/ (tensorboard), samples/
(samples-<step>.png: label maps, samples, the tokenizer's reconstructions of the real images),
metrics.json, final/ (``VQCTPrior.save_pretrained``: the prior with its tokenizer inside).
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # run as a script: prior/config.py… must not shadow top-level modules

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from vqct.common.accelerator import make_accelerator
from vqct.common.checkpoints import resume, save_checkpoint
from vqct.common.compile import compile_if_possible
from vqct.common.config import ConfigError, to_dict
from vqct.common.ema import EMA_FILE, EMA_NAME, WeightAverage, averaged
from vqct.common.errors import exit_code
from vqct.common.final import finish
from vqct.common.grid import save_labelled_grid
from vqct.common.history import record_validation
from vqct.common.hub import load_pretrained
from vqct.common.labels import colourize
from vqct.common.loop import due, loader_options, resumable_batches, spread_sample
from vqct.common.run_config import read_run_config
from vqct.common.trackers import log_grid
from vqct.prior import PriorTrainConfig, VQCTPrior
from vqct.prior.tokens import TokenDataset, cache_tokens, check_cache_tokenizer
from vqct.tokenizer import VQCTTokenizer

log = logging.getLogger("vqct.prior.train")


def token_folder(config: PriorTrainConfig, tokenizer: VQCTTokenizer, accelerator: Accelerator) -> Path:
    """The token cache to train on: ``tokens``, or ``data`` encoded into output_dir/tokens."""
    if config.tokens:
        return Path(config.tokens)
    folder = Path(config.output_dir) / "tokens"
    with accelerator.main_process_first():
        if accelerator.is_main_process:
            log.info("encoding the data set into %s", folder)
            cache_tokens(
                tokenizer,
                config.tokenizer,
                config.data,
                folder,
                label_detail=config.model.label_detail,
                device=accelerator.device,
            )
    return folder


def check_condition(config: PriorTrainConfig, data: TokenDataset, folder: Path) -> None:
    kind = config.model.condition
    if kind == "class":
        raise ConfigError("model.condition=class: no token cache carries class labels yet; use semantic or none")
    if kind == "semantic":
        if data.labels is None:
            raise ConfigError(
                f"model.condition=semantic needs label maps, and the token cache {folder} has none (data.kind={config.data.kind})"
            )
        detail = data.labels.shape[-1] // data.codes.shape[-1]
        if detail != config.model.label_detail:
            raise ConfigError(
                f"model.label_detail={config.model.label_detail} but the token cache {folder} holds maps at "
                f"{detail} sub-cells per cell side; encode one with python -m vqct.prior.tokens … "
                f"--label-detail {config.model.label_detail}, or set tokens=null"
            )
        largest = int(data.labels.max())
        if largest >= config.model.num_classes:
            raise ConfigError(
                f"model.num_classes={config.model.num_classes} but the label maps in {folder} hold class {largest}"
            )


def condition_of(model: VQCTPrior, batch: dict) -> torch.Tensor | None:
    return batch["label"] if model.prior_config.condition == "semantic" else None


@torch.no_grad()
def validate(model: VQCTPrior, prior, loader, accelerator: Accelerator, config: PriorTrainConfig) -> float:
    """Mean loss over the validation sample (the masked prior's masks from a fixed seed)."""
    prior.eval()
    generator = torch.Generator(accelerator.device).manual_seed(config.seed)
    losses = []
    for batch in loader:
        loss = prior(batch["codes"], condition_of(model, batch), generator=generator)
        losses.append(accelerator.gather_for_metrics(loss.detach()[None]))
    prior.train()
    return float(torch.cat(losses).mean())


@torch.no_grad()
def sample_grid(model: VQCTPrior, examples: dict, config: PriorTrainConfig, path: Path) -> None:
    """Rows: label maps (semantic priors), samples, reconstructions of the real codes."""
    model.eval()
    generator = torch.Generator(model.device).manual_seed(config.seed)
    condition = condition_of(model, examples)
    num = len(examples["codes"])
    _, samples = model.generate(condition, num=num, sampling=config.sampling, generator=generator)
    rows = [("sample", samples), ("reconstruction", model.decode(examples["codes"]))]
    if condition is not None:
        # the cached maps are at the token grid (or label_detail sub-cells): each cell a block of pixels
        maps = colourize(condition, model.num_classes).to(samples.device)
        rows.insert(0, ("map", F.interpolate(maps, size=samples.shape[-2:], mode="nearest")))
    save_labelled_grid(rows, path)
    model.prior.train()


def main(argv: list[str] | None = None) -> int:
    return exit_code(lambda: train(argv))


def train(argv: list[str] | None = None) -> int:
    config = read_run_config(PriorTrainConfig, argv, __doc__, "prior")
    if not config.tokenizer:
        raise ConfigError(
            "tokenizer is not set: pass tokenizer=<save_pretrained folder or Hub id> (e.g. outputs/quickstart/tokenizer/final)"
        )
    config.sampling.options(config.model.kind)  # a wrong sampling option fails now, not at the first grid
    output_dir = Path(config.output_dir)
    tokenizer = None
    if config.tokens:  # a cache another tokenizer encoded is refused before any file is written
        tokenizer = load_pretrained(VQCTTokenizer, config.tokenizer, "tokenizer")
        check_cache_tokenizer(Path(config.tokens), tokenizer, config.tokenizer)
    accelerator = make_accelerator(config)

    # tokens
    tokenizer = tokenizer or load_pretrained(VQCTTokenizer, config.tokenizer, "tokenizer")
    folder = token_folder(config, tokenizer, accelerator)
    # loading the tokenizer and encoding the cache draw from the global RNG: seed again, so the prior
    # (its initial weights, its dropout) is the same whether the cache was encoded here or given
    set_seed(config.seed)
    train_set, validation_set = TokenDataset(folder / "train"), TokenDataset(folder / "validation")
    check_condition(config, train_set, folder)
    token_grid = tuple(train_set.codes.shape[-2:])
    # the loader's own generator: starting an epoch (or a resumed one) must not draw from the global
    # RNG, which the dropout masks come from, or a resumed run would drift from an uninterrupted one
    train_loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(config.seed),
        **loader_options(config, accelerator, persistent=True),  # cached codes: the same every epoch
    )
    validation_loader = DataLoader(
        spread_sample(validation_set, config.validation_batches * config.batch_size),
        batch_size=config.batch_size,
        **loader_options(config, accelerator),
    )
    examples = validation_set[: config.num_samples]

    # model, optimizer, schedule, EMA
    model = VQCTPrior.build(
        config.model,
        tokenizer,
        token_grid=token_grid,
        tokenizer_source=config.tokenizer,
        data=to_dict(config.data),
        sampling=config.sampling,
    )
    if config.init_from:
        start = load_pretrained(VQCTPrior, config.init_from, "init_from")
        try:
            model.prior.load_state_dict(start.prior.state_dict())
        except RuntimeError as error:
            lines = str(error).splitlines()  # torch's first line only says which module failed
            first = lines[1].strip() if len(lines) > 1 else lines[0]
            raise ConfigError(
                f"init_from={config.init_from}: its prior does not fit this config's model section ({first})"
            ) from None
    optimizer = torch.optim.AdamW(
        model.prior.parameters(),
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        weight_decay=config.weight_decay,
        fused=accelerator.device.type == "cuda",  # one kernel for the whole update instead of one per op
    )
    from diffusers.optimization import get_scheduler  # diffusers takes seconds to import: not for --help

    scheduler = get_scheduler(
        config.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=config.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=config.max_steps * accelerator.num_processes,
    )
    model.tokenizer.to(accelerator.device)
    if config.compile:  # the prior's forward, the training loss; sampling stays eager
        compile_if_possible(model.prior, accelerator.device, log)
    prior, optimizer, train_loader, validation_loader, scheduler = accelerator.prepare(
        model.prior, optimizer, train_loader, validation_loader, scheduler
    )
    ema = WeightAverage(model.prior, config.ema_decay, accelerator.device) if config.use_ema else None
    load_extra = None if ema is None else (lambda folder: ema.load(folder / EMA_FILE, accelerator.device))
    step, history = resume(accelerator, config, "prior", log, load_extra)
    if accelerator.is_main_process:
        log.info(
            "prior: %s, condition %s, %.2f M parameters, token grid %s, vocabulary %d, %d training sequences",
            config.model.kind,
            config.model.condition,
            sum(p.numel() for p in model.prior.parameters()) / 1e6,
            token_grid,
            model.vocabulary.vocab_size,
            len(train_set),
        )

    # loop
    progress = tqdm(
        total=config.max_steps, initial=step, desc="training prior", disable=not accelerator.is_main_process
    )
    started = time.perf_counter()
    batches = resumable_batches(
        accelerator,
        train_loader,
        start_step=step,
        max_steps=config.max_steps,
        accumulation=config.gradient_accumulation_steps,
    )
    for batch in batches:
        with accelerator.accumulate(prior):
            loss = prior(batch["codes"], condition_of(model, batch))
            accelerator.backward(loss)
            loss = loss.detach()
            if accelerator.sync_gradients and config.max_grad_norm > 0:
                accelerator.clip_grad_norm_(prior.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            continue
        step += 1
        progress.update(1)
        if ema is not None:
            ema.step()
        if due(step, config.log_steps, config.max_steps):
            scalars = {"loss/train": float(loss), "lr": scheduler.get_last_lr()[0]}
            accelerator.log(scalars, step=step)
            progress.set_postfix(loss=f"{scalars['loss/train']:.4f}")
        if due(step, config.validation_steps, config.max_steps):
            with averaged(ema):
                metrics = {"val/loss": validate(model, prior, validation_loader, accelerator, config)}
            accelerator.log(metrics, step=step)
            if accelerator.is_main_process:  # the grid first: the model card takes the newest
                grid_file = output_dir / "samples" / f"samples-{step:07d}.png"
                with averaged(ema):
                    sample_grid(model, examples, config, grid_file)
                log_grid(accelerator, grid_file, step)
            entry = {"step": step, "seconds": round(time.perf_counter() - started, 1), "train/loss": float(loss)}
            record_validation(accelerator, output_dir, history, entry | metrics)
            if accelerator.is_main_process:
                log.info("step %d: val/loss %.4f", step, metrics["val/loss"])
        if due(step, config.checkpointing_steps, config.max_steps):
            extra = {EMA_NAME: ema.tensors()} if ema is not None else None
            save_checkpoint(
                accelerator,
                output_dir,
                step,
                config.checkpoints_total_limit,
                extra,
                keep_every=config.checkpoints_keep_every,
            )
        if step >= config.max_steps:
            break
    progress.close()

    # final model: the EMA weights
    if ema is not None:
        ema.copy_to_module()
    finish(accelerator, model, config, log, kind="prior", history=history)
    return 0


if __name__ == "__main__":
    sys.exit(main())
