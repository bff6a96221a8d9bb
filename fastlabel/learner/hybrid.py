"""The hybrid strategy: diverse cards the head is fairly sure of (an earlier default; the suite in
benchmarks/RESULTS.md found it no faster than random, so it is no longer the default).

Every card starts pre-labeled from the model, so a page costs one click per wrong guess.
Borderline cards teach the head most but are wrong half the time; confident cards are free
but teach little. The hybrid's refine takes three k-means candidates per card and keeps those
the head is fairly sure of (p near 0.1 or 0.9): mostly right, so cheap, yet not settled. While
positives are rare, a fixed quarter of each page hunts the head's likeliest positives: the right
ones cost nothing and the wrong ones are the hard negatives the head needs. The cold start and
the page's split are refine.py's, shared with hunt_refine.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Choose
from .refine import Choosers, hunt_and_refine, positive_share


@dataclass(frozen=True)
class HybridPlan:
    candidates_per_card: int = 3  # k-means candidates looked at per card served
    margin: float = 0.4  # preferred |p - 0.5| of a card: fairly sure (p near 0.1 or 0.9), not settled
    rare_below: float = 0.2  # positive share of the labels under which positives are hunted
    hunt_share: float = 0.25  # of each page, while positives are rare


def make_hybrid(use: Choosers = Choosers(), plan: HybridPlan = HybridPlan()) -> Choose:
    """The hybrid's `choose(pool, n)`."""

    def hunt(labels: dict[int, int], n: int) -> int:
        return round(plan.hunt_share * n) if positive_share(labels) < plan.rare_below else 0

    return hunt_and_refine(hunt, plan.candidates_per_card, plan.margin, use)
