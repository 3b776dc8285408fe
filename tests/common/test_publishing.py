"""Hub publishing without a network: the final folder with its model card, pushed to a stand-in
for the Hub API that records what it was sent, and a prior loaded by repo id from a stand-in
download that serves files from a folder (one id brings the tokenizer too)."""

import json
import logging
import shutil
from importlib.metadata import version

import huggingface_hub.hub_mixin as hub_mixin
import pytest
import torch

import vqct.common.accelerator as accelerator_setup
import vqct.common.final as final_save
import vqct.common.hub as hub
from vqct.common.atomic import write_json
from vqct.common.config import ConfigError, load_config
from vqct.common.errors import UserValueError
from vqct.common.history import latest_grid
from vqct.prior import PriorConfig, PriorTrainConfig, VQCTPrior
from vqct.tokenizer.model import VQCTTokenizer

from .cards import assert_publishable_card


class RecordingHub:
    """Stands in for huggingface_hub.HfApi: records the repos made and the files uploaded."""

    calls = []

    def create_repo(self, repo_id, private=False, exist_ok=False):
        self.calls.append(("create_repo", repo_id, private))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, repo_id, folder_path, commit_message=""):
        files = sorted(p.name for p in __import__("pathlib").Path(folder_path).iterdir())
        self.calls.append(("upload_folder", repo_id, files))


@pytest.fixture
def prior_model(tiny_language_codebook, tiny_config):
    config = tiny_config()
    config.autoencoder.resolution, config.autoencoder.ch_mult, config.autoencoder.attn_resolutions = 32, [1, 2, 2], []
    tokenizer = VQCTTokenizer.build(config, tiny_language_codebook).eval()
    prior = PriorConfig(dim=32, depth=1, heads=2, condition="semantic", num_classes=9)
    return VQCTPrior.build(
        prior, tokenizer, token_grid=(8, 8), tokenizer_source="tiny", data={"kind": "shapes", "resolution": 32}
    )


def test_push_sends_weights_config_card_and_samples(prior_model, tmp_path, monkeypatch):
    monkeypatch.setattr(final_save, "HfApi", RecordingHub)
    RecordingHub.calls = []
    (tmp_path / "samples").mkdir()
    torch.manual_seed(0)
    from torchvision.utils import save_image

    save_image(torch.rand(3, 16, 16), tmp_path / "samples" / "samples-0000004.png")
    config = load_config(
        PriorTrainConfig,
        None,
        [f"output_dir={tmp_path}", "push_to_hub=true", "hub_model_id=someone/vqct-shapes-prior", "hub_private=true"],
    )
    metrics = {"step": 4, "val/loss": 3.25}
    final = final_save.save_final(
        prior_model,
        config,
        logging.getLogger("test"),
        kind="prior",
        metrics=metrics,
        grid=latest_grid(tmp_path),
    )
    assert RecordingHub.calls == [
        ("create_repo", "someone/vqct-shapes-prior", True),
        (
            "upload_folder",
            "someone/vqct-shapes-prior",
            ["README.md", "config.json", "model.safetensors", "samples.png"],
        ),
    ]
    card = (final / "README.md").read_text()
    assert "library_name: vqct" in card and 'VQCTPrior.from_pretrained("someone/vqct-shapes-prior")' in card
    assert "| val/loss | 3.25 |" in card and "![" in card and "kind: autoregressive" in card and "at 64 px" in card


def test_push_without_a_repo_id_fails_before_training(tmp_path):
    config = load_config(PriorTrainConfig, None, [f"output_dir={tmp_path}", "push_to_hub=true"])
    with pytest.raises(ConfigError, match="hub_model_id"):
        accelerator_setup.make_accelerator(config)


