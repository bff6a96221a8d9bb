"""Where the score-ranked strategies look: SEALS candidates on large pools, every unlabeled item otherwise.

SEALS (Coleman et al., "Similarity Search for Efficient Active Learning and Search of Rare
Concepts", AAAI 2022): rare positives sit near other positives, so on a large pool the next
page is drawn from the k nearest neighbours of the labeled items, a set that grows with the
labels, instead of scanning and sorting every item. Each labeled item's neighbours are looked
up once and remembered by the index. Small pools, a pool whose index is not ready yet, and a
neighbourhood smaller than the page all fall back to the whole unlabeled pool.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Pool


@dataclass(frozen=True)
class Seals:
    min_pool: int = 100_000  # below this, scoring everything is cheap and exact
    k: int = 100  # neighbours per labeled item (the paper's default)


SEALS = Seals()


def candidates(pool: Pool, n: int, seals: Seals | None = None) -> np.ndarray:
    """Unlabeled ids to rank for a page of n (raises PoolExhausted when none is left); `seals`: SEALS."""
    seals = seals or SEALS
    everything = pool.unlabeled_or_raise()
    neighbours = pool.index.neighbours if pool.index is not None else None
    if len(pool.labeled) < seals.min_pool or neighbours is None or not pool.labels:
        return everything
    labeled = np.fromiter(pool.labels.keys(), dtype=np.int64, count=len(pool.labels))
    near = neighbours.of_items(labeled, pool.embeddings, seals.k)
    near = near[~pool.labeled[near]]
    return near if near.size >= n else everything
