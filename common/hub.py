"""Loading a saved model by folder or Hub id, with a failure reported as the user's input: which
folder or file, and what to do."""

import json
import re
from pathlib import Path
from typing import ClassVar

import torch
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HFValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model

from .errors import UserError, UserFileNotFoundError, UserValueError
from .saved_config import SavedConfigError, check_saved_config

# namespace/name, as the Hub spells repo ids; anything else that does not exist is a missing folder
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SAVED_FILES = ("config.json", "model.safetensors")
# safetensors' names of the float dtypes: a float tensor saved as another is refused, not cast
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}


def load_pretrained(model_class, source: str, role: str):
    """``model_class.from_pretrained(source)``. A local folder is checked file by file (missing,
    cut short, not JSON: the file is named); a name that is no folder here is tried on the Hub
    only when it looks like a repo id. ``role`` is the flag or key that gave ``source``."""
    path = Path(str(source)).expanduser()
    if path.exists():
        check_saved_folder(path, model_class, role)
    elif not HUB_ID.match(str(source)):
        raise UserFileNotFoundError(f"{role} {source}: no such folder")
    try:
        return model_class.from_pretrained(str(path) if path.exists() else str(source))
    except SafetensorError as error:
        raise UserValueError(
            f"{role} {path / 'model.safetensors'}: unreadable weights ({error}); save or download the model again"
        ) from None
    except (HFValidationError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserFileNotFoundError(
            f"{role} {source}: not a {model_class.__name__} folder here, nor a Hub repo that can be reached ({reason})"
        ) from None


def check_saved_folder(folder: Path, model_class, role: str) -> None:
    """What ``save_pretrained`` writes is there and whole enough to read."""
    if not folder.is_dir():
        raise UserFileNotFoundError(f"{role} {folder}: a file, not a {model_class.__name__} save_pretrained folder")
    for name in SAVED_FILES:
        if not (folder / name).is_file():
            raise UserFileNotFoundError(
                f"{role} {folder}: no {name} (not a {model_class.__name__} save_pretrained folder)"
            )
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserValueError(
            f"{role} {folder / 'config.json'}: not valid JSON ({error}); save or download the model again"
        ) from None
    except RecursionError:
        raise UserValueError(f"{role} {folder / 'config.json'}: nested too deeply to be a model's config") from None
    if not isinstance(saved, dict):
        raise UserValueError(
            f"{role} {folder / 'config.json'}: expected a JSON object of the model's keys, got {type(saved).__name__}"
        )


class SafePretrained:
    """``from_pretrained`` for a model folder or Hub repo that may come from anyone: config.json is
    read strictly against the class's ``SAVED_CONFIG`` schema (``common.saved_config``; keys renamed
    since a save are in ``RENAMED_SAVED_KEYS``), and the architecture it describes is built on the
    meta device and compared, tensor by tensor, with the shapes in model.safetensors' header before
    any memory is allocated. A config that claims a huge model, or weights of another shape, is one
    error naming the file and the tensor; the weights then load strictly (no tensor left random)."""

    SAVED_CONFIG: ClassVar[dict[str, object]] = {}
    RENAMED_SAVED_KEYS: ClassVar[dict[str, str]] = {}

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = True,
        config: dict | None = None,  # what the mixin read; the file is read again, as saved
        **model_kwargs,
    ):
        def fetch(name: str) -> Path:
            if Path(model_id).is_dir():
                return Path(model_id) / name
            return Path(
                hf_hub_download(
                    repo_id=model_id,
                    filename=name,
                    revision=revision,
                    cache_dir=cache_dir,
                    force_download=force_download,
                    local_files_only=local_files_only,
                    token=token,
                )
            )

        # the mixin read config.json (and fetched it from the Hub); its keys are as saved
        config_file = Path(model_id) / "config.json"
        saved = config if config is not None else json.loads(config_file.read_text())
        weights_file = fetch("model.safetensors")
        try:
            kwargs = check_saved_config(saved, cls.SAVED_CONFIG, renamed=cls.RENAMED_SAVED_KEYS)
        except SavedConfigError as error:
            raise SavedConfigError(f"{config_file}: {error}") from None
        kwargs |= {key: value for key, value in model_kwargs.items() if key not in saved}  # the caller's own
        check_weights_fit(cls, kwargs, config_file, weights_file)
        model = cls(**kwargs)
        load_model(model, weights_file, strict=strict, device=map_location)
        check_finite(model, weights_file)
        return model


def check_weights_fit(model_class, kwargs: dict, config_file: Path, weights_file: Path) -> None:
    """The architecture ``kwargs`` describe, built on the meta device (no memory), has exactly the
    tensors, of exactly the shapes, that ``weights_file``'s header lists."""
    try:
        with torch.device("meta"):
            skeleton = model_class(**kwargs)
    except UserError as error:
        raise SavedConfigError(f"{config_file}: {error}") from None
    except Exception as error:  # noqa: BLE001 -- any failure to build is the file's, reported as such
        raise SavedConfigError(
            f"{config_file}: describes no {model_class.__name__} that can be built ({type(error).__name__}: {error})"
        ) from None
    expected = {name: list(tensor.shape) for name, tensor in skeleton.state_dict().items()}
    with safe_open(str(weights_file), framework="pt") as weights:
        found = {name: list(weights.get_slice(name).get_shape()) for name in weights.keys()}  # header only
        dtypes = {name: weights.get_slice(name).get_dtype() for name in weights.keys()}
    not_float = sorted(
        name
        for name, tensor in skeleton.state_dict().items()
        if tensor.is_floating_point() and dtypes.get(name, "F32") not in FLOAT_DTYPES
    )
    if not_float:
        more = f" ({len(not_float) - 1} more)" if len(not_float) > 1 else ""
        raise SavedConfigError(
            f"{weights_file}: tensor {not_float[0]} is {dtypes[not_float[0]]} where a float is expected{more}; "
            "the weights are not a save of this model"
        )
    wrong = [name for name in sorted(expected.keys() & found.keys()) if expected[name] != found[name]]
    if wrong:
        more = f" ({len(wrong) - 1} more tensors differ)" if len(wrong) > 1 else ""
        raise SavedConfigError(
            f"{weights_file}: tensor {wrong[0]} has shape {found[wrong[0]]} where {config_file.name} describes "
            f"{expected[wrong[0]]}{more}; the two files are not from one save"
        )
    for names, what in ((expected.keys() - found.keys(), "lacks"), (found.keys() - expected.keys(), "has an extra")):
        if names:
            raise SavedConfigError(
                f"{weights_file}: {what} tensor {sorted(names)[0]} ({len(names)} in all) for the model "
                f"{config_file.name} describes; the two files are not from one save"
            )


def check_finite(model: torch.nn.Module, weights_file: Path) -> None:
    """One pass over the loaded weights: a NaN or Inf would sample black, white or grey images with
    no error."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            count = int((~torch.isfinite(tensor)).sum())
            raise SavedConfigError(
                f"{weights_file}: tensor {name} holds {count} non-finite value{'s' * (count > 1)} (NaN or Inf) of "
                f"{tensor.numel()}; the weights are damaged: train, save or download them again"
            )