def test_a_prior_loaded_by_repo_id_brings_its_tokenizer(prior_model, tmp_path, monkeypatch):
    repo = tmp_path / "hub" / "someone" / "vqct-prior"
    prior_model.save_pretrained(repo)
    requested = []

    def download(repo_id, filename, **kwargs):  # stands in for the Hub's file download
        requested.append((repo_id, filename))
        return str(tmp_path / "hub" / repo_id / filename)

    monkeypatch.setattr(hub_mixin, "hf_hub_download", download)  # config.json, read by the mixin
    monkeypatch.setattr(hub, "hf_hub_download", download)  # model.safetensors, after its header is checked
    loaded = VQCTPrior.from_pretrained("someone/vqct-prior")
    # one repo, nothing else: the sample grid its card shows is asked for too
    assert sorted(name for _, name in requested) == ["config.json", "model.safetensors", "samples.png"]
    for name, value in prior_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    codes = torch.randint(0, 4, (1, 2, 8, 8))
    assert torch.equal(loaded.tokenizer.decode(codes), prior_model.tokenizer.decode(codes))
    shutil.rmtree(repo)


def test_the_card_metadata_carries_the_metrics_and_data_set_the_hub_indexes(prior_model, tmp_path):
    tokenizer = prior_model.tokenizer
    tokenizer.record_card(
        run_config={"data": {"kind": "hf", "root": "someone/faces", "resolution": 64}},
        validation={"step": 8, "seconds": 12.5, "val/psnr": 23.5, "val/ssim": 0.61, "val/l1": 0.04},
    )
    tokenizer.save_pretrained(tmp_path / "tok")
    card = assert_publishable_card(tmp_path / "tok", tmp_path)
    indexed = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert indexed == {"psnr": 23.5, "ssim": 0.61}  # the headline metrics; the card's table has all
    assert card.data.datasets == ["someone/faces"] and card.data.license == "mit" and card.data.base_model is None
    assert "| val/l1 | 0.04 |" in card.text and "| step |" not in card.text and "seconds" not in card.text


def test_a_data_set_that_is_no_hub_id_is_described_not_listed(prior_model, tmp_path):
    tokenizer = prior_model.tokenizer
    tokenizer.record_card(run_config={"data": {"kind": "folder", "root": str(tmp_path / "images"), "resolution": 32}})
    tokenizer.save_pretrained(tmp_path / "tok")
    card = assert_publishable_card(tmp_path / "tok", tmp_path)
    assert card.data.datasets is None and "A folder of images (`data.kind=folder`)" in card.text


def save_each_way(prior_model, tmp_path, monkeypatch) -> dict:
    """The prior saved by each path: a run's final save (no hub_model_id), save_pretrained of that
    model loaded again, and push_to_hub (to a stand-in for the Hub API that keeps the folder sent)."""
    prior_model.tokenizer.record_card(repo_id="someone/vqct-shapes-tokenizer")
    (tmp_path / "run" / "samples").mkdir(parents=True)
    from torchvision.utils import save_image

    save_image(torch.rand(3, 16, 16), tmp_path / "run" / "samples" / "samples-0000004.png")
    config = load_config(
        PriorTrainConfig, None, [f"output_dir={tmp_path / 'run'}", f"tokenizer={tmp_path / 'tokenizer' / 'final'}"]
    )
    metrics = {"step": 4, "seconds": 2.5, "train/loss": 3.5, "val/loss": 3.25}
    grid = latest_grid(tmp_path / "run")
    folders = {
        "final": final_save.save_final(
            prior_model, config, logging.getLogger("test"), kind="prior", metrics=metrics, grid=grid
        )
    }
    loaded = VQCTPrior.from_pretrained(folders["final"])
    loaded.save_pretrained(tmp_path / "saved")
    folders["save_pretrained"] = tmp_path / "saved"

    class KeepingHub:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, private=None, exist_ok=False):
            return type("RepoUrl", (), {"repo_id": repo_id})()

        def upload_folder(self, repo_id, folder_path, **kwargs):
            shutil.copytree(folder_path, tmp_path / "pushed")
            return f"https://huggingface.co/{repo_id}"

    monkeypatch.setattr(hub_mixin, "HfApi", KeepingHub)
    loaded.push_to_hub("someone/vqct-shapes-prior")
    folders["push_to_hub"] = tmp_path / "pushed"
    return folders


