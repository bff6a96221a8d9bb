"""Embeddings computed elsewhere: an (N, D) .npy whose rows follow the source's item order, or a folder
of shards (fastlabel.embeddings.shards) written by `fastlabel embed --engine ray` or clip-retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fastlabel.embeddings.base import Progress, l2_normalise, refuse_text
from fastlabel.files import file_sha256
from fastlabel.embeddings.shards import ShardSet, load_rows, row_order, scan_shards
from fastlabel.errors import DataError

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource


CHUNK_ROWS = 65_536


def open_embeddings(path: Path) -> np.ndarray:
    """The file's (N, D) real array, memory-mapped read-only (nothing read yet); DataError on anything else."""
    if not path.is_file():
        raise DataError(f"Embeddings file not found: {path}")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"Cannot read {path} as a .npy array: {exc}") from exc
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{path} must hold a non-empty 2-D (N, D) array; it has shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(f"{path} must hold real numbers; it holds {array.dtype}.")
    return array


def unit_rows(array: np.ndarray, where: Path) -> np.ndarray:
    """Unit-length float32 copy, made chunk by chunk (one output array, no float64 temporaries of the
    whole); DataError at the first non-finite row."""
    out = np.empty(array.shape, dtype=np.float32)
    for start in range(0, array.shape[0], CHUNK_ROWS):
        block = np.asarray(array[start:start + CHUNK_ROWS], dtype=np.float32)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~np.isfinite(np.asarray(array)).all(axis=1))
            raise DataError(f"{where} has NaN or infinite values in {bad.size} rows (first: row {bad[0]}).")
        out[start:start + block.shape[0]] = l2_normalise(block)
    return out


class PrecomputedEncoder:
    """Serves the rows of a .npy file; the cache id carries the file's content hash. The rows are
    read only on a cache miss, so a restart costs the hash, not a copy."""

    media = None  # rows computed elsewhere: any media
    has_text = False
    logit_scale = 1.0
    incremental = False  # rows follow item ids

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.dim = int(open_embeddings(self.path).shape[1])
        self.id = f"precomputed:sha256-{file_sha256(self.path)}"

    def encode_images(self, source: ImageSource, progress: Progress | None = None) -> np.ndarray:
        array = open_embeddings(self.path)
        rows, items = array.shape[0], len(source)
        if rows != items:
            raise DataError(
                f"{self.path} has {rows} rows but the data source has {items} images; "
                "they must match one row per image, in item order."
            )
        out = unit_rows(array, self.path)
        if progress is not None:
            progress(items, items)
        return out

    def encode_text(self, text: str) -> np.ndarray:
        raise refuse_text(self.id)


class ShardEncoder:
    """Serves a shard folder's rows in item order; the cache id carries the folder's digest, so a
    restart maps the cached copy instead of reading the shards again."""

    media = None  # rows computed elsewhere: any media
    has_text = False
    logit_scale = 1.0
    incremental = False  # rows are matched by id or path over the whole source, read all at once

    def __init__(self, root: str | Path, expected_encoder: str | None = None) -> None:
        self.shards: ShardSet = scan_shards(root)
        recorded = self.shards.encoder_id
        if expected_encoder and recorded and recorded.split(":", 1)[0] != expected_encoder:
            raise DataError(f"{self.shards.root} holds embeddings from {recorded}, not from the {expected_encoder} "
                            f"encoder asked for; drop --encoder or pass --encoder precomputed")
        self.dim = self.shards.dim
        self.id = f"shards:{recorded or 'unknown'}:sha256-{self.shards.digest()[:32]}"

    def encode_images(self, source: ImageSource, progress: Progress | None = None) -> np.ndarray:
        return load_rows(self.shards, row_order(self.shards, source), progress)

    def encode_text(self, text: str) -> np.ndarray:
        raise refuse_text(self.id)
