"""Where the score-ranked strategies look: SEALS candidates on large pools, every unlabeled item otherwise.

SEALS (Coleman et al., "Similarity Search for Efficient Active Learning and Search of Rare
Concepts", AAAI 2022): rare positives sit near other positives, so on a large pool the next
page is drawn from the k nearest neighbours of the labeled items, a set that grows with the
labels, instead of scanning and sorting every item. Each labeled item's neighbours are looked
up once and remembered by the index. A strategy that looks for one class (the likeliest
positives, or negatives) looks around the labeled items of that class only, when there are
any: that is where its items lie, and it costs O(that class's labels), so a hunt for rare
positives stays cheap however many negatives are labeled. Small pools rank the whole unlabeled
pool. On a large pool whose index is not ready yet (it is fitted in the background), or whose
neighbourhood is smaller than the page, a uniform sample of the unlabeled items joins the
candidates instead: a page never waits for the index, nor scores the whole pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .base import Pool
from .sampling import sample_unlabeled

if TYPE_CHECKING:
    from .index import EmbeddingIndex


@dataclass(frozen=True)
class Seals:
    min_pool: int = 100_000  # below this, scoring everything is cheap and exact
    k: int = 100  # neighbours per labeled item (the paper's default)
    sample: int = 20_000  # uniform unlabeled draws ranked when the neighbourhood falls short


SEALS = Seals()


def candidates(pool: Pool, n: int, seals: Seals | None = None, around: int | None = None) -> np.ndarray:
    """Unlabeled ids to rank for a page of n (raises PoolExhausted when none is left); `seals`: SEALS;
    `around`: the class whose labeled items to look around (None: every labeled item)."""
    seals = seals or SEALS
    everything = pool.unlabeled_or_raise()
    neighbours = pool.index.neighbours if pool.index is not None else None
    if len(pool.labeled) < seals.min_pool:
        return everything
    near = np.empty(0, np.int64)
    if neighbours is not None and pool.labels:
        seeds = [i for i, y in pool.labels.items() if y == around] if around is not None else []
        near = neighbours.of_items(np.asarray(seeds or list(pool.labels), dtype=np.int64), pool.embeddings, seals.k)
        near = near[~pool.labeled[near]]
        if near.size >= n:
            return near
    return np.union1d(near, sample_unlabeled(pool.rng, pool.labeled, max(n, seals.sample)))


def look_ahead(index: EmbeddingIndex, embeddings: np.ndarray, positives: list[int],
               seals: Seals | None = None) -> None:
    """Look up the neighbours of newly labeled positives in a background thread, while the head
    retrains, so the next hunt page finds them remembered (large pools with a ready index only)."""
    seals = seals or SEALS
    neighbours = index.neighbours  # None until the index is ready
    if len(embeddings) < seals.min_pool or neighbours is None or not positives:
        return
    neighbours.look_ahead(np.asarray(positives, dtype=np.int64), embeddings, seals.k)
