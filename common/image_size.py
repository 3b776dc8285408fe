"""The largest picture a command or the app reads from a user: 4096×4096. The size comes from the
file's header, so a huge picture (or a header that only claims one) is refused before a pixel is
decoded or a buffer allocated."""

from PIL import Image

from .errors import UserError, UserValueError

MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE


def check_image_size(image: Image.Image | tuple[int, int], what: str, error: type[UserError] = UserValueError) -> None:
    """``image`` (opened, not yet loaded, or its (width, height)) within ``MAX_PIXELS``; ``what``
    names it in the ``error``."""
    width, height = image.size if isinstance(image, Image.Image) else image
    if width * height > MAX_PIXELS:
        raise error(f"{what} is {width}×{height} pixels; the limit is {MAX_SIDE}×{MAX_SIDE}")
