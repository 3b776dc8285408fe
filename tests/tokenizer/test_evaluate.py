import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from vqct.common.metrics import paper_pixel_metrics, pixel_metrics
from vqct.tokenizer.evaluate import data_config, main, markdown_table
from vqct.tokenizer.model import VQCTTokenizer
from vqct.tokenizer.usage import CodeHistogram


def test_pixel_metrics_on_known_errors():
    images = torch.rand(3, 3, 16, 16) * 2 - 1
    same = pixel_metrics(images, images)
    assert torch.all(same["l1"] == 0) and torch.allclose(same["ssim"], torch.ones(3))
    shifted = pixel_metrics(torch.zeros(2, 3, 8, 8), torch.full((2, 3, 8, 8), 0.2))  # 0.1 apart on [0, 1]
    assert torch.allclose(shifted["l1"], torch.full((2,), 0.1))
    assert torch.allclose(shifted["l2"], torch.full((2,), 0.01))
    assert torch.allclose(shifted["psnr"], torch.full((2,), 20.0))


def test_paper_protocol_scales_and_8_bit_psnr():
    """The official evaluation's scale: l1 2× and l2 4× ours for the same error (on [-1, 1]),
    overshoot not clamped away, PSNR from the rounded 8-bit values."""
    images, shifted = torch.zeros(2, 3, 8, 8), torch.full((2, 3, 8, 8), 0.2)
    ours, paper = pixel_metrics(images, shifted), paper_pixel_metrics(images, shifted)
    assert torch.allclose(paper["paper/l1"], 2 * ours["l1"]) and torch.allclose(paper["paper/l2"], 4 * ours["l2"])
    # 0 → 127.5 → 128 and 0.2 → 153 on 8 bits: 25 levels apart
    assert torch.allclose(paper["paper/psnr"], torch.full((2,), 20 * torch.log10(torch.tensor(255 / 25)).item()))
    overshoot = paper_pixel_metrics(torch.ones(1, 3, 16, 16), torch.full((1, 3, 16, 16), 1.5))
    assert overshoot["paper/l1"].item() == pytest.approx(0.5)  # ours clamps it to 0
    assert pixel_metrics(torch.ones(1, 3, 16, 16), torch.full((1, 3, 16, 16), 1.5))["l1"].item() == 0
    assert overshoot["paper/psnr"].item() == pytest.approx(100.0)  # the same 8-bit image


def test_code_histogram_usage_and_perplexity():
    histogram = CodeHistogram((8, 4), "cpu")
    histogram.update(torch.tensor([[[[0, 1], [2, 3]], [[0, 0], [0, 0]]]]))  # [B=1, G=2, 2, 2]
    metrics = histogram.metrics(("adjective", "noun"))
    assert metrics["usage/adjective_percent"] == 50.0 and metrics["usage/adjective_perplexity"] == pytest.approx(4.0)
    assert metrics["usage/noun_percent"] == 25.0 and metrics["usage/noun_perplexity"] == pytest.approx(1.0)


@pytest.fixture
def run_with_checkpoints(tmp_path, tiny_language_codebook, tiny_config):
    """A run folder like train.py writes: final/ and checkpoints/checkpoint-N/model.safetensors."""
    config = tiny_config()
    config.autoencoder.resolution = 32
    model = VQCTTokenizer.build(config, tiny_language_codebook)
    for step in (1, 2):
        folder = tmp_path / "run" / "checkpoints" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.01 * torch.randn_like(parameter))
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    model.save_pretrained(tmp_path / "run" / "final")
    baseline = VQCTTokenizer.build(tiny_config("vq"))
    baseline.save_pretrained(tmp_path / "vqgan")
    return tmp_path / "run" / "final", tmp_path / "vqgan"


