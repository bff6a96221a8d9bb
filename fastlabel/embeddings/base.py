"""The encoder interface and the helpers every encoder shares (normalising, refusing text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from fastlabel.errors import NoTextSide

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource

Progress = Callable[[int, int], None]
"""Called as progress(done, total) after every batch."""

DEFAULT_BATCH_SIZE = 64


@runtime_checkable
class Encoder(Protocol):
    """Turns a source's items (and, for CLIP, text) into unit-length float32 vectors.

    `encode_images` takes a source of the media the encoder declares in `media` ("image" when it
    declares none, "audio": windows of recordings; None: rows computed elsewhere, any media)."""

    id: str
    has_text: bool
    logit_scale: float

    def encode_images(self, source: ImageSource, progress: Progress | None = None) -> np.ndarray: ...

    def encode_text(self, text: str) -> np.ndarray: ...


def l2_normalise(rows: np.ndarray) -> np.ndarray:
    """Float32 copy of `rows` with every row scaled to unit length (all-zero rows stay zero)."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return (rows / np.maximum(norms, np.finfo(np.float32).tiny)).astype(np.float32, copy=False)


def refuse_text(encoder_id: str) -> NoTextSide:
    """The error an image-only encoder raises when asked to embed text."""
    return NoTextSide(
        f"The encoder {encoder_id} embeds images only, so text queries are off. "
        "Start with --encoder clip (and CLIP weights available) to search by text."
    )

