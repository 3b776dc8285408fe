"""diffusers ``VQModel`` (a ``save_pretrained`` folder or a Hub id) → our VQGAN baseline.

diffusers ported the same VQGAN under other module names: ``down_blocks.i.resnets.j`` is our
``down.i.block.j``, attention projections are ``Linear`` layers where ours (as taming's) are
1x1 convolutions, and the decoder's levels are stored deepest first where ours are indexed as the
encoder's. Its ``quant_conv``, ``quantize.embedding`` and ``post_quant_conv`` are ours by name.

Config options with no counterpart here stop the conversion (another activation, norm groups
other than 32, the spatially conditioned norm, no mid-block attention, attention at levels the
encoder and decoder do not share). Three are read and not carried, because encoding, quantizing
and decoding images never use them: ``scaling_factor`` (latent diffusion's latent scale),
``force_upcast`` (a float16 pipeline's dtype hint) and ``lookup_from_codebook`` (whether
diffusers' ``decode`` takes indices; ours always does).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch

from vqct.common.errors import UserFileNotFoundError, UserValueError
from vqct.common.hub import HUB_ID
from vqct.tokenizer.autoencoder import AutoencoderConfig

from ..model import VQCTTokenizer
from .weights import rename_segments, tokenizer_from_state, vqgan_config

log = logging.getLogger("vqct.tokenizer.convert")

# diffusers → ours, applied in order to whole dotted segments
DIFFUSERS_RENAMES = [
    ("down_blocks", "down"),
    ("up_blocks", "up"),
    ("resnets", "block"),
    ("attentions", "attn"),
    ("conv_shortcut", "nin_shortcut"),
    ("group_norm", "norm"),
    ("to_q", "q"),
    ("to_k", "k"),
    ("to_v", "v"),
    ("to_out.0", "proj_out"),
    ("downsamplers.0", "downsample"),
    ("upsamplers.0", "upsample"),
    ("conv_norm_out", "norm_out"),
    ("mid_block.block.0", "mid.block_1"),
    ("mid_block.block.1", "mid.block_2"),
    ("mid_block.attn.0", "mid.attn_1"),
    ("quantize", "quantizer"),
]
ATTENTION_PROJECTION = re.compile(r"\.(q|k|v|proj_out)\.weight$")
DOWN_BLOCKS = {"DownEncoderBlock2D": False, "AttnDownEncoderBlock2D": True}  # type → attends
UP_BLOCKS = {"UpDecoderBlock2D": False, "AttnUpDecoderBlock2D": True}
# options our encoder/decoder compute only at one value (diffusers' VQGAN defaults)
FIXED_OPTIONS = {"act_fn": "silu", "norm_num_groups": 32, "norm_type": "group", "mid_block_add_attention": True}
NOT_CARRIED = ("scaling_factor", "force_upcast", "lookup_from_codebook")


def reversed_level(key: str, levels: int) -> str:
    """``decoder.up.i.…`` ↔ ``decoder.up.(levels-1-i).…`` (diffusers stores the deepest level first)."""
    if not key.startswith("decoder.up."):
        return key
    _, _, level, rest = key.split(".", 3)
    return f"decoder.up.{levels - 1 - int(level)}.{rest}"


def diffusers_to_ours(state: dict[str, torch.Tensor], levels: int) -> dict[str, torch.Tensor]:
    """A diffusers ``VQModel`` state dict under our key names and shapes (``levels``: its number
    of down blocks)."""
    converted = {}
    for key, value in state.items():
        ours = reversed_level(rename_segments(key, DIFFUSERS_RENAMES), levels)
        if ATTENTION_PROJECTION.search(ours) and value.dim() == 2:
            value = value[..., None, None]  # Linear [out, in] → 1x1 conv [out, in, 1, 1]
        converted[ours] = value
    return converted


def to_diffusers_key(key: str, levels: int) -> str:
    """Our key → the diffusers key it comes from (for error messages)."""
    inverse = [(new, old) for old, new in reversed(DIFFUSERS_RENAMES)]
    return rename_segments(reversed_level(key, levels), inverse)


def architecture(config: dict, source: str) -> tuple[AutoencoderConfig, int, int]:
    """(architecture, codebook size, code width) from a ``VQModel`` config.json."""
    if config.get("_class_name", "VQModel") != "VQModel":
        raise UserValueError(f"{source}: a diffusers {config['_class_name']}, not a VQModel")
    for option, value in FIXED_OPTIONS.items():
        if config.get(option, value) != value:
            raise UserValueError(
                f"{source}: {option}={config[option]!r}; our encoder/decoder only compute {option}={value!r}"
            )
    down, up = list(config.get("down_block_types", [])), list(config.get("up_block_types", []))
    widths = list(config.get("block_out_channels", []))
    if not widths or len(down) != len(widths) or len(up) != len(widths):
        raise UserValueError(
            f"{source}: {len(down)} down and {len(up)} up block types for {len(widths)} block_out_channels"
        )
    for kind, known in ((down, DOWN_BLOCKS), (up, UP_BLOCKS)):
        unknown = sorted(set(kind) - set(known))
        if unknown:
            raise UserValueError(f"{source}: block types {unknown} have no counterpart here (known: {sorted(known)})")
    encoder_attends = [DOWN_BLOCKS[t] for t in down]
    decoder_attends = [UP_BLOCKS[t] for t in reversed(up)]  # up_block_types lists the deepest level first
    if encoder_attends != decoder_attends:
        raise UserValueError(
            f"{source}: attention at encoder levels {encoder_attends} but decoder levels {decoder_attends}; "
            "ours attends at the same levels in both"
        )
    ch = widths[0]
    if any(width % ch for width in widths):
        raise UserValueError(f"{source}: block_out_channels {widths} are not multiples of the first")
    resolution = config.get("sample_size", 32)
    if not isinstance(resolution, int):
        raise UserValueError(f"{source}: sample_size {resolution!r}; a square size (one integer) is needed")
    ignored = {option: config[option] for option in NOT_CARRIED if option in config}
    if ignored:
        log.info("not carried (encode/quantize/decode never use them): %s", ignored)
    try:
        autoencoder = AutoencoderConfig(
            resolution=resolution,
            in_channels=config.get("in_channels", 3),
            out_channels=config.get("out_channels", 3),
            ch=ch,
            ch_mult=[width // ch for width in widths],
            num_res_blocks=config.get("layers_per_block", 1),
            attn_resolutions=[resolution // 2**i for i, attends in enumerate(encoder_attends) if attends],
            z_channels=config.get("latent_channels", 3),
        )
    except ValueError as error:
        raise UserValueError(
            f"{source}: the architecture its config.json describes does not build here: {error}"
        ) from None
    latent = config.get("latent_channels", 3)
    return autoencoder, config.get("num_vq_embeddings", 256), config.get("vq_embed_dim") or latent


def load_vqmodel(source: str, subfolder: str | None):
    """diffusers' own loader (safetensors first; it also renames its older attention keys), with
    a missing folder, config or repo reported as the user's input."""
    import diffusers  # slow to import: only when converting from it

    path = Path(source).expanduser()
    if not path.exists() and not HUB_ID.match(source):  # not tried on the Hub: it could only fail slowly
        raise UserFileNotFoundError(f"--diffusers {source}: no such folder")
    where = path / (subfolder or "")
    if path.exists() and not (where / "config.json").is_file():
        raise UserFileNotFoundError(f"--diffusers {where}: no config.json (not a diffusers save_pretrained folder)")
    try:
        config = diffusers.VQModel.load_config(str(path) if path.exists() else source, subfolder=subfolder)
        return config, diffusers.VQModel.from_pretrained(str(path) if path.exists() else source, subfolder=subfolder)
    except OSError as error:  # diffusers' EnvironmentError: not found locally nor on a reachable Hub
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserFileNotFoundError(f"--diffusers {source}: cannot be loaded ({reason})") from None


def convert_diffusers(source: str, subfolder: str | None = None) -> VQCTTokenizer:
    """A VQGAN-baseline ``VQCTTokenizer`` holding a diffusers ``VQModel``'s weights."""
    log.info("reading diffusers VQModel %s%s", source, f" (subfolder {subfolder})" if subfolder else "")
    config, vqmodel = load_vqmodel(source, subfolder)
    label = f"--diffusers {source}"
    autoencoder, codebook_size, embed_dim = architecture(config, label)
    model_config = vqgan_config(autoencoder, codebook_size=codebook_size, embed_dim=embed_dim)
    levels = len(autoencoder.ch_mult)
    return tokenizer_from_state(
        model_config,
        diffusers_to_ours(vqmodel.state_dict(), levels),
        source=label,
        to_source_key=lambda key: to_diffusers_key(key, levels),
    )
