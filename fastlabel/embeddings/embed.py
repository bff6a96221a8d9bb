"""A source's embeddings under an encoder: loaded from the cache, or encoded once and cached."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fastlabel.embeddings.base import Encoder, Progress
from fastlabel.embeddings.cache import EmbeddingCache
from fastlabel.embeddings.incremental import HashedSource, embed_by_content

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource

log = logging.getLogger(__name__)


def embed_source(
    source: ImageSource, encoder: Encoder, cache_dir: str | Path, progress: Progress | None = None
) -> np.ndarray:
    """The source's embeddings under `encoder`: from the cache when present, else encoded and cached.

    A source that knows its items' content hashes (an image folder) is embedded incrementally.
    """
    cache = EmbeddingCache(cache_dir)
    if isinstance(source, HashedSource):
        return embed_by_content(source, encoder, cache, progress)
    name = getattr(source, "name", type(source).__name__)
    fingerprint = source.fingerprint()
    key = cache.key(fingerprint, encoder.id)
    cached = cache.load(key)
    if cached is not None and cached.shape[0] == len(source):
        log.info("Embeddings for %s loaded from cache %s (%s).", name, key, encoder.id)
        return cached
    started = time.perf_counter()
    embeddings = encoder.encode_images(source, progress)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(source):
        raise ValueError(f"{encoder.id} returned shape {embeddings.shape} for {len(source)} images")
    seconds = time.perf_counter() - started
    log.info("Embedded %d images with %s in %.1f s.", len(source), encoder.id, seconds)
    meta = {"encoder_id": encoder.id, "fingerprint": fingerprint, "source": name, "seconds": round(seconds, 3)}
    try:
        cache.save(key, embeddings, meta)
    except OSError as exc:  # a read-only or full disk costs the next start a re-embed, not this one
        log.warning("Could not cache embeddings in %s (%s); the next start will embed again.", cache.dir, exc)
        return np.ascontiguousarray(embeddings, dtype=np.float32)
    stored = cache.load(key)  # hand back the mapped file, so a hit and a miss look alike
    return stored if stored is not None else np.ascontiguousarray(embeddings, dtype=np.float32)
