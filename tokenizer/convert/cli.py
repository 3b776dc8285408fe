"""Convert a pretrained VQGAN into a VQCT toolkit tokenizer (the VQGAN baseline, model.quantizer.kind=vq).

    vqct-convert --taming last.ckpt --taming-config project.yaml --out outputs/converted/vqgan
    vqct-convert --taming last.ckpt --out outputs/converted/vqgan   # architecture from the weights
    vqct-convert --diffusers FOLDER_OR_HUB_ID [--subfolder vqvae] --out outputs/converted/vqmodel

--taming: a taming-transformers VQGAN checkpoint (Lightning .ckpt, or a bare state dict), read
with torch's weights-only loader; a file holding other pickled objects is refused with the
one-liner that re-saves its weights. --taming-config: the run's project YAML (model.params);
without it the architecture is read off the weights' shapes, at --resolution (default 256).
Its loss.* tensors (LPIPS, discriminator) are training-only and left out.
--diffusers: a diffusers VQModel save_pretrained folder or Hub id.

Writes --out atomically (a failed conversion leaves nothing, an earlier folder is replaced
whole): model.safetensors and config.json (VQCTTokenizer.from_pretrained), README.md (the model
card every save writes, saying where the weights came from; --card-metrics adds the numbers
vqct-evaluate measured). The tokenizer has no language codebook.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from huggingface_hub import ModelCard

from vqct.common.atomic import atomic_directory
from vqct.common.card import evaluation_headline, is_local_path
from vqct.common.config import to_dict
from vqct.common.errors import exit_code
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.hub import HUB_ID

from .diffusers_vqmodel import convert_diffusers
from .taming import convert_taming

log = logging.getLogger("vqct.tokenizer.convert")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vqct-convert", description=__doc__, formatter_class=PlainHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--taming", metavar="CKPT", help="taming-transformers VQGAN checkpoint (.ckpt)")
    source.add_argument("--diffusers", metavar="FOLDER_OR_HUB_ID", help="diffusers VQModel folder or Hub id")
    parser.add_argument("--taming-config", metavar="YAML", help="with --taming: the run's project YAML")
    parser.add_argument(
        "--resolution", type=int, help="with --taming and no --taming-config: the training resolution (default 256)"
    )
    parser.add_argument("--subfolder", help="with --diffusers: the VQModel's subfolder (a pipeline's 'vqvae')")
    parser.add_argument("--out", required=True, help="output folder (a VQCTTokenizer save_pretrained folder)")
    parser.add_argument(
        "--hub-model-id", metavar="USER/REPO", help="the Hub repo it will be published as (named in its model card)"
    )
    parser.add_argument(
        "--card-metrics",
        metavar="METRICS_JSON",
        help="vqct-evaluate tokenizer's metrics.json for this model: its numbers go in the model card",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = parser()
    args = arguments.parse_args(argv)
    if args.diffusers and (args.taming_config or args.resolution):
        arguments.error("--taming-config and --resolution go with --taming")
    if args.taming and args.subfolder:
        arguments.error("--subfolder goes with --diffusers")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return exit_code(lambda: convert(args))


def convert(args: argparse.Namespace) -> int:
    if args.taming:
        model = convert_taming(args.taming, args.taming_config, args.resolution)
        origin = f"the taming-transformers VQGAN checkpoint `{Path(args.taming).name}`"
        source = {"taming": args.taming, "taming_config": args.taming_config}
    else:
        model = convert_diffusers(args.diffusers, args.subfolder)
        shown = args.diffusers if not is_local_path(args.diffusers) else Path(args.diffusers).name
        origin = f"the diffusers VQModel `{shown}`" + (f" (subfolder `{args.subfolder}`)" if args.subfolder else "")
        source = {"diffusers": args.diffusers, "subfolder": args.subfolder}
    license = source_license(args)
    base_model = (
        args.diffusers
        if args.diffusers and HUB_ID.match(args.diffusers) and not is_local_path(args.diffusers)
        else None
    )
    model.record_card(
        origin=f"Converted by `vqct-convert` from {origin}: the VQGAN baseline "
        "(`model.quantizer.kind=vq`), with no language codebook. Not trained here. "
        + (
            f"The weights keep their source's licence ({license})."
            if license != "other"
            else "The weights' licence is their source's, which could not be read here: check it before use."
        ),
        license=license,
        base_model=base_model,
        run_config={"model": to_dict(model.config), "converted_from": source},
        evaluation=evaluation_headline(args.card_metrics) if args.card_metrics else None,
    )
    out = Path(args.out)
    with atomic_directory(out) as staging:
        model.save_pretrained(staging, repo_id=args.hub_model_id)
    log.info("wrote %s (model.safetensors, config.json, README.md): VQCTTokenizer.from_pretrained(%r)", out, str(out))
    return 0


def source_license(args: argparse.Namespace) -> str:
    """The licence a diffusers source's model card declares (its folder's README.md, or the Hub
    repo's card); "other" where none can be read (a taming checkpoint carries none)."""
    if not args.diffusers:
        return "other"
    folder = Path(args.diffusers)
    try:
        card = ModelCard.load(folder / "README.md" if folder.is_dir() else args.diffusers)
    except Exception as error:  # noqa: BLE001 -- no card, no network: the licence is unknown, said so
        log.info(
            "the source's licence could not be read (%s)", str(error).splitlines()[0][:120] if str(error) else error
        )
        return "other"
    return card.data.license or "other"


if __name__ == "__main__":
    sys.exit(main())
