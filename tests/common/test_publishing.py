"""Hub publishing without a network: the final folder with its model card, pushed to a stand-in
for the Hub API that records what it was sent, and a prior loaded by repo id from a stand-in
download that serves files from a folder (one id brings the tokenizer too)."""

import logging
import shutil

import huggingface_hub.hub_mixin as hub_mixin
import pytest
import torch

import vqct.common.accelerator as accelerator_setup
import vqct.common.final as final_save
import vqct.common.hub as hub
from vqct.common.config import ConfigError, load_config
from vqct.common.history import latest_grid
from vqct.prior import PriorConfig, PriorTrainConfig, VQCTPrior
from vqct.tokenizer.model import VQCTTokenizer


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
    assert (
        "| val/loss | 3.25 |" in card
        and "![" in card
        and "kind: autoregressive" in card
        and "`shapes` at 64 px" in card
    )


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
    assert sorted(name for _, name in requested) == ["config.json", "model.safetensors"]  # one repo, nothing else
    for name, value in prior_model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    codes = torch.randint(0, 4, (1, 2, 8, 8))
    assert torch.equal(loaded.tokenizer.decode(codes), prior_model.tokenizer.decode(codes))
    shutil.rmtree(repo)


def test_the_card_metadata_carries_the_metrics_and_data_set_the_hub_indexes(tmp_path):
    from huggingface_hub import ModelCard

    from vqct.common.card import write_model_card

    config = {"data": {"kind": "hf", "root": "someone/faces", "resolution": 64}}
    metrics = {"step": 8, "val/psnr": 23.5, "val/ssim": 0.61, "val/l1": 0.04}
    write_model_card(tmp_path, kind="tokenizer", repo="someone/tok", config=config, metrics=metrics, grid=None)
    data = ModelCard.load(tmp_path / "README.md").data
    indexed = {result.metric_type: result.metric_value for result in data.eval_results}
    assert indexed == {"psnr": 23.5, "ssim": 0.61}  # the headline metrics; the card's table has all
    assert data.datasets == ["someone/faces"] and data.license == "mit" and data.base_model is None
