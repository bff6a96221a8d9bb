"""On-disk embedding cache keyed by (data fingerprint, encoder id), so a restart never re-embeds.

Each entry is `<key>.npy` plus a `<key>.json` sidecar. Both are written atomically (temp file in
the same folder, fsync, rename), and an entry counts only when the two agree, so a crash mid-write
leaves a miss, never a half-written array. Loads are memory-mapped copy-on-write: instant, and
writable in memory without touching the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastlabel.files import write_atomic

log = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 1
KEY_LENGTH = 24
FLOAT16_ABOVE = 1 << 30  # bytes as float32: larger arrays are stored as float16, half the memory map


def stored_dtype(shape: tuple[int, ...]) -> type[np.floating]:
    """float16 for a pool above 1 GB of float32 (1M x 512 is 2 GB), float32 below: the head's AUC
    moves by at most 0.0001 (benchmarks/float16.py), the memory a large pool maps halves."""
    return np.float16 if int(np.prod(shape)) * 4 > FLOAT16_ABOVE else np.float32


class EmbeddingCache:
    """A folder of cached (N, D) embedding arrays: float32, or float16 for large pools."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.dir = Path(cache_dir)

    @staticmethod
    def key(fingerprint: str, encoder_id: str) -> str:
        """Short hex key; changes when the data, the encoder or the cache format changes."""
        text = f"v{CACHE_FORMAT_VERSION}\0{fingerprint}\0{encoder_id}"
        return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]

    def array_path(self, key: str) -> Path:
        return self.dir / f"{key}.npy"

    def meta_path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def load_meta(self, key: str) -> dict[str, Any]:
        """The entry's JSON sidecar, or {} when absent or unreadable."""
        try:
            meta = json.loads(self.meta_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def load(self, key: str) -> np.ndarray | None:
        """The memory-mapped array, or None when absent, stale or unreadable (logged, never raised)."""
        array_path, meta_path = self.array_path(key), self.meta_path(key)
        if not array_path.is_file() or not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            array = np.load(array_path, mmap_mode="c", allow_pickle=False)
            problem = self._mismatch(meta, array)
        except (OSError, ValueError, EOFError, TypeError, KeyError) as exc:
            problem = f"unreadable ({exc})"
        if problem:
            log.warning("Ignoring cached embeddings %s: %s; they will be recomputed.", array_path, problem)
            return None
        return array

    @staticmethod
    def _mismatch(meta: Any, array: np.ndarray) -> str | None:
        if not isinstance(meta, dict) or meta.get("format_version") != CACHE_FORMAT_VERSION:
            return "unknown cache format"
        if array.ndim != 2 or array.dtype not in (np.float16, np.float32):
            return f"expected a 2-D float32 or float16 array, found {array.dtype} {array.shape}"
        if list(array.shape) != meta.get("shape"):
            return f"shape {array.shape} disagrees with its record {meta.get('shape')}"
        return None

    def save(self, key: str, array: np.ndarray, meta: dict[str, Any]) -> Path:
        """Store `array` (2-D; float16 when large: `stored_dtype`) under `key` with a JSON sidecar;
        returns the .npy path."""
        array = np.asarray(array)
        array = np.ascontiguousarray(array, dtype=stored_dtype(array.shape))
        if array.ndim != 2:
            raise ValueError(f"embeddings must be 2-D, got shape {array.shape}")
        self.dir.mkdir(parents=True, exist_ok=True)
        record = {
            **meta,
            "format_version": CACHE_FORMAT_VERSION,
            "key": key,
            "shape": list(array.shape),
            "dtype": str(array.dtype),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        path = self.array_path(key)
        write_atomic(path, lambda handle: np.save(handle, array, allow_pickle=False))
        write_atomic(self.meta_path(key), lambda handle: handle.write(json.dumps(record, indent=2).encode()))
        return path
