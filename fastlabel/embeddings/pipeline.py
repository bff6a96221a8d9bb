"""Batch inference with decoding overlapped: worker threads decode (as the source's media does: an
image, a window of a recording) and preprocess the next batches while the model runs on the current one.

Threads are enough: Pillow's decoders and resamplers and torch's kernels release the GIL, so on a
2-core machine the model keeps one core busy while the other prepares pixels. Batches come back in
order, and at most `workers + 1` are held in memory at once.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fastlabel.data.media import media_of

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource
    from fastlabel.embeddings.base import Progress

MAX_WORKERS = 4


def default_workers() -> int:
    """Decode threads: one per core beyond the model's first, at least one, at most MAX_WORKERS."""
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 2) - 1))


def preprocessed_batches(
    source: ImageSource,
    preprocess: Callable[[Any], torch.Tensor],
    batch_size: int,
    workers: int,
    *,
    pin: bool = False,
) -> Iterator[tuple[int, int, torch.Tensor]]:
    """(start, stop, batch) for consecutive slices of the source, decoded ahead on `workers` threads."""
    total = len(source)
    decode = media_of(source).decode

    def load(start: int, stop: int) -> torch.Tensor:
        batch = torch.stack([preprocess(decode(source, i)) for i in range(start, stop)])
        return batch.pin_memory() if pin else batch

    starts = iter(range(0, total, batch_size))
    pending: deque[tuple[int, int, Future[torch.Tensor]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fastlabel-decode") as pool:

        def submit_next() -> None:
            start = next(starts, None)
            if start is not None:
                stop = min(start + batch_size, total)
                pending.append((start, stop, pool.submit(load, start, stop)))

        for _ in range(workers + 1):
            submit_next()
        try:
            while pending:
                start, stop, future = pending.popleft()
                batch = future.result()
                submit_next()
                yield start, stop, batch
        finally:  # the consumer stopped early or failed: drop what is still queued
            for _, _, future in pending:
                future.cancel()


def run_batches(
    source: ImageSource,
    preprocess: Callable[[Any], torch.Tensor],
    forward: Callable[[torch.Tensor], torch.Tensor],
    *,
    dim: int,
    device: torch.device,
    batch_size: int,
    progress: Progress | None = None,
    workers: int | None = None,
    channels_last: bool = False,
) -> np.ndarray:
    """Run `forward` over every item in inference mode; returns (N, dim) unit-length float32 rows."""
    total = len(source)
    out = np.empty((total, dim), dtype=np.float32)
    on_gpu = device.type == "cuda"
    batches = preprocessed_batches(source, preprocess, batch_size, workers or default_workers(), pin=on_gpu)
    with torch.inference_mode():
        for start, stop, batch in batches:
            batch = batch.to(device, non_blocking=on_gpu)
            if channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            features = forward(batch).float()
            out[start:stop] = torch.nn.functional.normalize(features, dim=-1).cpu().numpy()
            if progress is not None:
                progress(stop, total)
    return out
