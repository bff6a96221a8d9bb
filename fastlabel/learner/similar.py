"""Exemplar search, "more like this": the unlabeled items nearest to given items or images.

Works with every encoder (cosine similarity of the frozen embeddings, no text side needed),
so a rare concept gets a cold start from one example. What is searched around, in order: the
pool's `query_vectors` (an uploaded image) and `exemplars` (cards the user picked); with
neither, every labeled positive. With several exemplars the page takes their nearest items in
turns (exemplars in a seeded random order, at most one per card), so it searches around all
of them rather than the densest one; the exemplar cards themselves are not served again.
Search uses the pool's neighbour index once it is ready, exact cosine in chunks before that.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InvalidInput
from .base import Pool
from .index import row_norms, unit_rows

MAX_EXEMPLARS = 256  # the most recent positives, when searching around all of them
CHUNK = 65_536


def exemplar_vectors(pool: Pool) -> np.ndarray:
    """(E, D) unit vectors to search around; raises InvalidInput when there is nothing to search for."""
    parts = []
    if pool.query_vectors is not None and len(pool.query_vectors):
        parts.append(np.atleast_2d(np.asarray(pool.query_vectors, np.float32)))
    ids = np.asarray(pool.exemplars, dtype=np.int64)
    if ids.size == 0 and not parts:
        ids = pool.positives()[-MAX_EXEMPLARS:]
    if ids.size:
        parts.append(np.asarray(pool.embeddings[ids], np.float32))
    if not parts:
        raise InvalidInput("\"more like this\" needs an example: pick a card (ids=...), drop an image, "
                           "or label a positive first")
    return unit_rows(np.concatenate(parts))


def nearest_unlabeled(pool: Pool, vectors: np.ndarray, m: int) -> list[np.ndarray]:
    """For each vector, up to m unlabeled ids, nearest (highest cosine) first."""
    neighbours = pool.index.neighbours if pool.index is not None else None
    if neighbours is not None:
        _, ids = neighbours.search(vectors, m + int(pool.labeled.sum()))  # enough to keep m after dropping labeled
        return [row[(row >= 0)][~pool.labeled[row[row >= 0]]][:m] for row in ids]
    return brute_force_nearest(pool.embeddings, ~pool.labeled, vectors, m)


def brute_force_nearest(embeddings: np.ndarray, allowed: np.ndarray, vectors: np.ndarray, m: int) -> list[np.ndarray]:
    """Exact cosine search in contiguous chunks (no copies of the pool): each row's m best allowed ids."""
    rows = len(vectors)
    best_ids = np.empty((rows, 0), np.int64)
    best_sims = np.empty((rows, 0), np.float32)
    for start in range(0, len(embeddings), CHUNK):
        x = np.asarray(embeddings[start: start + CHUNK], dtype=np.float32)
        sims = (vectors @ x.T) / np.maximum(row_norms(x), 1e-12)
        sims[:, ~allowed[start: start + len(x)]] = -np.inf
        k = min(m, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_ids = np.concatenate([best_ids, top + start], axis=1)
        best_sims = np.concatenate([best_sims, np.take_along_axis(sims, top, axis=1)], axis=1)
        if best_ids.shape[1] > m:
            keep = np.argpartition(-best_sims, m - 1, axis=1)[:, :m]
            best_ids = np.take_along_axis(best_ids, keep, axis=1)
            best_sims = np.take_along_axis(best_sims, keep, axis=1)
    order = np.lexsort((best_ids, -best_sims), axis=1) if rows else np.empty((0, 0), np.int64)
    ranked_ids = np.take_along_axis(best_ids, order, axis=1)
    ranked_sims = np.take_along_axis(best_sims, order, axis=1)
    return [ids[np.isfinite(sims)] for ids, sims in zip(ranked_ids, ranked_sims)]


def choose_similar(pool: Pool, n: int) -> np.ndarray:
    """Up to n unlabeled items nearest the exemplars (the exemplar cards themselves excluded)."""
    pool.unlabeled_or_raise()
    vectors = exemplar_vectors(pool)
    if pool.exemplars:  # the picked cards are not served again as their own neighbours
        skip = pool.labeled.copy()
        skip[np.asarray(pool.exemplars, dtype=np.int64)] = True
        pool = replace(pool, labeled=skip)
    n = min(n, pool.unlabeled.size)
    if len(vectors) > n:  # a page takes at most one item per exemplar per round: n of them suffice
        vectors = vectors[np.sort(pool.rng.choice(len(vectors), size=n, replace=False))]
    lists = nearest_unlabeled(pool, vectors, n)
    order = pool.rng.permutation(len(lists)) if len(lists) > 1 else np.arange(len(lists))
    picked: dict[int, None] = {}  # insertion-ordered set
    depth = 0
    while len(picked) < n and any(depth < lists[e].size for e in order):
        for e in order:  # one more item per exemplar each round
            if depth < lists[e].size:
                picked.setdefault(int(lists[e][depth]))
                if len(picked) == n:
                    break
        depth += 1
    return np.fromiter(picked, dtype=np.int64, count=len(picked))
