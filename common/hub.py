"""Loading a saved model by folder or Hub id, with a failure reported as the user's input: which
folder or file, and what to do."""

import json
import shutil
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar

import torch
from huggingface_hub import ModelCard, hf_hub_download
from huggingface_hub.errors import HFValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model

from .card import HUB_ID, evaluation_headline, public
from .errors import UserError, UserFileNotFoundError, UserValueError
from .saved_config import SavedConfigError, check_saved_config

# anything that is no Hub id (namespace/name) and does not exist is a missing folder
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
    error naming the file and the tensor; the weights then load strictly (no tensor left random).

    Saving: config.json also records the class and the toolkit's version (``_class_name``,
    ``_vqct_version``, as diffusers writes ``_diffusers_version``), and every save (``save_pretrained``,
    ``push_to_hub``, a run's final save) writes the model card ``card_for`` makes from the model's
    ``card`` record, with the sample grid beside it as samples.png."""

    SAVED_CONFIG: ClassVar[dict[str, object]] = {}
    RENAMED_SAVED_KEYS: ClassVar[dict[str, str]] = {}
    card: dict  # the model card's record (common.card), saved in config.json
    sample_grid: Path | None = None  # the image grid its card shows (samples.png of a loaded model)

    def card_for(self, repo_id: str | None, samples: bool) -> ModelCard:
        """This model's card (``common.card.model_card`` with the class's own facts)."""
        raise NotImplementedError

    def record_card(self, **fields) -> None:
        """Facts for the model card (``common.card``: ``repo_id``, ``origin``, ``license``,
        ``base_model``, ``run_config``, ``validation``, ``evaluation``), kept in config.json so a
        model loaded and saved again publishes the same card. Local paths are kept out (a record is
        published with config.json)."""
        self.card.update({name: public(value) for name, value in fields.items() if value is not None})

    def record_evaluation(self, metrics_file: str | Path) -> None:
        """``vqct-evaluate``'s metrics.json for this model: its headline numbers go in the card."""
        self.record_card(evaluation=evaluation_headline(metrics_file))

    def save_pretrained(self, save_directory, *, repo_id: str | None = None, model_card_kwargs=None, **kwargs):
        """The mixin's save, with this model's card (a README.md already there is replaced: the card
        is the model's, as config.json is); ``repo_id`` names the repo in the card."""
        (Path(save_directory) / "README.md").unlink(missing_ok=True)
        card_kwargs = {"repo_id": repo_id, **(model_card_kwargs or {})}
        return super().save_pretrained(save_directory, repo_id=repo_id, model_card_kwargs=card_kwargs, **kwargs)

    def push_to_hub(self, repo_id: str, *, model_card_kwargs=None, **kwargs):
        """The mixin's upload; the card names ``repo_id``."""
        return super().push_to_hub(
            repo_id, model_card_kwargs={"repo_id": repo_id, **(model_card_kwargs or {})}, **kwargs
        )

    def saved_arguments(self) -> dict:
        """The arguments config.json holds to rebuild this model, as they are now (the card's record
        grows after construction)."""
        return {**(self._hub_mixin_config or {}), "card": dict(self.card)}

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)  # model.safetensors
        config = self.saved_arguments() | saved_metadata(type(self))
        # keys in their order (not sorted): the card shows the run's config as it was written
        (save_directory / "config.json").write_text(json.dumps(config, indent=2))
        grid = self.sample_grid
        if (
            grid is not None
            and Path(grid).is_file()
            and Path(grid).resolve() != (save_directory / "samples.png").resolve()
        ):
            shutil.copyfile(grid, save_directory / "samples.png")

    def generate_model_card(self, repo_id: str | None = None, **_) -> ModelCard:
        """What the mixin writes as README.md: this model's card (it runs after ``_save_pretrained``)."""
        grid = self.sample_grid
        return self.card_for(repo_id, samples=grid is not None and Path(grid).is_file())

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
        saved = dict(config if config is not None else json.loads(config_file.read_text()))
        weights_file = fetch("model.safetensors")
        try:
            check_saved_metadata(saved, cls)
            kwargs = check_saved_config(saved, cls.SAVED_CONFIG, renamed=cls.RENAMED_SAVED_KEYS)
        except SavedConfigError as error:
            raise SavedConfigError(f"{config_file}: {error}") from None
        kwargs |= {key: value for key, value in model_kwargs.items() if key not in saved}  # the caller's own
        check_weights_fit(cls, kwargs, config_file, weights_file)
        model = cls(**kwargs)
        load_model(model, weights_file, strict=strict, device=map_location)
        check_finite(model, weights_file)
        model.sample_grid = fetch_optional(fetch, "samples.png")
        evaluation = Path(model_id) / "metrics.json"  # vqct-evaluate's, written into the model's folder
        if evaluation.is_file() and "evaluation" not in model.card:
            try:
                model.record_evaluation(evaluation)
            except UserValueError:
                pass  # another metrics.json: not an evaluation of this model
        return model


def fetch_optional(fetch, name: str) -> Path | None:
    """A file of the model's folder or repo that may be absent (the card's sample grid)."""
    try:
        path = fetch(name)
    except Exception:  # noqa: BLE001 -- absent from the repo, or the Hub out of reach: no grid
        return None
    return path if path.is_file() else None


METADATA_KEYS = ("_class_name", "_vqct_version")


def saved_metadata(model_class) -> dict:
    """What config.json records besides the model's arguments: its class and the toolkit's version."""
    try:
        toolkit = version("vqct")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, not installed
        toolkit = "unknown"
    return {"_class_name": model_class.__name__, "_vqct_version": toolkit}


def check_saved_metadata(saved: dict, model_class) -> None:
    """``_class_name`` and ``_vqct_version`` taken out of ``saved`` (older saves have neither): each
    a string, and the class the one loading it."""
    for key in METADATA_KEYS:
        if key in saved and not isinstance(saved[key], str):
            raise SavedConfigError(f"{key}: expected a string, got {type(saved[key]).__name__}")
    name = saved.pop("_class_name", model_class.__name__)
    saved.pop("_vqct_version", None)
    if name != model_class.__name__:
        raise SavedConfigError(
            f"_class_name: this folder holds a {name}, not a {model_class.__name__}: load it with {name}.from_pretrained"
        )


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
