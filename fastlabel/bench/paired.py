"""Every strategy against random, seed by seed: both ran on the same split with the same seed,
so the per-seed difference removes what the seed did to both (the split, the first page).

The interval is the 95% Student-t interval of the mean per-seed difference, and of the mean
per-seed log ratio (shown as a ratio: its geometric mean). Censored figures (a target not
reached within the budget) enter at their budget-end value, a lower bound: where only random
is censored, the strategy's true advantage is at least the one shown; where only the strategy
is, its true disadvantage is at least the one shown. The counts are reported beside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .goals import Reach


@dataclass(frozen=True)
class Paired:
    n: int  # seeds with both figures
    mean_diff: float  # strategy - random
    low: float
    high: float
    ratio: float | None  # geometric mean of strategy / random
    ratio_low: float | None
    ratio_high: float | None
    censored_strategy: int  # seeds where the strategy did not reach the target
    censored_random: int

    @property
    def verdict(self) -> str:
        """'better' (interval below 0: fewer), 'worse' (above 0) or 'tie' (straddles 0)."""
        if self.n < 2:
            return "n/a"
        if self.high < 0:
            return "better"
        if self.low > 0:
            return "worse"
        return "tie"


def t_quantile(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% t-interval; a single value has an infinite interval."""
    mean = float(np.mean(values))
    if values.size < 2:
        return mean, -math.inf, math.inf
    half = t_quantile(values.size) * float(np.std(values, ddof=1)) / math.sqrt(values.size)
    return mean, mean - half, mean + half


def paired(strategy: Sequence[Reach], random: Sequence[Reach]) -> Paired | None:
    """Compare per-seed figures given in the same seed order; None when no seed has both."""
    pairs = [(s, r) for s, r in zip(strategy, random) if s is not None and r is not None]
    if not pairs:
        return None
    s = np.array([p[0].value for p in pairs], dtype=np.float64)
    r = np.array([p[1].value for p in pairs], dtype=np.float64)
    mean, low, high = interval(s - r)
    ratio = ratio_low = ratio_high = None
    if np.all(s > 0) and np.all(r > 0):
        m, lo, hi = interval(np.log(s / r))
        ratio, ratio_low, ratio_high = math.exp(m), math.exp(lo), math.exp(hi)
    return Paired(len(pairs), mean, low, high, ratio, ratio_low, ratio_high,
                  sum(not p[0].reached for p in pairs), sum(not p[1].reached for p in pairs))
