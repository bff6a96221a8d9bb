"""What every strategy shares: the pool it looks at, what it returns, and the tie-aware top-k.

A strategy is a callable `(pool, n) -> ids`; its catalog entry (a `PageKind`) gives it a name, a
title, a batch type, what it needs and how its cards start. The single strategies, the composite
ones and the catalog all import this module, and it imports none of them.

Ties: where scores tie, the pick among the tied items is random (the pool's seeded generator,
so a replay picks the same), never "the highest ids". Cold start: while there is neither a head
nor a text prior every score is 0.5, so the registry serves a diverse page whatever the strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # the index is built beside the embeddings; strategies only read it
    from .index import EmbeddingIndex

EXHAUSTED_MESSAGE = "Every item is labeled: export your labels, or undo to revise."


class PoolExhausted(Exception):
    """No unlabeled item is left to choose from; the registry turns it into an exhausted page."""


class ProbsById(Protocol):
    """P(positive) of the items asked for: an array, or scores computed on the spot by id."""

    def __getitem__(self, ids: np.ndarray) -> np.ndarray: ...

    def __len__(self) -> int: ...


@dataclass
class Pool:
    """What a strategy may look at, with the facts the session knows stated, not guessed.

    `index` is the clustering and neighbour index of these embeddings (None, or not ready yet,
    while it is being fitted: strategies then use their documented fallback). `exemplars` and
    `query_vectors` are what a "more like this" page searches around (ids in the pool, and
    vectors of images from outside it).
    """

    embeddings: np.ndarray
    probs: ProbsById  # read by id only (pool[ids]): on a large pool, rows are scored when asked for
    labeled: np.ndarray  # bool mask
    labels: dict[int, int]
    rng: np.random.Generator
    has_head: bool = False  # a head trained on both classes scores the pool
    has_prior: bool = False  # a text query's zero-shot scores are blended in
    index: EmbeddingIndex | None = None
    exemplars: tuple[int, ...] = ()
    query_vectors: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def unlabeled(self) -> np.ndarray:
        return np.flatnonzero(~self.labeled)

    @property
    def cold(self) -> bool:
        """No head and no text prior: every score is the same, so scores cannot rank anything."""
        return not self.has_head and not self.has_prior

    def positives(self) -> np.ndarray:
        return np.fromiter((i for i, y in self.labels.items() if y == 1), dtype=np.int64)

    def unlabeled_or_raise(self) -> np.ndarray:
        cand = self.unlabeled
        if cand.size == 0:
            raise PoolExhausted(EXHAUSTED_MESSAGE)
        return cand


@dataclass(frozen=True)
class Selection:
    ids: np.ndarray
    batch_type: str
    strategy: str
    exhausted: bool = False
    message: str | None = None
    prelabel: int | None = None  # the strategy's: cards start with this label instead of the model's guess


class Choose(Protocol):
    def __call__(self, pool: Pool, n: int) -> np.ndarray: ...


NEEDS = {  # what a page kind works from (without it, the fallback its entry's docstring names)
    "head": "the model's scores: a head, or a text prior",
    "prior": "a text query's scores, before any label",
    "index": "the pool's clustering or neighbour index",
    "exemplars": "items or images to search around (or the labeled positives)",
    "labeled": "labeled items of both classes",
}
STARTS = {  # how a kind's cards start (audit cards always start at the model's guess)
    "guess": "the model's guess (negative before any model)",
    "positive": "positive",
    "label": "the human label",
}
PAGES = ("pool", "audit", "review")  # picked from the unlabeled pool; random audit cards only; labeled items


@dataclass(frozen=True)
class PageKind:
    """One entry of the catalog of page kinds (registry.py): a strategy, the audit page, the review page.

    `choose` picks from the unlabeled pool (None for audit and review pages, which the session
    builds); a kind that ranks by scores serves a diverse page before any model (`diverse_when_cold`).
    """

    name: str
    title: str
    batch_type: str  # positive | negative | neutral
    choose: Choose | None
    needs: frozenset[str] = frozenset({"head"})  # keys of NEEDS
    starts: str = "guess"  # a key of STARTS
    diverse_when_cold: bool = True  # False where it does not rank by scores (random, exemplar search)
    page: str = "pool"  # one of PAGES
    in_menu: bool = True  # listed in the page's strategy menu

    def __post_init__(self) -> None:
        assert self.needs <= NEEDS.keys() and self.starts in STARTS and self.page in PAGES, self

    @property
    def prelabel(self) -> int | None:
        """The label the kind's cards start with, where it is not the model's guess."""
        return 1 if self.starts == "positive" else None

    @property
    def needs_examples(self) -> bool:
        return "exemplars" in self.needs

    def to_dict(self) -> dict[str, Any]:
        """As the page's menu and the API list it."""
        return {"name": self.name, "title": self.title, "batch_type": self.batch_type, "page": self.page,
                "needs": sorted(self.needs), "starts": self.starts}


def top_k(candidates: np.ndarray, key: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """The n candidates with the smallest key, smallest first; ties are broken at random by `rng`.

    O(N) for the cut (partition) and O(n log n) for the order; only the items tied at the cut
    are drawn at random, so equal keys never mean "the lowest ids".
    """
    candidates, key = np.asarray(candidates), np.asarray(key)
    n = min(n, candidates.size)
    if n <= 0:
        return candidates[:0]
    kth = np.partition(key, n - 1)[n - 1]
    below = np.flatnonzero(key < kth)
    tied = np.flatnonzero(key == kth)
    chosen = np.concatenate([below, rng.choice(tied, size=n - below.size, replace=False)])
    order = np.lexsort((rng.permutation(chosen.size), key[chosen]))  # by key, ties in random order
    return candidates[chosen[order]]


def sort_by_confidence(ids: np.ndarray, probs: ProbsById, batch_type: str) -> np.ndarray:
    """Most confident first in the page's own class; neutral pages put likely positives first."""
    p = probs[ids]
    key = p if batch_type == "negative" else -p
    return ids[np.lexsort((ids, key))]
