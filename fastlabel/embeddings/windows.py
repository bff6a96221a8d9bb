"""Batches of audio windows for an encoder, read one batch ahead on a worker thread.

An audio encoder sees a source of windows (a folder of recordings, or the subset of its items an
incremental embed asks for) through `window(i)`. Items are read in id order, which follows the files
front to back, so a folder's read-ahead turns them into a few long sequential reads per file; reading
(libsndfile) and resampling release the GIL, so the next batch is ready while the model runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np


def window_batches(source: Any, batch_size: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """(start, stop, (stop - start, samples) float32) for consecutive slices of the source's items."""
    total = len(source)

    def load(start: int, stop: int) -> np.ndarray:
        return np.stack([np.asarray(source.window(i), dtype=np.float32) for i in range(start, stop)])

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastlabel-windows") as pool:
        pending: Future[np.ndarray] | None = None
        for start in range(0, total, batch_size):
            stop = min(start + batch_size, total)
            future = pending or pool.submit(load, start, stop)
            after = stop + batch_size
            pending = pool.submit(load, stop, min(after, total)) if stop < total else None
            try:
                batch = future.result()
            except BaseException:
                if pending is not None:
                    pending.cancel()
                raise
            yield start, stop, batch


def embed_windows(source: Any, batch_size: int, dim: int, features: Callable[[np.ndarray], np.ndarray],
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """(len(source), dim) float32 rows: `features` of each batch of windows, with progress per batch."""
    out = np.empty((len(source), dim), dtype=np.float32)
    for start, stop, batch in window_batches(source, batch_size):
        out[start:stop] = features(batch)
        if progress is not None:
            progress(stop, len(source))
    return out
