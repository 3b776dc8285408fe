"""taming-transformers VQGAN (``taming.models.vqgan.VQModel``) → our VQGAN baseline.

Our encoder and decoder keep taming's module names, and our tokenizer has the same
``quant_conv`` → quantizer → ``post_quant_conv`` around them, so the weights carry over with one
rename (``quantize.`` → ``quantizer.``). ``loss.*`` (LPIPS's VGG and the PatchGAN) is dropped:
those are training-time networks outside the tokenizer; a run started with ``init_from`` builds
its own loss and discriminator.

The architecture comes from the run's project YAML (``model.params``) or, without one, from the
weights' shapes: every width, the level and block counts, the attended levels and the codebook
are in them. Two things are not: the training resolution (it only places attention by level
and sets ``encode_images``' default size; taming's released models are 256 px) and dropout
(training only; taming's VQGAN configs use 0).
"""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path

import torch
import yaml

from vqct.common.errors import UserFileNotFoundError, UserValueError
from vqct.tokenizer.autoencoder import AutoencoderConfig

from ..model import VQCTTokenizer
from .weights import rename_segments, tokenizer_from_state, vqgan_config

log = logging.getLogger("vqct.tokenizer.convert")

TAMING_RENAMES = [("quantize", "quantizer")]
TRAINING_ONLY_PREFIX = "loss."
TAMING_MODEL = "taming.models.vqgan.VQModel"
DEFAULT_RESOLUTION = 256  # taming's released VQGANs (ImageNet f16, OpenImages f8) trained at 256 px

# ddconfig keys our AutoencoderConfig takes (out_ch is our out_channels) ...
DDCONFIG_FIELDS = {
    "z_channels": "z_channels",
    "resolution": "resolution",
    "in_channels": "in_channels",
    "out_ch": "out_channels",
    "ch": "ch",
    "ch_mult": "ch_mult",
    "num_res_blocks": "num_res_blocks",
    "attn_resolutions": "attn_resolutions",
    "dropout": "dropout",
}
# ... and the ones we accept only at the value our model computes with (taming's defaults)
DDCONFIG_FIXED = {
    "double_z": False,
    "give_pre_end": False,
    "tanh_out": False,
    "resamp_with_conv": True,
    "use_linear_attn": False,
    "attn_type": "vanilla",
}


