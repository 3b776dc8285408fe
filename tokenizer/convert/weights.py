"""The part every converter shares: a VQGAN-baseline tokenizer built for an architecture, and a
renamed state dict loaded into it only when it fits key for key and shape for shape.

The converters rename the source's keys to ours; what is left over, missing or of another shape
is reported under the source's own key name (``to_source_key``), since that is the name the user
can look up in their checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch

from vqct.common.errors import UserValueError
from vqct.tokenizer.autoencoder import AutoencoderConfig

from ..model import QuantizerConfig, TokenizerModelConfig, VQCTTokenizer

log = logging.getLogger("vqct.tokenizer.convert")

SHOWN_KEYS = 5  # a long list of keys says no more than its first few and a count


def rename_segments(key: str, table: Sequence[tuple[str, str]]) -> str:
    """``key`` with each ``(old, new)`` of ``table`` replaced in order, whole dotted segments only
    (``attn`` must not match inside ``attentions``)."""
    dotted = f".{key}."
    for old, new in table:
        dotted = dotted.replace(f".{old}.", f".{new}.")
    return dotted[1:-1]


def vqgan_config(autoencoder: AutoencoderConfig, *, codebook_size: int, embed_dim: int) -> TokenizerModelConfig:
    """The VQGAN baseline (``model.quantizer.kind=vq``) at the given architecture."""
    return TokenizerModelConfig(
        autoencoder=autoencoder,
        quantizer=QuantizerConfig(kind="vq", embed_dim=embed_dim, codebook_size=codebook_size),
    )


def listed(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown + (f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else "")


def tokenizer_from_state(
    config: TokenizerModelConfig,
    state: dict[str, torch.Tensor],
    *,
    source: str,
    to_source_key: Callable[[str], str],
) -> VQCTTokenizer:
    """A ``VQCTTokenizer`` of ``config`` holding ``state`` (our key names). Stops with a
    ``UserValueError`` naming the source's keys when a tensor has no place here, a place has no
    tensor, or a shape differs: a partial load would be a model that silently is not the source."""
    autoencoder, quantizer = config.autoencoder, config.quantizer
    log.info(
        "architecture: ch %d, ch_mult %s, %d res blocks, attention at %s px (resolution %d), z %d, %d codes of width %d",
        autoencoder.ch,
        autoencoder.ch_mult,
        autoencoder.num_res_blocks,
        autoencoder.attn_resolutions,
        autoencoder.resolution,
        autoencoder.z_channels,
        quantizer.codebook_size,
        quantizer.embed_dim,
    )
    model = VQCTTokenizer.build(config)
    expected = model.state_dict()
    unexpected = sorted(to_source_key(key) for key in state.keys() - expected.keys())
    if unexpected:
        raise UserValueError(
            f"{source}: {listed(unexpected)}: nothing in a VQGAN-baseline VQCTTokenizer "
            f"(model.quantizer.kind=vq) holds these, so the model cannot be converted without changing what it computes"
        )
    missing = sorted(to_source_key(key) for key in expected.keys() - state.keys())
    if missing:
        raise UserValueError(
            f"{source}: missing {listed(missing)}, which the architecture needs "
            "(is the checkpoint complete, and the config the one it was trained with?)"
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise UserValueError(
                f"{source}: {to_source_key(key)} has shape {tuple(tensor.shape)}, the architecture needs "
                f"{tuple(expected[key].shape)} (does the config match the checkpoint?)"
            )
    # load_state_dict copies into our float32 parameters, whatever the source's precision
    model.load_state_dict(state, strict=True)
    return model.eval()
