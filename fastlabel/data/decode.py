"""The one decode of an image file into RGB, shared by the folder check, the thumbnails and the encoders.

Everything a camera or an editor may write is turned into 8-bit RGB the same way: EXIF
orientation applied, transparency laid over white, CMYK and palettes converted, and high bit
depths (16-bit grayscale, 32-bit integer or float) scaled to 0-255 instead of clipped. The
whole file is decoded, so a truncated file fails here, with its reason, wherever it is read.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fastlabel.errors import DataError

_HIGH_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


@contextmanager
def no_pixel_limit() -> Iterator[None]:
    """Lift Pillow's decompression-bomb guard: a big sprite sheet of the user's own is expected."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert to RGB, laying any transparency over white rather than black."""
    if image.mode == "RGB":
        return image
    if image.mode in _HIGH_BIT_MODES:
        return to_8bit(image).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def to_8bit(image: Image.Image) -> Image.Image:
    """A single-channel image of more than 8 bits as 8-bit grayscale, scaled by its bit depth.

    16-bit values (0-65535) are divided by 257; floats in [0, 1] are multiplied by 255; any
    other range (32-bit integers, floats beyond [0, 1]) is stretched from its minimum to its maximum.
    """
    values = np.asarray(image).astype(np.float64)
    if values.size == 0:
        return Image.new("L", image.size)
    low, high = float(values.min()), float(values.max())
    if image.mode.startswith("I;16") or (image.mode == "I" and low >= 0 and high <= 65535 and high > 255):
        scaled = values / 257.0
    elif image.mode == "I" and low >= 0 and high <= 255:
        scaled = values
    elif image.mode == "F" and low >= 0 and high <= 1:
        scaled = values * 255.0
    else:
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def decode_image(source: str | os.PathLike[str] | bytes, max_side: int | None = None) -> Image.Image:
    """Decode a file (or its bytes) fully into an upright RGB image; DataError says why it cannot be.

    `max_side` lets JPEG decode at a reduced scale (never below max_side on the short side), which
    makes thumbnails and embeddings of camera photos several times cheaper.
    """
    name = "image" if isinstance(source, bytes) else str(source)
    handle = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    try:
        with Image.open(handle) as image:
            if max_side is not None and image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = to_rgb(upright)
            rgb.load()
            return rgb
    except FileNotFoundError:
        raise DataError(f"{name} does not exist (removed while running?)") from None
    except Exception as error:  # Pillow raises many types for corrupt files; all mean "cannot use it"
        raise DataError(f"{type(error).__name__}: {error}") from None


def header_problem(source: str | os.PathLike[str] | bytes) -> str | None:
    """A quick check from the header only (of a file, or of bytes in memory): why it is not an image, or
    None when it looks like one. Truncated data passes this; the full decode (thumbnail, embedding) catches it later.
    """
    try:
        if (len(source) if isinstance(source, bytes) else os.path.getsize(source)) == 0:
            return "empty file (0 bytes)"
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            image.size  # noqa: B018 -- the header must name a size
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None
