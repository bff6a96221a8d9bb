"""The hybrid strategy: diverse cards the head is fairly sure of (an earlier default; the suite in
benchmarks/RESULTS.md found it no faster than random, so it is no longer the default).

Every card starts pre-labeled from the model, so a page costs one click per wrong guess.
Borderline cards teach the head most but are wrong half the time; confident cards are free
but teach little. The hybrid takes k-means candidates (representative, spread over the
pool), three per card, and keeps those the head is fairly sure of (p near 0.1 or 0.9): mostly
right, so cheap, yet not settled. Before the head exists the page is plain k-means, or, with
a text query, the query's best matches. While positives are rare, a quarter of each page goes
to the head's likeliest positives: the right ones cost nothing and the wrong ones are the hard
negatives the head needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .base import Choose, Pool, ProbsById
from .confidence import choose_verify_positives
from .diversity import choose_kmeans


@dataclass(frozen=True)
class Choosers:
    """The single strategies the hybrid mixes."""

    diverse: Choose = choose_kmeans  # k-means coverage
    likely_positive: Choose = choose_verify_positives


@dataclass(frozen=True)
class HybridPlan:
    candidates_per_card: int = 3  # k-means candidates looked at per card served
    margin: float = 0.4  # preferred |p - 0.5| of a card: fairly sure (p near 0.1 or 0.9), not settled
    rare_below: float = 0.2  # positive share of the labels under which positives are hunted
    hunt_share: float = 0.25  # of each page, while positives are rare


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


def make_hybrid(use: Choosers = Choosers(), plan: HybridPlan = HybridPlan()) -> Choose:
    """The hybrid's `choose(pool, n)`."""

    def refine(pool: Pool, n: int) -> np.ndarray:
        return diverse_fairly_sure(use.diverse, pool, n, plan.candidates_per_card, plan.margin)

    def choose_hybrid(pool: Pool, n: int) -> np.ndarray:
        if pool.cold:
            return use.diverse(pool, n)
        if not pool.labels:  # a text prior and no labels yet: its best matches are cheap to confirm
            return use.likely_positive(pool, n)
        n_hunt = round(plan.hunt_share * n) if positive_share(pool.labels) < plan.rare_below else 0
        return fill_page(pool, [(use.likely_positive, n_hunt), (refine, n - n_hunt)])

    return choose_hybrid
