"""Incremental embedding for sources whose items carry a content hash (folders of images or recordings).

The cached array has one row per item id, and its sidecar the content hash behind each row. On a
start, a row is reused wherever an item's current content has a row (under any id, so a moved file
is not embedded again); only new or changed content is encoded. A file that fails to decode gets a
blank stand-in in its batch, so one bad file never stops the rest; its row is left empty and the
source is told, so it stops being served and is listed with its reason.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from fastlabel.data.media import media_of
from fastlabel.embeddings.base import Encoder, Progress
from fastlabel.embeddings.cache import EmbeddingCache
from fastlabel.errors import DataError

log = logging.getLogger(__name__)


@runtime_checkable
class HashedSource(Protocol):
    """A source whose item ids keep their meaning as it changes, each with a content hash."""

    name: str

    def __len__(self) -> int: ...

    def available(self) -> np.ndarray: ...

    def content_hash(self, item_id: int) -> str: ...

    def mark_unreadable(self, item_id: int, reason: str) -> None: ...

    def fingerprint(self) -> str: ...


class ItemsView:
    """Some ids of a source, seen as a source of their own (item k = ids[k]) for an encoder.

    Items decode as the source's media does (`image(k)`, or `window(k)` for audio); a decode failure
    is noted in `failures` (id -> reason) and answered with the media's stand-in (a blank image, a
    silent window). Anything else an encoder asks of the source (a sample rate) is the source's."""

    def __init__(self, source: HashedSource, ids: list[int]) -> None:
        self.source = source
        self.ids = ids
        self.name = source.name
        self.media = media_of(source).name
        self.failures: dict[int, str] = {}
        if hasattr(source, "paths"):  # encoders that match rows by file name (shards) see these ids' names
            names = source.paths
            self.paths = [names[i] for i in ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in ("source", "ids"):  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.source, name)

    def _decode(self, index: int) -> Any:
        item = self.ids[index]
        kind = media_of(self.source)
        try:
            return kind.decode(self.source, item)
        except DataError as exc:
            self.failures[item] = str(exc)
            return kind.stand_in(self.source)

    def image(self, index: int) -> Image.Image:
        return self._decode(index)

    def window(self, index: int) -> np.ndarray:
        return self._decode(index)

    def thumbnail(self, index: int) -> bytes:
        raise NotImplementedError("an encoding view has no thumbnails")

    def fingerprint(self) -> str:
        return self.source.fingerprint()

    def available(self) -> np.ndarray:
        return np.ones(len(self.ids), dtype=bool)


def plan(source: HashedSource, old_hashes: list[str | None], incremental: bool) -> tuple[dict[int, int], list[int]]:
    """(item -> row of the old array to reuse, items to encode)."""
    row_of = {h: row for row, h in enumerate(old_hashes) if h}
    wanted = source.available()
    reuse: dict[int, int] = {}
    todo: list[int] = []
    for item in range(len(source)):
        row = row_of.get(source.content_hash(item))
        if row is not None:
            reuse[item] = row
        elif wanted[item]:
            todo.append(item)
    if todo and not incremental:  # rows that depend on each other (PCA) or follow ids (a file): all at once
        return {}, list(range(len(source)))
    return reuse, todo


def embed_by_content(source: HashedSource, encoder: Encoder, cache: EmbeddingCache,
                     progress: Progress | None = None) -> np.ndarray:
    """(len(source), D) rows, reusing cached rows by content; rows of items never embedded are zero."""
    key = cache.key(source.fingerprint(), encoder.id)
    old = cache.load(key)
    old_hashes = list(cache.load_meta(key).get("hashes") or []) if old is not None else []
    if old is not None and len(old_hashes) != old.shape[0]:
        old, old_hashes = None, []
    reuse, todo = plan(source, old_hashes, getattr(encoder, "incremental", True))
    fresh, failures, seconds = None, {}, 0.0
    if todo:
        # items of one content (a manifest naming one file under several ids) are encoded once
        first_of: dict[str, int] = {}
        if getattr(encoder, "incremental", True):
            for item in todo:
                first_of.setdefault(source.content_hash(item), item)
        encode = list(first_of.values()) if first_of else todo
        view = ItemsView(source, encode)
        started = time.perf_counter()
        fresh = np.asarray(encoder.encode_images(view, progress), dtype=np.float32)
        seconds = time.perf_counter() - started
        if fresh.ndim != 2 or fresh.shape[0] != len(encode):
            raise ValueError(f"{encoder.id} returned shape {fresh.shape} for {len(encode)} items")
        failures = view.failures
        if len(encode) < len(todo):  # spread each encoded row (and failure) over the items of its content
            row_of = {item: k for k, item in enumerate(encode)}
            first = [first_of[source.content_hash(item)] for item in todo]
            fresh = fresh[[row_of[f] for f in first]]
            failures = {item: view.failures[f] for item, f in zip(todo, first) if f in view.failures}
        log.info("Embedded %d new or changed %ss of %s with %s in %.1f s (%d reused from the cache%s).",
                 len(encode) - len(view.failures), media_of(source).noun, source.name, encoder.id, seconds,
                 len(reuse), f"; {len(todo) - len(encode)} more of the same content" if len(encode) < len(todo) else "")
    hashes: list[str | None] = [None] * len(source)
    for item, row in reuse.items():
        hashes[item] = old_hashes[row]
    if old is not None and not todo and hashes == old_hashes:
        return old  # nothing new: the mapped cache as it is (no copy of a large pool)
    dim = fresh.shape[1] if fresh is not None else (old.shape[1] if old is not None else 0)
    rows = np.zeros((len(source), dim), dtype=np.float32)
    if reuse:
        rows[np.fromiter(reuse.keys(), np.int64, len(reuse))] = old[np.fromiter(reuse.values(), np.int64, len(reuse))]  # type: ignore[index]
    if fresh is not None:
        rows[todo] = fresh
        wanted = source.available()
        for item in todo:
            if item in failures:
                rows[item] = 0.0
                if wanted[item]:
                    source.mark_unreadable(item, failures[item])
            elif wanted[item]:
                hashes[item] = source.content_hash(item)
    if old is not None and hashes == old_hashes and not todo:
        return old
    meta = {"encoder_id": encoder.id, "fingerprint": source.fingerprint(), "source": source.name,
            "seconds": round(seconds, 3), "hashes": hashes}
    try:
        cache.save(key, rows, meta)
    except OSError as exc:  # a read-only or full disk costs the next start a re-embed, not this one
        log.warning("Could not cache embeddings in %s (%s); the next start will embed again.", cache.dir, exc)
        return rows
    stored = cache.load(key)
    return stored if stored is not None else rows
