"""Uniform draws of unlabeled items in O(draws), without listing or permuting the pool.

While most of the pool is unlabeled (always, at scale), ids drawn uniformly at random and kept
when unlabeled, not excluded and new are a uniform sample without replacement: a page of 48 from
1M items costs microseconds instead of a pass over the pool. When few items are left, the draw
falls back to listing them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MAX_ROUNDS = 8  # rejection rounds before listing the candidates instead


def sample_unlabeled(rng: np.random.Generator, labeled: np.ndarray, n: int,
                     exclude: Iterable[int] = ()) -> np.ndarray:
    """Up to `n` distinct ids drawn uniformly from the items neither labeled nor in `exclude`."""
    total = int(labeled.size)
    excluded = {int(i) for i in exclude}
    free = total - int(np.count_nonzero(labeled)) - sum(1 for i in excluded if not labeled[i])
    n = min(int(n), free)
    if n <= 0:
        return np.empty(0, np.int64)
    if n * 4 <= free:
        picked: list[int] = []
        seen = set(excluded)
        for _ in range(MAX_ROUNDS):
            draw = rng.integers(0, total, size=2 * (n - len(picked)) * total // free + 8)
            for i in draw[~labeled[draw]].tolist():
                if i not in seen:
                    seen.add(i)
                    picked.append(i)
                    if len(picked) == n:
                        return np.asarray(picked, dtype=np.int64)
    candidates = np.flatnonzero(~labeled)
    if excluded:
        candidates = candidates[~np.isin(candidates, np.fromiter(excluded, np.int64, len(excluded)))]
    return rng.choice(candidates, size=n, replace=False).astype(np.int64)
