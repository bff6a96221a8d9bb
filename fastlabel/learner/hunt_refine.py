"""The hunt-then-refine strategy: hunt positives while they are rare among the labels, and spend
the rest of each page on diverse cards the head is unsure of.

Before any head exists the page is diverse (k-means). Then each page is split in two:
- *hunt*: the head's likeliest positives. Its share of the page grows with how far the labels'
  positive share is below `balance` (up to `max_hunt` of the page), so on a rare concept most
  of a page hunts (finding positives is the user's goal, and a wrong one is a hard negative the
  head needs) and on a balanced concept almost nothing does (class balance, as in DIRECT).
- *refine*: `candidates_per_card` k-means candidates per card (representative, spread over the
  pool), keeping those whose |p - 0.5| is nearest `margin` (0: the most uncertain, as in
  cluster-margin). Ten candidates per card make the refine cards nearly as uncertain as a
  borderline page while still spread over the pool's clusters.

The settings were chosen with `fastlabel bench --suite full --part tune` (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Choose
from .refine import Choosers, hunt_and_refine, positive_share


@dataclass(frozen=True)
class HuntRefinePlan:
    balance: float = 0.5  # the labels' positive share the hunt aims at
    max_hunt: float = 0.75  # most of a page the hunt may take
    candidates_per_card: int = 10
    margin: float = 0.0  # preferred |p - 0.5| of a refine card
    refine_after: int | None = None  # labeled positives after which the hunt is capped at `later_max_hunt` (off)
    later_max_hunt: float = 0.75


def hunt_count(labels: dict[int, int], n: int, plan: HuntRefinePlan) -> int:
    """Cards of an n-card page that hunt: in proportion to the positive shortfall, capped."""
    shortfall = max(0.0, plan.balance - positive_share(labels)) / plan.balance
    cap = plan.max_hunt
    if plan.refine_after is not None and sum(labels.values()) >= plan.refine_after:
        cap = min(cap, plan.later_max_hunt)
    return int(round(n * min(cap, shortfall)))


def make_hunt_refine(use: Choosers = Choosers(), plan: HuntRefinePlan = HuntRefinePlan()) -> Choose:
    """The strategy's `choose(pool, n)` (the cold start and the page's split: refine.py)."""
    return hunt_and_refine(lambda labels, n: hunt_count(labels, n, plan), plan.candidates_per_card, plan.margin, use)
