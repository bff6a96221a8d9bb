"""The strategies that ignore the scores: a uniform random page, and a page spread over the clusters."""

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
