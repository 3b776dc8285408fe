"""Loading a saved model by folder or Hub id, with a failure reported as the user's input."""

from huggingface_hub.errors import HFValidationError

from .errors import UserFileNotFoundError


def load_pretrained(model_class, source: str, role: str):
    """``model_class.from_pretrained(source)``; a source that is neither a ``save_pretrained`` folder
    nor a Hub repo that can be reached is one ``UserFileNotFoundError`` naming ``role`` (the flag
    or key that gave it)."""
    try:
        return model_class.from_pretrained(str(source))
    except (HFValidationError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserFileNotFoundError(
            f"{role} {source}: not a {model_class.__name__} save_pretrained folder, nor a Hub repo that can be reached ({reason})"
        ) from None