def unreadable(path: Path, reason: str) -> UserValueError:
    return UserValueError(f"--taming {path}: not a readable PyTorch checkpoint ({reason[:200]}); download it again")


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a Lightning ``.ckpt`` (its ``state_dict``) or of a bare state dict, loaded
    with torch's weights-only unpickler: a file that needs anything else is refused, not run."""
    if not path.is_file():
        raise UserFileNotFoundError(f"--taming {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if not found:  # refused for another reason than a class: not a pickle of a checkpoint at all
            reason = re.search(r"WeightsUnpickler error:\s*(\S.*)", str(error)) or re.search(r"(\S.*)", str(error))
            raise unreadable(path, reason.group(1)) from None
        raise UserValueError(
            f"--taming {path}: the file holds a pickled {found.group(1)} besides tensors, so it cannot be loaded "
            "safely (torch.load(weights_only=True) refuses to run code from a file). If you trust the file, save "
            "its weights alone and convert that: python -c \"import torch; torch.save({'state_dict': "
            f"torch.load('{path}', map_location='cpu', weights_only=False)['state_dict']}}, 'state_dict.ckpt')\""
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError) as error:  # torch's ways of saying "not my file"
        raise unreadable(
            path, str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        ) from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserValueError(
            f"--taming {path}: no state dict in it (a dict of tensors, under 'state_dict' as Lightning saves one)"
        )
    return state


def read_project_config(path: Path) -> tuple[AutoencoderConfig, int, int]:
    """(architecture, codebook size, code width) from a taming project YAML's ``model`` section."""
    if not path.is_file():
        raise UserFileNotFoundError(f"--taming-config {path}: no such file")
    try:
        project = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UserValueError(f"--taming-config {path}: not valid YAML ({error})") from None
    model = project.get("model") if isinstance(project, dict) else None
    params = model.get("params") if isinstance(model, dict) else None
    if not isinstance(params, dict) or not isinstance(params.get("ddconfig"), dict):
        raise UserValueError(f"--taming-config {path}: no model.params.ddconfig (not a taming project YAML)")
    target = model.get("target", TAMING_MODEL)
    if target != TAMING_MODEL:
        # GumbelVQ, EMAVQ, segmentation models: other quantizers or inputs than this converter maps
        raise UserValueError(f"--taming-config {path}: model.target {target}; only {TAMING_MODEL} is converted")
    if params.get("remap") is not None:
        raise UserValueError(
            f"--taming-config {path}: model.params.remap is set; remapped code indices have no counterpart here"
        )
    for key in ("n_embed", "embed_dim"):
        if not isinstance(params.get(key), int):
            raise UserValueError(
                f"--taming-config {path}: model.params.{key} must be an integer, got {params.get(key)!r}"
            )
    fields = {}
    for key, value in params["ddconfig"].items():
        if key in DDCONFIG_FIELDS:
            fields[DDCONFIG_FIELDS[key]] = list(value) if isinstance(value, (list, tuple)) else value
        elif key in DDCONFIG_FIXED:
            if value != DDCONFIG_FIXED[key]:
                raise UserValueError(
                    f"--taming-config {path}: model.params.ddconfig.{key}={value}; our encoder/decoder "
                    f"only compute the {key}={DDCONFIG_FIXED[key]} architecture"
                )
        else:
            raise UserValueError(
                f"--taming-config {path}: model.params.ddconfig.{key} is not a VQGAN ddconfig key we know"
            )
    try:
        autoencoder = AutoencoderConfig(**fields)
    except TypeError as error:
        raise UserValueError(f"--taming-config {path}: model.params.ddconfig: {error}") from None
    return autoencoder, params["n_embed"], params["embed_dim"]


def required(state: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in state:
        raise UserValueError(f"--taming: no {key} in the checkpoint (not a taming VQGAN state dict?)")
    return state[key]


def infer_architecture(state: dict[str, torch.Tensor], resolution: int) -> tuple[AutoencoderConfig, int, int]:
    """(architecture, codebook size, code width) read off the weights' shapes; ``resolution``
    places attention (the weights say which levels attend, not at which pixel size)."""
    ch, in_channels = required(state, "encoder.conv_in.weight").shape[:2]
    levels = sorted({int(key.split(".")[2]) for key in state if key.startswith("encoder.down.")})
    if levels != list(range(len(levels))) or not levels:
        raise UserValueError(f"--taming: encoder.down levels {levels} are not 0, 1, …: not a taming VQGAN state dict?")
    blocks = {int(key.split(".")[4]) for key in state if key.startswith("encoder.down.0.block.")}
    widths = [required(state, f"encoder.down.{i}.block.0.conv2.weight").shape[0] for i in levels]
    if any(width % ch for width in widths):
        raise UserValueError(f"--taming: level widths {widths} are not multiples of conv_in's {ch} channels")
    z_channels = required(state, "decoder.conv_in.weight").shape[1]
    encoder_out = required(state, "encoder.conv_out.weight").shape[0]
    if encoder_out != z_channels:
        raise UserValueError(
            f"--taming: encoder.conv_out gives {encoder_out} channels, decoder.conv_in takes {z_channels}"
            + (" (double_z=True: our encoder has no doubled output)" if encoder_out == 2 * z_channels else "")
        )
    attended = [i for i in levels if any(key.startswith(f"encoder.down.{i}.attn.") for key in state)]
    codebook_size, embed_dim = required(state, "quantize.embedding.weight").shape
    try:
        autoencoder = AutoencoderConfig(
            resolution=resolution,
            in_channels=int(in_channels),
            out_channels=int(required(state, "decoder.conv_out.weight").shape[0]),
            ch=int(ch),
            ch_mult=[width // ch for width in widths],
            num_res_blocks=len(blocks),
            attn_resolutions=[resolution // 2**i for i in attended],
            z_channels=int(z_channels),
        )
    except ValueError as error:
        raise UserValueError(f"--taming: the architecture the weights imply does not build: {error}") from None
    return autoencoder, int(codebook_size), int(embed_dim)


def to_taming_key(key: str) -> str:
    return rename_segments(key, [(new, old) for old, new in TAMING_RENAMES])


def taming_to_ours(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Our key names for the tokenizer's tensors, and the training-only keys left out."""
    dropped = [key for key in state if key.startswith(TRAINING_ONLY_PREFIX)]
    kept = {rename_segments(key, TAMING_RENAMES): value for key, value in state.items() if key not in dropped}
    return kept, dropped


def convert_taming(
    checkpoint: str | Path, project_config: str | Path | None = None, resolution: int | None = None
) -> VQCTTokenizer:
    """A VQGAN-baseline ``VQCTTokenizer`` holding a taming VQGAN's weights."""
    checkpoint = Path(checkpoint)
    log.info("reading %s (weights only)", checkpoint)
    state = read_checkpoint(checkpoint)
    if project_config is not None:
        if resolution is not None:
            raise UserValueError("--resolution: the resolution is --taming-config's ddconfig.resolution")
        autoencoder, codebook_size, embed_dim = read_project_config(Path(project_config))
        log.info("architecture from %s", project_config)
    else:
        resolution = resolution or DEFAULT_RESOLUTION
        autoencoder, codebook_size, embed_dim = infer_architecture(state, resolution)
        log.info("architecture inferred from the weights' shapes, at resolution %d (dropout 0)", resolution)
    config = vqgan_config(autoencoder, codebook_size=codebook_size, embed_dim=embed_dim)
    kept, dropped = taming_to_ours(state)
    if dropped:
        log.info(
            "left out %d training-only tensors (%s*: LPIPS and the discriminator)", len(dropped), TRAINING_ONLY_PREFIX
        )
    return tokenizer_from_state(config, kept, source=f"--taming {checkpoint}", to_source_key=to_taming_key)
