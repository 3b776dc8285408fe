"""The Gradio demo: semantic synthesis, completion and a patch→word inspector.

    vqct-demo [--prior DIR_OR_HUB_ID] [--tokenizer DIR_OR_HUB_ID] [--port 7860] [--share]

Defaults: the quickstart's models (outputs/quickstart/prior/final, and for the Inspect tab
outputs/quickstart/tokenizer/final when present, else the tokenizer inside the prior). Tabs:

1. Synthesis — paint a label map with one brush colour per class (legend beside it), upload one
   or start from the example; sample N images with seed, temperature, top-k and guidance.
2. Completion — upload an image, paint the region to regenerate, get N completions.
3. Inspect — upload an image: its reconstruction and PSNR, the adjective and noun of every
   patch (hover the boxes; the table lists them) and how many codes the image uses.

Bad input (no image, not an image, too large, an empty region, colours outside the palette)
shows a message in the page and the app keeps serving. API names for gradio_client:
``/synthesize``, ``/complete``, ``/inspect``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import logging
import socket
import sys
import tempfile
from io import BytesIO
from pathlib import Path

try:
    import gradio as gr
except ModuleNotFoundError:  # an extra since the library needs none of it
    raise SystemExit("the app needs gradio: pip install -e '.[app]' (make setup installs it)") from None
import numpy as np
from PIL import Image

from vqct.common.device import add_device_flag, checked_device
from vqct.common.errors import UserError, UserFileNotFoundError, UserValueError, exit_code
from vqct.common.help_format import PlainHelpFormatter
from vqct.common.labels import palette
from vqct.prior.examples import validation_examples
from vqct.tokenizer import label_names

from .backend import MAX_IMAGES, DemoInputError, DemoModels, check_upload, to_pil

log = logging.getLogger("vqct.apps.demo")
QUICKSTART = Path("outputs/quickstart")
CANVAS = 256


def _legend(models: DemoModels, class_names: list[str]) -> str:
    cells = [
        f'<span style="display:inline-block;margin:2px 8px 2px 0"><span style="display:inline-block;width:14px;height:14px;'
        f'background:{colour};border:1px solid #888;vertical-align:middle"></span> {name}</span>'
        for colour, name in zip(models.palette_hex(), class_names)
    ]
    return "<div><b>Classes</b><br>" + "".join(cells) + "</div>"


def class_names(models: DemoModels) -> list[str]:
    known = label_names(models.prior.data.get("kind", ""))
    return list(known) if len(known) == models.num_classes else [f"class {k}" for k in range(models.num_classes)]


def write_examples(models: DemoModels, folder: Path, count: int = 3) -> dict[str, list[Path]]:
    """Example maps (palette colours) and images from the prior's validation split, enlarged to the canvas."""
    try:
        examples = validation_examples(models.prior, count, built_in_only=True)
    except UserError:  # the data set is not readable here: no examples, the app still works
        return {"maps": [], "images": []}
    colours = palette(max(models.num_classes, 1))
    written = {"maps": [], "images": []}
    for k in range(count):
        image = to_pil(examples["image"][k : k + 1])[0].resize((CANVAS, CANVAS), Image.NEAREST)
        written["images"].append(folder / f"image-{k}.png")
        image.save(written["images"][-1])
        if "label" in examples and models.num_classes:
            picture = Image.fromarray(colours[examples["label"][k].numpy()]).resize((CANVAS, CANVAS), Image.NEAREST)
            written["maps"].append(folder / f"map-{k}.png")
            picture.save(written["maps"][-1])
    return written


def _checked(file) -> None:
    """``check_upload`` on a file Gradio received (a FileData, a data: URL or the bytes of a
    canvas), as a message: every route an image can come by is checked before Gradio decodes it."""
    url = getattr(file, "url", None) or ""
    if url.startswith("data:"):
        try:
            file = base64.b64decode(url.partition(",")[2], validate=True)
        except binascii.Error:
            raise gr.Error("the uploaded data: URL is not base64: no image can be read from it") from None
    source = BytesIO(file) if isinstance(file, (bytes, bytearray, memoryview)) else getattr(file, "path", None)
    if source is None:
        return
    try:
        check_upload(source)
    except DemoInputError as error:
        raise refused(error) from None


