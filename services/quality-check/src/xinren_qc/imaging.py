"""Which image an upload is, judged by its content (never its name): JPEG, PNG or WebP that Pillow can read."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

# Pillow's format name -> the content type we store and serve.
ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Larger than any photo a phone takes; beyond it Pillow's decompression-bomb guard refuses the file.
MAX_PIXELS = 120_000_000


def image_type(data: bytes) -> str | None:
    """The content type of an accepted image, or None when the bytes are not one (whatever the file was called)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(ACCEPTED)) as img:
                if img.width * img.height > MAX_PIXELS:
                    return None
                fmt = img.format
                img.verify()  # the structure is sound (chunks, CRCs), not only the magic bytes
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        return None
    return ACCEPTED.get(fmt or "")
