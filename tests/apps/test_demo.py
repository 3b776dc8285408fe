"""The Gradio demo, launched for real on tiny untrained models and driven through gradio_client
(one test per tab, plus the bad inputs that must come back as messages)."""

import os
import socket
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from apps.demo import free_port, launch, resolve_models
from apps.screenshots import CHROMIUM, capture
from common.errors import UserValueError
from common.labels import palette
from prior import PriorConfig, VQCTPrior
from prior.sampling_options import validation_examples
from tokenizer.model import VQCTTokenizer


@pytest.fixture(scope="module")
def prior_dir(tiny_codebook, tmp_path_factory, tiny_config):
    config = tiny_config()
    config.autoencoder.resolution, config.autoencoder.ch_mult, config.autoencoder.attn_resolutions = 32, [1, 2, 2], []
    tokenizer = VQCTTokenizer.build(config, tiny_codebook).eval()
    prior = PriorConfig(dim=32, depth=1, heads=2, condition="semantic", num_classes=9)
    model = VQCTPrior.build(
        prior,
        tokenizer,
        grid=(8, 8),
        tokenizer_source="tiny",
        data={"kind": "shapes", "resolution": 32, "validation_length": 8},
    )
    folder = tmp_path_factory.mktemp("demo") / "prior"
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def url(prior_dir):
    port = free_port()
    app = launch(str(prior_dir), port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def client(url):
    return Client(url, verbose=False)


@pytest.fixture
def pictures(tmp_path):
    colours = palette(9)
    labels = np.zeros((64, 64), dtype=np.int64)
    labels[10:40, 20:50] = 3
    paths = {
        "map": tmp_path / "map.png",
        "image": tmp_path / "image.png",
        "region": tmp_path / "region.png",
        "empty": tmp_path / "empty.png",
    }
    Image.fromarray(colours[labels]).save(paths["map"])
    Image.fromarray((np.random.default_rng(0).random((48, 40)) * 255).astype(np.uint8), mode="L").save(
        paths["image"]
    )  # grayscale
    region = np.zeros((48, 40, 4), dtype=np.uint8)
    region[24:, :, :] = 255
    Image.fromarray(region, mode="RGBA").save(paths["region"])
    Image.fromarray(np.zeros((48, 40, 4), dtype=np.uint8), mode="RGBA").save(paths["empty"])
    return paths


def editor(background, layer=None):
    return {
        "background": handle_file(background),
        "layers": [handle_file(layer)] if layer else [],
        "composite": handle_file(background),
    }


def test_synthesis_tab_returns_the_requested_images(client, pictures):
    gallery, info = client.predict(editor(pictures["map"]), 3, 7, 1.0, 50, 1.0, api_name="/synthesize")
    assert len(gallery) == 3 and "3 images in" in info
    assert Image.open(gallery[0]["image"]).size == (256, 256)  # 32 px shown at 8×


def test_completion_tab_returns_completions_of_a_grayscale_upload(client, pictures):
    gallery, info = client.predict(editor(pictures["image"], pictures["region"]), 2, 0, 1.0, 0, api_name="/complete")
    assert len(gallery) == 2 and "2 completions in" in info


def test_inspect_tab_gives_reconstruction_psnr_and_a_word_per_patch(client, pictures):
    reconstruction, annotated, summary, table = client.predict(handle_file(pictures["image"]), api_name="/inspect")
    assert Image.open(reconstruction).size == (256, 256) and "PSNR" in summary and "adjective:" in summary
    assert len(annotated["annotations"]) == 64 and len(table["data"]) == 64  # 8×8 patches
    row, column, adjective, noun = table["data"][9]
    assert (row, column) == (1, 1) and adjective and noun


@pytest.mark.parametrize(
    "tab, make_args, message",
    [
        ("/complete", lambda p: (editor(p["image"], p["empty"]), 1, 0, 1.0, 0), "region to regenerate is empty"),
        ("/synthesize", lambda p: (editor(p["image"]), 1, 0, 1.0, 0, 1.0), "not in the 9-class palette"),
        ("/inspect", lambda p: (None,), "no image"),
    ],
)
def test_bad_input_is_a_message_and_the_app_keeps_serving(client, pictures, tab, make_args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*make_args(pictures), api_name=tab)
    gallery, _ = client.predict(editor(pictures["map"]), 1, 0, 1.0, 0, 1.0, api_name="/synthesize")
    assert len(gallery) == 1


def test_a_map_drawn_on_a_cleared_canvas_is_accepted(client, tmp_path):
    """Clear canvas leaves white, which is not a palette colour: it is read as background."""
    picture = np.full((64, 64, 3), 255, dtype=np.uint8)
    picture[8:56, 8:56] = palette(9)[2]
    Image.fromarray(picture).save(tmp_path / "drawn.png")
    gallery, info = client.predict(editor(tmp_path / "drawn.png"), 1, 0, 1.0, 0, 1.0, api_name="/synthesize")
    assert len(gallery) == 1 and "1 images in" in info


def test_what_happens_to_the_map_is_said(client, tmp_path):
    picture = np.zeros((40, 64, 3), dtype=np.uint8)  # not square, and one shape smaller than a cell
    picture[20, 30] = palette(9)[4]
    Image.fromarray(picture).save(tmp_path / "dot.png")
    _, info = client.predict(editor(tmp_path / "dot.png"), 1, 0, 1.0, 0, 1.0, api_name="/synthesize")
    assert "centre-cropped to 40×40" in info and "smaller than a token cell" in info


@pytest.mark.parametrize("seed", [1e30, -1])
def test_a_seed_out_of_range_is_a_message(client, pictures, seed):
    with pytest.raises(Exception, match="seed must be a whole number"):
        client.predict(editor(pictures["map"]), 1, seed, 1.0, 0, 1.0, api_name="/synthesize")


def test_a_port_in_use_is_one_line(prior_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UserValueError, match=f"--port {port}: another program is listening"):
            launch(str(prior_dir), port=port, block=False)


def test_oversized_images_are_refused_before_any_work():
    from apps.backend import DemoInputError, _checked_array

    with pytest.raises(DemoInputError, match="limit"):
        _checked_array(np.zeros((5000, 4000, 3), dtype=np.uint8), "image")


def test_missing_quickstart_models_name_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="make quickstart"):
        resolve_models(None, None)


