"""Pretrained VQGANs from other codebases as VQGAN-baseline tokenizers (``model.quantizer.kind=vq``).

    vqct-convert --taming last.ckpt [--taming-config project.yaml] --out DIR
    vqct-convert --diffusers FOLDER_OR_HUB_ID [--subfolder vqvae] --out DIR

``taming`` reads a taming-transformers checkpoint, ``diffusers_vqmodel`` a diffusers ``VQModel``;
both rename the weights to ours and hand them to ``weights``, which loads them only when every
key and shape fits. ``cli`` writes the result with ``save_pretrained``, so it is used like any
tokenizer trained here (``VQCTTokenizer.from_pretrained``, ``tokenizer.evaluate``, ``init_from=``).
"""

from .diffusers_vqmodel import convert_diffusers, diffusers_to_ours
from .taming import convert_taming

__all__ = ["convert_diffusers", "convert_taming", "diffusers_to_ours"]