def refused(error: DemoInputError) -> gr.Error:
    """The message the page shows for a request refused, and one line in the server's log (not
    Gradio's traceback: the input was wrong, the server was not)."""
    log.warning("refused a request: %s", error)
    return gr.Error(str(error), print_exception=False)


def checked_uploads(component):
    """``component`` (a gr.Image or gr.ImageEditor) with every file it receives checked before Gradio
    decodes it: a file that is not an image, is cut short or is too large is a message (no traceback,
    no server path), the size refused from the header. The methods are wrapped on the instance:
    a subclass of a Gradio component makes Gradio write a .pyi stub into the source tree."""
    if isinstance(component, gr.ImageEditor):
        decode = component.convert_and_format_image

        def convert_and_format_image(file, flatten_on_white: bool = False):
            _checked(file)
            return decode(file, flatten_on_white=flatten_on_white)

        component.convert_and_format_image = convert_and_format_image
    else:
        preprocess = component.preprocess

        def checked_preprocess(payload):
            if payload is not None:
                _checked(payload)
            return preprocess(payload)

        component.preprocess = checked_preprocess
    return component


def _region_layer(size: int) -> np.ndarray:
    """The completion tab's starting region: the lower-right quarter, painted white."""
    layer = np.zeros((size, size, 4), dtype=np.uint8)
    layer[size // 2 :, size // 2 :] = 255
    return layer


def _user_errors(function):
    """DemoInputError → a message in the page (gr.Error), not a crash. The function's signature is
    kept (functools.wraps): gradio_client's view_api names each parameter by it."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DemoInputError as error:
            raise refused(error) from None

    return wrapped


def build_app(models: DemoModels, examples_dir: Path) -> gr.Blocks:
    examples = write_examples(models, examples_dir)
    semantic = models.prior.prior_config.condition == "semantic"
    brush = gr.Brush(colors=models.palette_hex(), color_mode="fixed", default_size=24) if semantic else None
    defaults = models.prior.sampling  # the sliders start at the options the prior was trained to be sampled with

    @_user_errors
    # parameters are named as the page's controls: they are the API's names (view_api)
    def synthesize(label_map, example, images, seed, temperature, top_k, guidance, progress=gr.Progress()):
        if isinstance(label_map, dict):
            picture = models.requested_map(label_map.get("composite"), label_map.get("background"), example)
        else:
            picture = label_map
        result = models.synthesize(picture, images, seed, temperature, top_k, guidance, progress=progress)
        info = " · ".join([f"{len(result.images)} images in {result.seconds:.1f} s", *result.notes])
        return result.images, result.condition, info

    @_user_errors
    def complete(image_and_region, completions, seed, temperature, top_k, progress=gr.Progress()):
        editor = image_and_region
        if not isinstance(editor, dict) or editor.get("background") is None:
            raise DemoInputError("no image: upload the image to complete")
        layers = editor.get("layers") or []
        region = np.maximum.reduce([np.asarray(layer) for layer in layers]) if layers else None
        result = models.complete(editor["background"], region, completions, seed, temperature, top_k, progress=progress)
        return result.images, f"{len(result.images)} completions in {result.seconds:.1f} s"

    @_user_errors
    def inspect(image):
        found = models.inspect(image)
        used = ", ".join(
            f"{name}: {count} of {size} codes ({100 * count / size:.1f}%)"
            for name, (count, size) in found["usage"].items()
        )
        summary = f"PSNR {found['psnr']:.2f} dB · codes used by this image: {used}"
        if not found["patches"]:
            summary += " · this tokenizer's codes carry no words (only VQCT's do)"
        return found["reconstruction"], (found["image"], found["patches"]), summary, found["words"]

    with gr.Blocks(title="VQCT demo") as app:
        gr.Markdown(
            "# VQCT: codebook transfer with part-of-speech\n"
            f"Prior: `{models.prior.prior_config.kind}`, condition `{models.prior.prior_config.condition}`, "
            f"{models.prior.resolution} px images from a {models.prior.token_grid[0]}×{models.prior.token_grid[1]} grid of adjective/noun codes."
        )
        with gr.Tab("Synthesis", id="synthesis"):
            with gr.Row():
                with gr.Column():
                    map_editor = checked_uploads(
                        gr.ImageEditor(
                            value=str(examples["maps"][0]) if examples["maps"] else None,
                            type="numpy",
                            image_mode="RGBA",
                            brush=brush,
                            sources=["upload"],
                            layers=False,
                            transforms=[],
                            canvas_size=(CANVAS, CANVAS),
                            label="Semantic map: paint with the class colours"
                            if semantic
                            else "Unconditional prior: the map is ignored",
                        )
                    )
                    if semantic:
                        gr.HTML(_legend(models, class_names(models)))
                    # The example on the canvas, kept on the server: a request sent before the browser
                    # has drawn it still carries the old canvas (DemoModels.requested_map).
                    chosen_example = gr.State(None)
                    if examples["maps"]:
                        example_maps = gr.Dataset(
                            components=[gr.Image(type="filepath", visible=False)],
                            samples=[[str(p)] for p in examples["maps"]],
                            type="index",
                            label="Example maps",
                        )
                        example_maps.click(
                            lambda k: (str(examples["maps"][k]), str(examples["maps"][k])),
                            [example_maps],
                            [map_editor, chosen_example],
                            queue=False,
                            show_progress="hidden",
                            api_visibility="private",  # the page's own event, not an API endpoint
                        )
                    for event in (map_editor.upload, map_editor.clear):
                        event(
                            lambda: None,
                            None,
                            chosen_example,
                            queue=False,
                            show_progress="hidden",
                            api_visibility="private",
                        )
                with gr.Column():
                    num = gr.Slider(1, MAX_IMAGES, value=4, step=1, label="images")
                    seed = gr.Number(value=0, precision=0, label="seed")
                    temperature = gr.Slider(0.0, 2.0, value=defaults.temperature, step=0.05, label="temperature")
                    top_k = gr.Slider(0, 1000, value=defaults.top_k or 0, step=1, label="top-k (0 = off)")
                    guidance = gr.Slider(
                        1.0, 5.0, value=defaults.guidance_scale, step=0.1, label="classifier-free guidance"
                    )
                    synth_button = gr.Button("Synthesize", variant="primary", elem_id="synthesize")
            with gr.Row():
                synth_gallery = gr.Gallery(label="Samples", columns=4, elem_id="synthesis-gallery", scale=3)
                prior_view = gr.Image(
                    label="The map as the prior read it",
                    elem_id="prior-view",
                    format="png",  # exact class colours (the default WebP is lossy)
                    visible=semantic,
                    scale=1,
                )
            synth_info = gr.Markdown(label="summary", elem_id="synthesis-info")
            synth_button.click(
                synthesize,
                [map_editor, chosen_example, num, seed, temperature, top_k, guidance],
                [synth_gallery, prior_view, synth_info],
                api_name="synthesize",
            )
        with gr.Tab("Completion", id="completion"):
            start = None
            if examples["images"]:
                start = {"background": str(examples["images"][0]), "layers": [_region_layer(CANVAS)], "composite": None}
            with gr.Row():
                with gr.Column():
                    image_editor = checked_uploads(
                        gr.ImageEditor(
                            value=start,
                            type="numpy",
                            image_mode="RGBA",
                            sources=["upload"],
                            layers=False,
                            transforms=[],
                            brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=32),
                            canvas_size=(CANVAS, CANVAS),
                            label="Upload an image, then paint the region to regenerate",
                        )
                    )
                with gr.Column():
                    c_num = gr.Slider(1, MAX_IMAGES, value=4, step=1, label="completions")
                    c_seed = gr.Number(value=0, precision=0, label="seed")
                    c_temperature = gr.Slider(0.0, 2.0, value=defaults.temperature, step=0.05, label="temperature")
                    c_top_k = gr.Slider(0, 1000, value=defaults.top_k or 0, step=1, label="top-k (0 = off)")
                    complete_button = gr.Button("Complete", variant="primary", elem_id="complete")
            complete_gallery = gr.Gallery(label="Completions", columns=4, elem_id="completion-gallery")
            complete_info = gr.Markdown(label="summary", elem_id="completion-info")
            complete_button.click(
                complete,
                [image_editor, c_num, c_seed, c_temperature, c_top_k],
                [complete_gallery, complete_info],
                api_name="complete",
            )
        with gr.Tab("Inspect", id="inspect"):
            with gr.Row():
                inspect_input = checked_uploads(
                    gr.Image(
                        value=str(examples["images"][0]) if examples["images"] else None,
                        type="numpy",
                        sources=["upload"],
                        label="Image",
                    )
                )
                reconstruction = gr.Image(label="Reconstruction", elem_id="reconstruction")
            inspect_button = gr.Button("Inspect", variant="primary", elem_id="inspect")
            inspect_info = gr.Markdown(label="summary", elem_id="inspect-info")
            words = gr.AnnotatedImage(label="Adjective and noun of each patch (hover)", show_legend=False)
            table = gr.Dataframe(headers=["row", "column", "adjective", "noun"], label="Patch words")
            inspect_button.click(
                inspect, [inspect_input], [reconstruction, words, inspect_info, table], api_name="inspect"
            )
    return app


def free_port() -> int:
    """A TCP port nothing listens on now (for test and screenshot servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resolve_models(prior: str | None, tokenizer: str | None) -> tuple[str, str | None]:
    """The --prior / --tokenizer to use; the quickstart's when not given (a clear error when absent)."""
    if prior is None:
        prior = str(QUICKSTART / "prior" / "final")
        if not Path(prior).is_dir():
            raise UserFileNotFoundError(
                f"no prior at {prior}: run `make quickstart` first (it trains one there), or pass --prior DIR_OR_HUB_ID"
            )
        default_tokenizer = QUICKSTART / "tokenizer" / "final"
        tokenizer = tokenizer or (str(default_tokenizer) if default_tokenizer.is_dir() else None)
    return prior, tokenizer


# Requests waiting beyond this are turned away at once (Gradio answers "queue is full"), so a burst
# cannot grow the server's memory; uploads above MAX_UPLOAD_BYTES are refused before they are
# stored (a 4096×4096 PNG, the largest picture read, is at most ~50 MB uncompressed RGB).
QUEUE_SIZE = 32
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def launch(
    prior: str,
    tokenizer: str | None = None,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    share: bool = False,
    block: bool = True,
    device: str = "cpu",
) -> gr.Blocks:
    if port is not None and not port_is_free(host, port):  # checked first: gradio's own error is a traceback
        raise UserValueError(f"--port {port}: another program is listening on {host}:{port}; pass another --port")
    models = DemoModels(prior, tokenizer, device=device)
    app = build_app(models, Path(tempfile.mkdtemp(prefix="vqct-demo-")))
    app.queue(max_size=QUEUE_SIZE).launch(
        server_name=host,
        server_port=port,
        share=share,
        prevent_thread_lock=not block,
        show_error=True,
        max_file_size=MAX_UPLOAD_BYTES,
    )
    return app


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vqct-demo", description=__doc__, formatter_class=PlainHelpFormatter)
    parser.add_argument("--prior", help="a VQCTPrior folder or Hub id (default: the quickstart's)")
    parser.add_argument(
        "--tokenizer", help="the tokenizer for the Inspect tab (default: the quickstart's, else the prior's)"
    )
    add_device_flag(parser)
    parser.add_argument("--port", type=int, default=7860, help="the port to listen on (default 7860)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--share", action="store_true", help="a public gradio.live link")
    args = parser.parse_args(argv)

    def serve() -> int:
        device = str(checked_device(args.device))
        models = resolve_models(args.prior, args.tokenizer)
        launch(*models, port=args.port, host=args.host, share=args.share, device=device)
        return 0

    return exit_code(serve)


if __name__ == "__main__":
    sys.exit(main())