def test_comparison_table_metrics_and_figures(run_with_checkpoints, tmp_path, capsys):
    vqct, vqgan = run_with_checkpoints
    out = tmp_path / "eval"
    assert (
        main(
            [
                "--model",
                str(vqct),
                "--model",
                str(vqgan),
                "--data",
                "shapes",
                "--num",
                "6",
                "--batch-size",
                "4",
                "--out",
                str(out),
                "--figures",
                "--no-fid",
            ]
        )
        == 0
    )
    results = json.loads((out / "metrics.json").read_text())
    assert results["resolution"] == 32 and list(results["models"]) == ["run", "vqgan"]
    run = results["models"]["run"]
    assert run["images"] == 6 and run["quantizer"] == "dual" and run["groups"] == ["adjective", "noun"]
    assert 0 < run["psnr"] < 60 and 0 <= run["ssim"] <= 1 and run["images_per_second"] > 0
    assert 0 < run["adjective_percent"] <= 100 and run["noun_perplexity"] >= 1 and "fid" not in run
    assert run["paper/l2"] > run["l2"] and abs(run["paper/psnr"] - run["psnr"]) < 1  # both protocols kept
    table = (out / "metrics.md").read_text()
    assert table.count("\n| ") == 2 and "| run | dual |" in table and "| vqgan | vq | 16 |" in table
    for name in ("usage.png", "code_similarity.png", "patch_words.png"):
        assert Image.open(out / "run" / name).size[0] > 100
    assert not (out / "vqgan" / "patch_words.png").exists()  # a plain VQGAN's codes carry no words
    assert "| run |" in capsys.readouterr().out


def test_the_table_shows_the_protocol_asked_for():
    metrics = {"quantizer": "dual", "codebook_sizes": [4, 4], "groups": ["adjective"], "images_per_second": 1.0}
    metrics |= {"adjective_percent": 50.0, "adjective_perplexity": 2.0, "l2": 0.0111, "paper/l2": 0.0444}
    assert "0.0111" in markdown_table({"m": metrics}) and "0.0444" not in markdown_table({"m": metrics})
    paper = markdown_table({"m": metrics}, "paper")
    assert "0.0444" in paper and "0.0111" not in paper and "8-bit" in paper


@pytest.mark.slow
def test_folder_data_with_fid(run_with_checkpoints, tmp_path):
    vqct, _ = run_with_checkpoints
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for i in range(5):
        Image.new("RGB", (40, 48), (40 * i, 100, 200 - 30 * i)).save(folder / ("nested" if i % 2 else "") / f"{i}.png")
    out = tmp_path / "eval"
    assert main(["--model", str(vqct), "--data", str(folder), "--out", str(out)]) == 0
    run = json.loads((out / "metrics.json").read_text())["models"]["run"]
    assert run["images"] == 5 and run["fid"] >= 0


def test_data_argument_forms(tmp_path, monkeypatch):
    assert data_config("shapes", 64, 10).validation_length == 10
    config = data_config("configs/tokenizer/celebahq_vqct_f16.yaml", 128, None)
    assert (config.kind, config.split, config.resolution, config.flip) == ("celebahq", "validation", 128, False)
    with pytest.raises(FileNotFoundError, match="--data"):
        data_config(str(tmp_path / "nothing"), 32, None)
    monkeypatch.chdir(tmp_path)  # a shipped config by name, from another folder
    assert data_config("tokenizer/celebahq_vqct_f16.yaml", 128, None).kind == "celebahq"


def test_unreadable_files_are_left_out_not_counted_twice(run_with_checkpoints, tmp_path):
    vqct, _ = run_with_checkpoints
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (60 * i, 90, 120)).save(folder / f"good{i}.png")
    for i in range(2):
        (folder / f"broken{i}.png").write_bytes(b"not an image")
    out = tmp_path / "eval"
    assert main(["--model", str(vqct), "--data", str(folder), "--out", str(out), "--no-fid", "--batch-size", "2"]) == 0
    run = json.loads((out / "metrics.json").read_text())["models"]["run"]
    assert run["images"] == 3
    assert [Path(p).name for p in run["skipped"]] == ["broken0.png", "broken1.png"]


@pytest.mark.parametrize("flag", ["--num", "--batch-size", "--resolution"])
def test_a_count_below_one_is_refused_before_any_work(flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--model", "unused", "--data", "shapes", "--out", str(tmp_path / "out"), flag, "0"])
    assert stopped.value.code == 2 and f"{flag} must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_empty_folder_is_one_error_naming_it(tmp_path, capsys, tiny_config):
    model = tmp_path / "model"
    VQCTTokenizer.build(tiny_config("vq")).save_pretrained(model)
    (tmp_path / "empty").mkdir()
    code = main(["--model", str(model), "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "out"), "--no-fid"])
    assert code == 2 and f"no images found for data.kind='folder', split 'all' under {tmp_path / 'empty'}" in (
        capsys.readouterr().err
    )
