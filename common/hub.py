"""Loading a saved model by folder or Hub id, with a failure reported as the user's input: which
folder or file, and what to do."""

import json
import re
from pathlib import Path

from huggingface_hub.errors import HFValidationError
from safetensors import SafetensorError

from .errors import UserFileNotFoundError, UserValueError

# namespace/name, as the Hub spells repo ids; anything else that does not exist is a missing folder
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SAVED_FILES = ("config.json", "model.safetensors")


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
        json.loads((folder / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserValueError(
            f"{role} {folder / 'config.json'}: not valid JSON ({error}); save or download the model again"
        ) from None
