"""One index per set of embeddings: a k-means clustering and a cosine nearest-neighbour index.

Both come from one faiss inverted-file index (IVF): its coarse k-means is the clustering the
diverse strategies read, and its lists are the neighbour search that exemplar search and the
SEALS candidate pool use. The k-means is trained on a sample (at most `sample` rows) and every
row is then assigned, so the fit is flat in N apart from one pass of assignment.

No request waits on a fit: large pools are fitted in a background thread as soon as the
embeddings exist (small ones, under `inline_below` rows, inline: milliseconds), and the result
is cached on disk beside the embeddings (see index_cache), so a restart loads it. Until it is
ready `clustering` and `neighbours` are None and the strategies use their fallbacks: a seeded
random pick for the diverse page, brute-force cosine for exemplar search, the whole pool as
SEALS candidates.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import faiss
import numpy as np

from .clustering import Clustering

if TYPE_CHECKING:
    from .index_cache import IndexCache

log = logging.getLogger(__name__)
faiss.omp_set_num_threads(1)  # a background job: leave the other cores to the head and the server
CHUNK = 65_536  # rows normalised and assigned at a time


def n_clusters_for(n: int) -> int:
    """About 20 items per cluster, between 2 and 128 clusters."""
    return int(min(max(2, n // 20), 128))


def row_norms(x: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row (einsum: no squared temporary, several times faster than linalg.norm)."""
    return np.sqrt(np.einsum("ij,ij->i", x, x))


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(row_norms(x), 1e-12)[:, None]


SCAN_PER_QUERY = 16_000  # rows a search reads per query on a large pool: SEALS wants near, not exact


def probes(n: int, nlist: int) -> int:
    """Lists a search visits: all of them on a small pool (exact); on a large one as many as hold
    about SCAN_PER_QUERY rows, 1 to 8 (1M rows in 128 lists: 2), so a query costs the same at any size."""
    if n <= 50_000:
        return nlist
    return int(min(8, nlist, max(1, round(SCAN_PER_QUERY * nlist / n))))


class Neighbours:
    """Cosine k-nearest-neighbour search over the pool (faiss IVF, inner product on unit rows)."""

    def __init__(self, ivf: faiss.IndexIVF) -> None:
        self.ivf = ivf
        self.ivf.nprobe = probes(ivf.ntotal, ivf.nlist)
        self._known: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # item -> (neighbours, similarities)
        self._lock = threading.Lock()
        # look-aheads run on one thread, started by the first of them
        self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastlabel-neighbours")

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, ids), each (len(vectors), k), nearest first; missing slots are id -1."""
        k = int(min(k, self.ivf.ntotal))
        sims, ids = self.ivf.search(unit_rows(np.atleast_2d(vectors)), k)
        return sims, ids

    def look_ahead(self, items: np.ndarray, embeddings: np.ndarray, k: int) -> None:
        """Remember the neighbours of `items` in the background (a later `of_items` finds them)."""
        self._ahead.submit(self.of_items, items, embeddings, k)

    def lists(self, items: np.ndarray, embeddings: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(neighbour ids, cosine similarities) of each item, nearest first, the item itself
        included; each list is searched once and remembered (callers share one k: SEALS's)."""
        with self._lock:
            todo = np.asarray([i for i in np.asarray(items).tolist() if i not in self._known], dtype=np.int64)
            if todo.size:
                sims, ids = self.search(embeddings[todo], k)
                for item, row, sim in zip(todo.tolist(), ids, sims):
                    self._known[item] = (row[row >= 0], sim[row >= 0])
            return [self._known[i] for i in np.asarray(items).tolist()]

    def of_items(self, items: np.ndarray, embeddings: np.ndarray, k: int) -> np.ndarray:
        """The union of the k nearest neighbours of `items` (each item's list is remembered)."""
        found = [ids for ids, _ in self.lists(items, embeddings, k)]
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)


@dataclass(frozen=True)
class Fitted:
    clustering: Clustering
    neighbours: Neighbours
    seconds: float
    from_cache: bool


def fit(embeddings: np.ndarray, *, seed: int = 0, sample: int = 20_000) -> tuple[Clustering, faiss.IndexIVF]:
    """Train the IVF's k-means on a seeded sample, then assign and add every row in chunks."""
    n, dim = embeddings.shape
    k = n_clusters_for(n)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, sample), replace=False))
    quantizer = faiss.IndexFlatIP(dim)
    if n * dim * 4 <= 1 << 30:
        ivf = faiss.IndexIVFFlat(quantizer, dim, k, faiss.METRIC_INNER_PRODUCT)
    else:  # above 1 GB of float32: a byte per dimension, a quarter of the size (512 MB for 1M x 512)
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, dim, k, faiss.ScalarQuantizer.QT_8bit,
                                            faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = seed
    ivf.cp.min_points_per_centroid = 1  # small pools are clustered as asked, without a warning
    ivf.train(unit_rows(embeddings[rows]))
    assignment = np.empty(n, np.int64)
    closeness = np.empty(n, np.float32)
    for start in range(0, n, CHUNK):
        x = unit_rows(embeddings[start: start + CHUNK])
        sims, lists = ivf.quantizer.search(x, 1)
        assignment[start: start + len(x)], closeness[start: start + len(x)] = lists[:, 0], sims[:, 0]
        ivf.add(x)
    return Clustering.from_assignment(assignment, closeness, k), ivf


class EmbeddingIndex:
    """The clustering and neighbour index of one set of embeddings, fitted once, read by all."""

    def __init__(self, embeddings: np.ndarray, *, seed: int = 0, cache: IndexCache | None = None,
                 inline_below: int = 5_000, sample: int = 20_000) -> None:
        self.embeddings = embeddings
        self.seed = seed
        self.cache = cache
        self.inline_below = inline_below
        self.sample = sample
        self.error: str | None = None
        self._fitted: Fitted | None = None
        self._done = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()

    # -- building --------------------------------------------------------------------------
    def start(self) -> "EmbeddingIndex":
        """Load from the cache or fit: inline for small pools, else in a background thread. Idempotent."""
        with self._start_lock:
            if self._started:
                return self
            self._started = True
            if len(self.embeddings) < self.inline_below:
                self._build()
            else:
                threading.Thread(target=self._build, name="embedding-index", daemon=True).start()
        return self

    def _build(self) -> None:
        started = time.perf_counter()
        try:
            loaded = self.cache.load(len(self.embeddings)) if self.cache is not None else None
            if loaded is not None:
                clustering, ivf = loaded
            else:
                clustering, ivf = fit(self.embeddings, seed=self.seed, sample=self.sample)
                if self.cache is not None:
                    self.cache.save(clustering, ivf)
            seconds = time.perf_counter() - started
            self._fitted = Fitted(clustering, Neighbours(ivf), seconds, loaded is not None)
            log.info("Embedding index %s in %.2f s (%d clusters).", "loaded" if loaded else "fitted",
                     seconds, clustering.n_clusters)
        except Exception as exc:  # the strategies' fallbacks keep serving pages; say why once
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("Embedding index failed (%s); strategies use their fallbacks.", self.error)
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until built (for tests, benchmarks and the CLI; never in a request)."""
        self.start()
        return self._done.wait(timeout) and self._fitted is not None

    # -- reading ---------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._fitted is not None

    @property
    def clustering(self) -> Clustering | None:
        fitted = self._fitted
        return fitted.clustering if fitted else None

    @property
    def neighbours(self) -> Neighbours | None:
        fitted = self._fitted
        return fitted.neighbours if fitted else None

    @property
    def fitted(self) -> Fitted | None:
        return self._fitted
