"""What every data source shares: checking an item id, and the PNG its card is drawn from."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from fastlabel.errors import UnknownItem


def check_item_id(item_id: object, length: int) -> int:
    """Return item_id as an int if it names an item of a source of this length, else UnknownItem."""
    if isinstance(item_id, bool) or not isinstance(item_id, (int, np.integer)):
        raise UnknownItem(f"item id must be an integer, got {item_id!r}")
    index = int(item_id)
    if not 0 <= index < length:
        raise UnknownItem(f"no item {index}: ids run from 0 to {length - 1}")
    return index


def png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
