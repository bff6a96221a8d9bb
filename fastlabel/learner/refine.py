"""The block the hunting strategies share: a cold start, then a page split between a hunt for
likely positives and a refine of diverse cards the head is fairly sure (or unsure) of.

Before any head or text prior the page is diverse (k-means); with a text prior and no labels, the
prior's best matches (cheap to confirm). After that, `hunt(labels, n)` cards go to the head's
likeliest positives and the rest to the refine: `per_card` k-means candidates per card (spread
over the pool), keeping those whose |p - 0.5| is nearest `margin`. `hunt_refine` and `hybrid`
differ only in how many cards hunt and in the refine's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .base import Choose, Pool, ProbsById
from .confidence import choose_verify_positives
from .diversity import choose_kmeans

HuntCount = Callable[[dict[int, int], int], int]  # (labels, page size) -> cards that hunt


@dataclass(frozen=True)
class Choosers:
    """The single strategies a hunt-and-refine page mixes."""

    diverse: Choose = choose_kmeans  # k-means coverage
    likely_positive: Choose = choose_verify_positives


def positive_share(labels: dict[int, int]) -> float:
    return sum(labels.values()) / len(labels) if labels else 0.0


def fairly_sure_first(candidates: np.ndarray, probs: ProbsById, margin: float, n: int) -> np.ndarray:
    """The n candidates whose |p - 0.5| is nearest `margin`; ties keep the candidates' order."""
    key = np.abs(np.abs(probs[candidates] - 0.5) - margin)
    return candidates[np.argsort(key, kind="stable")[:n]]


def diverse_fairly_sure(diverse: Choose, pool: Pool, n: int, per_card: int, margin: float) -> np.ndarray:
    """`per_card` diverse candidates for each of n cards, keeping the n whose |p - 0.5| is nearest `margin`."""
    candidates = np.asarray(diverse(pool, per_card * n), dtype=np.int64)
    return fairly_sure_first(candidates, pool.probs, margin, n)


def fill_page(pool: Pool, parts: list[tuple[Choose, int]]) -> np.ndarray:
    """Run choosers in order for their share of the page; later ones never repeat earlier picks."""
    labeled = pool.labeled.copy()
    picked: list[np.ndarray] = []
    for choose, count in parts:
        if count <= 0:
            continue
        ids = np.asarray(choose(replace(pool, labeled=labeled), count), dtype=np.int64)[:count]
        labeled[ids] = True
        picked.append(ids)
    return np.concatenate(picked) if picked else np.empty(0, np.int64)


def hunt_and_refine(hunt: HuntCount, per_card: int, margin: float, use: Choosers = Choosers()) -> Choose:
    """A strategy's `choose(pool, n)`: the cold start, then `hunt` cards of likely positives and a refine."""

    def refine(pool: Pool, n: int) -> np.ndarray:
        return diverse_fairly_sure(use.diverse, pool, n, per_card, margin)

    def choose(pool: Pool, n: int) -> np.ndarray:
        if pool.cold:
            return use.diverse(pool, n)
        if not pool.labels:  # a text prior and no labels yet: its best matches are cheap to confirm
            return use.likely_positive(pool, n)
        n_hunt = hunt(pool.labels, n)
        return fill_page(pool, [(use.likely_positive, n_hunt), (refine, n - n_hunt)])

    return choose