def test_a_real_browser_runs_every_tab_and_saves_screenshots(url, tmp_path):
    if not Path(CHROMIUM).is_file():
        if os.environ.get("VQCT_REQUIRE_BROWSER"):  # set by .ci/run, which installs Chromium
            pytest.fail(f"no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    seconds = capture(url, tmp_path / "shots", timeout_s=120)
    assert set(seconds) == {"synthesis", "completion", "inspect"}
    for tab in seconds:
        screenshot = Image.open(tmp_path / "shots" / f"{tab}.png")
        assert screenshot.width == 1280 and screenshot.height > 400


def test_examples_never_read_a_folder_the_model_names(tmp_path):
    """A downloaded prior's config may name any data.root: the app's examples come from the
    built-in data sets only, from their built-in source."""
    private = tmp_path / "private"
    private.mkdir()
    Image.new("RGB", (40, 40), (200, 10, 10)).save(private / "secret.png")
    opened = []
    real_open = Image.open
    Image.open = lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k)
    try:
        for data in (
            {"kind": "folder", "root": str(private), "resolution": 32},
            {"kind": "photos", "root": str(private), "resolution": 32},
        ):
            model = SimpleNamespace(data=data)
            if data["kind"] == "folder":
                with pytest.raises(UserValueError, match="built-in data sets only"):
                    validation_examples(model, 1, built_in_only=True)
            else:
                assert validation_examples(model, 1, built_in_only=True)["image"].shape == (1, 3, 32, 32)
    finally:
        Image.open = real_open
    assert not [path for path in opened if str(private) in path]
