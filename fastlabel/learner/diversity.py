"""The strategies that ignore the scores: a uniform random page, a page spread over the clusters,
and the page every score-ranked strategy serves before any model exists."""

from __future__ import annotations

import numpy as np

from .base import Pool
from .sampling import sample_unlabeled


def choose_random(pool: Pool, n: int) -> np.ndarray:
    """Uniform over the unlabeled items, drawn in O(n) (learner.sampling), not by listing the pool."""
    ids = sample_unlabeled(pool.rng, pool.labeled, n)
    if ids.size == 0:
        pool.unlabeled_or_raise()
    return ids


def choose_kmeans(pool: Pool, n: int) -> np.ndarray:
    """Diversity: the unlabeled item nearest the centre of each cluster, least-covered clusters first.

    Until the pool's index is ready (it is fitted in the background on large pools) the page is
    a seeded random one: diverse in expectation, and no request waits on a fit.
    """
    clustering = pool.index.clustering if pool.index is not None else None
    if clustering is None:
        return choose_random(pool, n)
    pool.unlabeled_or_raise()
    covered = np.bincount(clustering.assignment[pool.labeled], minlength=clustering.n_clusters)
    sizes = np.array([m.size for m in clustering.members])
    queues = [m[~pool.labeled[m]] for m in clustering.members]
    order = np.lexsort((-sizes, covered))  # emptiest (then largest) clusters first
    picked: list[int] = []
    depth = 0
    while len(picked) < n:  # each round takes one more item per cluster
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


def choose_spread(pool: Pool, n: int) -> np.ndarray:
    """The page before any model (no head, no text prior: every score ties): n distinct clusters
    drawn with probability proportional to their unlabeled size, and a random unlabeled member of
    each (stratified sampling). Diverse, one card per cluster, and representative: every item is
    about as likely as on a random page, so each class comes in its share of the pool, where the
    clusters' centre items over-represent whatever the small clusters hold (the suite measured that
    cost on celeba10k Male and Wearing_Hat: benchmarks/RESULTS.md). Seeded by the pool's generator,
    so a replay draws the same page. Until the index is ready: a random page."""
    clustering = pool.index.clustering if pool.index is not None else None
    if clustering is None:
        return choose_random(pool, n)
    pool.unlabeled_or_raise()
    free = [m[~pool.labeled[m]] for m in clustering.members]
    sizes = np.array([f.size for f in free], dtype=np.float64)
    k = min(n, int(np.count_nonzero(sizes)))
    clusters = pool.rng.choice(len(free), size=k, replace=False, p=sizes / sizes.sum())
    picked = [int(free[c][pool.rng.integers(free[c].size)]) for c in clusters]
    if len(picked) < n:  # fewer clusters than cards: the rest uniformly from what is left
        picked += sample_unlabeled(pool.rng, pool.labeled, n - len(picked), exclude=picked).tolist()
    return np.asarray(picked, dtype=np.int64)
