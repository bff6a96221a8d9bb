"""The two user goals, read off one run's pages.

- A good classifier: labels, clicks and human seconds until the head's test AUC first reaches
  90% / 95% of the full-data head's.
- Find the positives: labels and human seconds until the labels hold 50% / 80% / 95% of the
  positives in the pool, also as multiples of the oracle minimum (0.8 x the pool's positives: the
  labels a perfect hunter needs to hold 80% of them).

A run that never gets there within its budget is *censored*: its figure is the value at its last
page, a lower bound on the truth, and is marked so the tables and intervals can say which way
that biases them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .simulate import Point
from .timemodel import TIME_MODELS, TimeModel

AUC_TARGETS = (0.90, 0.95)  # fractions of the full-data head's test AUC
FIND_TARGETS = (0.50, 0.80, 0.95)  # fractions of the pool's positives


@dataclass(frozen=True)
class Reach:
    """A figure at the first page that met a target; `reached` False: the value at the budget's end."""

    value: float
    reached: bool


def page_seconds(points: Sequence[Point], model: TimeModel) -> list[float]:
    """Human seconds after each point: point k has k pages, `clicks` of which k were confirms."""
    return [model.seconds(p.labels, p.clicks - k, k) for k, p in enumerate(points)]


def first_index(values: Sequence[float], target: float) -> int | None:
    return next((k for k, v in enumerate(values) if v >= target), None)


def reach(series: Sequence[float], hit: int | None) -> Reach:
    return Reach(float(series[hit]), True) if hit is not None else Reach(float(series[-1]), False)


def needed_positives(fraction: float, pool_positives: int) -> int:
    return max(1, math.ceil(fraction * pool_positives - 1e-9))


def reachable(fraction: float, pool_positives: int, budget: int) -> bool:
    """Whether even a perfect hunter could find this share of the positives within the budget."""
    return pool_positives > 0 and needed_positives(fraction, pool_positives) <= budget


@dataclass(frozen=True)
class RunGoals:
    """Both goals' figures for one (task, strategy, seed) run. Keys: metric name -> Reach."""

    task: str
    strategy: str
    seed: int
    figures: dict[str, Reach]


def metric_names(models: Sequence[str] = tuple(TIME_MODELS)) -> list[str]:
    names: list[str] = []
    for t in AUC_TARGETS:
        pct = round(t * 100)
        names += [f"auc{pct}_labels", f"auc{pct}_clicks", *(f"auc{pct}_s_{m}" for m in models)]
    for f in FIND_TARGETS:
        pct = round(f * 100)
        names += [f"find{pct}_labels", *(f"find{pct}_s_{m}" for m in models)]
    return names


def run_goals(points: Sequence[Point], reference_auc: float, pool_positives: int, budget: int,
              task: str) -> RunGoals:
    """Figures of one run (points in page order, the first at 0 labels); unreachable find
    targets (more positives than the budget holds) are left out."""
    labels = [float(p.labels) for p in points]
    clicks = [float(p.clicks) for p in points]
    seconds = {name: page_seconds(points, model) for name, model in TIME_MODELS.items()}
    aucs = [p.auc for p in points]
    found = [float(p.positives) for p in points]
    out: dict[str, Reach] = {}
    for t in AUC_TARGETS:
        pct, hit = round(t * 100), first_index(aucs, t * reference_auc)
        out[f"auc{pct}_labels"] = reach(labels, hit)
        out[f"auc{pct}_clicks"] = reach(clicks, hit)
        for name, secs in seconds.items():
            out[f"auc{pct}_s_{name}"] = reach(secs, hit)
    for f in FIND_TARGETS:
        if not reachable(f, pool_positives, budget):
            continue
        pct, hit = round(f * 100), first_index(found, needed_positives(f, pool_positives))
        out[f"find{pct}_labels"] = reach(labels, hit)
        for name, secs in seconds.items():
            out[f"find{pct}_s_{name}"] = reach(secs, hit)
    last = points[-1]
    return RunGoals(task, last.strategy, last.seed, out)


def done(points: Sequence[Point], reference_auc: float, pool_positives: int, budget: int, *,
         find: bool = True, train: bool = True) -> bool:
    """Every target the budget allows of the goals counted is met: the rest of the budget would not
    change the tables. `find`: the share of positives found; `train`: the AUC targets."""
    if not points:
        return False
    if train and max(p.auc for p in points) < max(AUC_TARGETS) * reference_auc:
        return False
    need = [needed_positives(f, pool_positives) for f in FIND_TARGETS if reachable(f, pool_positives, budget)]
    return not find or not need or points[-1].positives >= max(need)


def oracle_labels(pool_positives: int) -> float:
    """The oracle minimum: labels a perfect hunter needs to hold 80% of the positives."""
    return 0.8 * pool_positives


def expected_random_labels(fraction: float, pool_positives: int, pool_size: int) -> float:
    """Labels uniform random sampling needs, in expectation, to hold k = ceil(fraction * P) of the
    P positives among N items: the k-th of P positives sits at k (N + 1) / (P + 1)."""
    k = needed_positives(fraction, pool_positives)
    return k * (pool_size + 1) / (pool_positives + 1)


def expected_random_find(points: Sequence[Point], fraction: float, pool_positives: int, pool_size: int,
                         batch_size: int, model: TimeModel) -> tuple[float, float]:
    """(labels, seconds) uniform random labeling needs in expectation to find this share of the
    positives. The labels are exact for uniform sampling; the seconds count the flips random's
    own run made and none after it, a lower bound that favours random."""
    labels = expected_random_labels(fraction, pool_positives, pool_size)
    flips = points[-1].clicks - (len(points) - 1)
    return labels, model.seconds(labels, flips, labels / batch_size)
