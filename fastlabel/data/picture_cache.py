"""Pictures drawn on demand, each at most once at a time, by a few worker threads, the latest kept.

A page of cards asks for dozens of pictures at once; drawing them one after the other in the
request's thread leaves the other cores idle (reading a recording, resampling, the FFT and the PNG
encoder all release the GIL). `warm(keys)` queues what is not drawn yet on the workers and returns at
once; `get(key)` answers from the cache, waits for a drawing in progress, or draws in the caller's
thread. A failed drawing is not kept: the next `get` tries again and sees the error.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Hashable, Iterable

MAX_WORKERS = 4


def default_workers() -> int:
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


class PictureCache:
    """`draw(key) -> bytes`, cached for the latest `size` keys asked or warmed."""

    def __init__(self, draw: Callable[[Hashable], bytes], size: int, workers: int | None = None,
                 name: str = "fastlabel-draw") -> None:
        self._draw = draw
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Future[bytes]] = OrderedDict()
        self._pool = ThreadPoolExecutor(max_workers=workers or default_workers(), thread_name_prefix=name)

    def _claim(self, key: Hashable) -> tuple[Future[bytes], bool]:
        """The key's entry, and whether the caller must draw it (it was new). Under the lock."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            return entry, False
        entry = Future()
        entry.set_running_or_notify_cancel()
        self._entries[key] = entry
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry, True

    def _run(self, key: Hashable, entry: Future[bytes]) -> None:
        try:
            entry.set_result(self._draw(key))
        except BaseException as exc:
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            entry.set_exception(exc)

    def get(self, key: Hashable) -> bytes:
        with self._lock:
            entry, mine = self._claim(key)
        if mine:
            self._run(key, entry)
        return entry.result()

    def warm(self, keys: Iterable[Hashable]) -> None:
        """Start drawing every key not cached or being drawn; returns at once."""
        with self._lock:
            new = [(key, entry) for key in keys for entry, mine in [self._claim(key)] if mine]
        for key, entry in new:
            self._pool.submit(self._run, key, entry)

    def __len__(self) -> int:
        return len(self._entries)
