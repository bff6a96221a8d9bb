"""Query strategies: given the pool's scores, embeddings and labeled set, choose the next page.

One registry maps names to strategies; the API, the UI menu and the benchmark all read it.
Every strategy sees only unlabeled items, and every page comes back sorted by confidence
in its batch type (most confident first), so verify pages read top to bottom.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..errors import UnknownStrategy
from .hybrid import Choosers, make_hybrid
from .sampling import sample_unlabeled


@dataclass
class Pool:
    """What a strategy may look at. `cache` lives as long as the session (e.g. a clustering)."""

    embeddings: np.ndarray
    probs: np.ndarray
    labeled: np.ndarray  # bool mask
    labels: dict[int, int]
    rng: np.random.Generator
    cache: dict = field(default_factory=dict)

    @property
    def unlabeled(self) -> np.ndarray:
        return np.flatnonzero(~self.labeled)


@dataclass(frozen=True)
class Selection:
    ids: np.ndarray
    batch_type: str
    strategy: str
    exhausted: bool = False
    message: str | None = None


class Choose(Protocol):
    def __call__(self, pool: Pool, n: int) -> np.ndarray: ...


@dataclass(frozen=True)
class Strategy:
    name: str
    title: str
    batch_type: str  # positive | negative | neutral
    choose: Choose
    audit: bool = False  # a page of uniformly random audit cards, for unbiased estimates


def top_k(candidates: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
    """The n candidates with the smallest key, in order; stable, so ties keep id order."""
    if n >= candidates.size:
        return candidates[np.argsort(key, kind="stable")]
    part = np.argpartition(key, n - 1)[:n]
    return candidates[part[np.lexsort((candidates[part], key[part]))]]


def choose_random(pool: Pool, n: int) -> np.ndarray:
    return sample_unlabeled(pool.rng, pool.labeled, n)


def choose_borderline(pool: Pool, n: int) -> np.ndarray:
    cand = pool.unlabeled
    return top_k(cand, np.abs(pool.probs[cand] - 0.5), n)


def choose_verify_positives(pool: Pool, n: int) -> np.ndarray:
    cand = pool.unlabeled
    return top_k(cand, -pool.probs[cand], n)


def choose_verify_negatives(pool: Pool, n: int) -> np.ndarray:
    cand = pool.unlabeled
    return top_k(cand, pool.probs[cand], n)


class ClusterIndex:
    """A k-means clustering of the whole pool, computed once per session and reused."""

    def __init__(self, embeddings: np.ndarray, n_clusters: int, seed: int) -> None:
        from sklearn.cluster import MiniBatchKMeans

        km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3, batch_size=2048)
        self.assignment = km.fit_predict(np.asarray(embeddings, dtype=np.float32))
        dist = np.linalg.norm(embeddings - km.cluster_centers_[self.assignment], axis=1)
        # members of each cluster, nearest the centre first
        order = np.lexsort((dist, self.assignment))
        bounds = np.searchsorted(self.assignment[order], np.arange(n_clusters + 1))
        self.members = [order[bounds[c] : bounds[c + 1]] for c in range(n_clusters)]
        self.n_clusters = n_clusters


def cluster_index(pool: Pool) -> ClusterIndex:
    n = len(pool.embeddings)
    k = int(min(max(2, n // 20), 128))
    key = ("kmeans", k)
    if key not in pool.cache:
        pool.cache[key] = ClusterIndex(pool.embeddings, k, seed=0)
    return pool.cache[key]


def choose_kmeans(pool: Pool, n: int) -> np.ndarray:
    """Diversity: the unlabeled item nearest the centre of each cluster, least-covered clusters first."""
    index = cluster_index(pool)
    covered = np.bincount(index.assignment[pool.labeled], minlength=index.n_clusters)
    sizes = np.array([m.size for m in index.members])
    queues = [m[~pool.labeled[m]] for m in index.members]
    picked: list[int] = []
    depth = 0
    while len(picked) < n:
        # each round takes one more item per cluster, emptiest (then largest) clusters first
        order = np.lexsort((-sizes, covered))
        took = False
        for c in order:
            if depth < queues[c].size:
                picked.append(int(queues[c][depth]))
                took = True
                if len(picked) == n:
                    break
        if not took:
            break
        depth += 1
    return np.asarray(picked, dtype=np.int64)


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("borderline", "Borderline (most uncertain)", "neutral", choose_borderline),
        Strategy("verify_positives", "Verify positives", "positive", choose_verify_positives),
        Strategy("verify_negatives", "Verify negatives", "negative", choose_verify_negatives),
        Strategy("kmeans", "Diverse (k-means)", "neutral", choose_kmeans),
        Strategy("random", "Random", "neutral", choose_random),
        Strategy("hybrid", "Hybrid (fewest clicks)", "neutral",
                 make_hybrid(Choosers(choose_kmeans, choose_verify_positives))),
        Strategy("audit", "Audit (random check of the estimates)", "neutral", lambda pool, n: np.empty(0, np.int64),
                 audit=True),
    )
}


def register(strategy: Strategy) -> Strategy:
    STRATEGIES[strategy.name] = strategy
    return strategy


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategy(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}") from None


def sort_by_confidence(ids: np.ndarray, probs: np.ndarray, batch_type: str) -> np.ndarray:
    """Most confident first in the page's own class; neutral pages put likely positives first."""
    key = probs[ids] if batch_type == "negative" else -probs[ids]
    return ids[np.lexsort((ids, key))]


def select(name: str, pool: Pool, n: int) -> Selection:
    """Run a strategy by name and shape its answer: unlabeled only, sorted, exhaustion typed."""
    strategy = get_strategy(name)
    if pool.unlabeled.size == 0:
        return Selection(np.empty(0, np.int64), strategy.batch_type, name, exhausted=True,
                         message="Every item is labeled: export your labels, or undo to revise.")
    ids = np.asarray(strategy.choose(pool, n), dtype=np.int64)
    ids = ids[~pool.labeled[ids]]
    return Selection(sort_by_confidence(ids, pool.probs, strategy.batch_type), strategy.batch_type, name)

