"""The embedding index on disk, beside the embeddings it was fitted on and under their key.

`<key>.index.npz` holds the clustering (each row's cluster and closeness to its centre) and
`<key>.index.faiss` the serialised neighbour index; both are written atomically, and a load
that finds them missing, stale (another row count or format) or unreadable is a miss (logged,
never raised), so the index is fitted again.
"""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np

from ..embeddings.cache import EmbeddingCache
from ..files import write_atomic
from .clustering import Clustering

log = logging.getLogger(__name__)
INDEX_FORMAT_VERSION = 1


class IndexCache:
    """Where one set of embeddings keeps its index."""

    def __init__(self, cache_dir: str | Path, key: str) -> None:
        self.dir = Path(cache_dir)
        self.key = key

    @classmethod
    def beside(cls, cache_dir: str | Path, fingerprint: str, encoder_id: str) -> "IndexCache":
        """The index cache of the embeddings `embed_source` caches for this data and encoder."""
        return cls(cache_dir, EmbeddingCache.key(fingerprint, encoder_id))

    @property
    def clustering_path(self) -> Path:
        return self.dir / f"{self.key}.index.npz"

    @property
    def neighbours_path(self) -> Path:
        return self.dir / f"{self.key}.index.faiss"

    def save(self, clustering: Clustering, ivf: faiss.IndexIVF) -> None:
        closeness = np.empty(len(clustering.assignment), np.float32)
        for rank_members in clustering.members:  # keep the order: closest first, as a rank
            closeness[rank_members] = -np.arange(rank_members.size, dtype=np.float32)
        try:
            write_atomic(self.neighbours_path, faiss.serialize_index(ivf).tobytes())
            write_atomic(self.clustering_path, lambda fh: np.savez(
                fh, version=INDEX_FORMAT_VERSION, n_clusters=clustering.n_clusters,
                assignment=clustering.assignment.astype(np.int32), closeness=closeness))
        except OSError as exc:  # a read-only or full disk costs the next start a refit, not this one
            log.warning("Could not cache the embedding index in %s (%s).", self.dir, exc)

    def load(self, n_items: int) -> tuple[Clustering, faiss.IndexIVF] | None:
        if not (self.clustering_path.is_file() and self.neighbours_path.is_file()):
            return None
        try:
            with np.load(self.clustering_path, allow_pickle=False) as npz:
                if int(npz["version"]) != INDEX_FORMAT_VERSION or len(npz["assignment"]) != n_items:
                    raise ValueError("another format or row count")
                clustering = Clustering.from_assignment(npz["assignment"].astype(np.int64), npz["closeness"],
                                                        int(npz["n_clusters"]))
            ivf = faiss.deserialize_index(np.fromfile(self.neighbours_path, dtype=np.uint8))
            if ivf.ntotal != n_items:
                raise ValueError("neighbour index row count differs")
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("Ignoring the cached embedding index %s: %s; it will be fitted again.",
                        self.clustering_path, exc)
            return None
        return clustering, ivf