def test_every_save_path_writes_the_models_card_and_a_round_trip_keeps_it(prior_model, tmp_path, monkeypatch):
    folders = save_each_way(prior_model, tmp_path, monkeypatch)
    cards = {path: assert_publishable_card(folder, tmp_path) for path, folder in folders.items()}
    for path, folder in folders.items():
        assert sorted(p.name for p in folder.iterdir()) == [
            "README.md",
            "config.json",
            "model.safetensors",
            "samples.png",
        ]
        card = cards[path]
        assert card.data.base_model == "someone/vqct-shapes-tokenizer"  # the prior's tokenizer, by its repo id
        assert card.data.pipeline_tag == "image-to-image" and card.data.eval_results[0].metric_value == 3.25
        assert "| val/loss | 3.25 |" in card.text and "![" in card.text and "kind: autoregressive" in card.text
        assert "tokenizer: <local path>" in card.text and "`data.kind=shapes`" in card.text
    assert cards["final"].content == cards["save_pretrained"].content  # save → load → save keeps it
    assert 'from_pretrained("<user>/<repo>")' in cards["final"].text  # no repo id known: a placeholder
    assert 'from_pretrained("someone/vqct-shapes-prior")' in cards["push_to_hub"].text
    assert cards["push_to_hub"].data.model_name == "someone/vqct-shapes-prior"


def test_config_json_names_the_class_and_toolkit_version_and_older_saves_still_load(prior_model, tmp_path):
    prior_model.save_pretrained(tmp_path / "new")
    saved = json.loads((tmp_path / "new" / "config.json").read_text())
    assert saved["_class_name"] == "VQCTPrior" and saved["_vqct_version"] == version("vqct")
    old = {key: value for key, value in saved.items() if key not in ("_class_name", "_vqct_version", "card")}
    old["tokenizer_config"] = {key: value for key, value in old["tokenizer_config"].items() if key != "card"}
    shutil.copytree(tmp_path / "new", tmp_path / "old")
    (tmp_path / "old" / "config.json").write_text(json.dumps(old))  # as 0.2.0 saved it
    loaded = VQCTPrior.from_pretrained(tmp_path / "old")
    assert loaded.card == {} and loaded.tokenizer.card == {}
    for name, value in prior_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    with pytest.raises(hub.SavedConfigError, match="this folder holds a VQCTPrior, not a VQCTTokenizer"):
        VQCTTokenizer.from_pretrained(tmp_path / "new")


def test_vqct_evaluates_numbers_beside_or_recorded_go_in_the_card(prior_model, tmp_path):
    evaluation = {
        "prior": "x",
        "num": 256,
        "label_following": {"samples": {"object_iou": 0.699, "mean_iou": 0.61, "pixel_accuracy": 0.9}},
        "diversity": {},
        "fid_samples": 41.5,
        "fid_reconstructions": 36.4,
    }
    prior_model.save_pretrained(tmp_path / "model")
    write_json(tmp_path / "model" / "metrics.json", evaluation)  # vqct-evaluate prior --out beside the weights
    VQCTPrior.from_pretrained(tmp_path / "model").save_pretrained(tmp_path / "published")
    card = assert_publishable_card(tmp_path / "published", tmp_path)
    indexed = {result.metric_type: result.metric_value for result in card.data.eval_results}
    assert indexed["label_following_object_iou"] == 0.699 and indexed["FID_of_the_samples"] == 41.5
    assert "## Evaluation (`vqct-evaluate`, 256 images)" in card.text
    with pytest.raises(UserValueError, match="not a vqct-evaluate metrics.json"):
        write_json(tmp_path / "other.json", {"final": {}, "history": []})  # a run's metrics history
        prior_model.record_evaluation(tmp_path / "other.json")
