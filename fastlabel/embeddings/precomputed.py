"""Embeddings computed elsewhere, read from an (N, D) .npy whose rows follow the source's item order."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fastlabel.embeddings.base import Progress, file_sha256, l2_normalise, refuse_text
from fastlabel.errors import DataError

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource


def read_embeddings(path: Path) -> np.ndarray:
    """The file's (N, D) finite array as unit-length float32 rows; DataError on anything else."""
    if not path.is_file():
        raise DataError(f"Embeddings file not found: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"Cannot read {path} as a .npy array: {exc}") from exc
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{path} must hold a non-empty 2-D (N, D) array; it has shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(f"{path} must hold real numbers; it holds {array.dtype}.")
    bad_rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad_rows.size:
        raise DataError(f"{path} has NaN or infinite values in {bad_rows.size} rows (first: row {bad_rows[0]}).")
    return l2_normalise(array)


class PrecomputedEncoder:
    """Serves the rows of a .npy file; the cache id carries the file's content hash."""

    has_text = False
    logit_scale = 1.0
    incremental = False  # rows follow item ids

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.embeddings = read_embeddings(self.path)
        self.dim = int(self.embeddings.shape[1])
        self.id = f"precomputed:sha256-{file_sha256(self.path)}"

    def encode_images(self, source: ImageSource, progress: Progress | None = None) -> np.ndarray:
        rows, items = self.embeddings.shape[0], len(source)
        if rows != items:
            raise DataError(
                f"{self.path} has {rows} rows but the data source has {items} images; "
                "they must match one row per image, in item order."
            )
        if progress is not None:
            progress(items, items)
        return self.embeddings.copy()

    def encode_text(self, text: str) -> np.ndarray:
        raise refuse_text(self.id)
