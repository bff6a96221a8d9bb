"""The strategies that rank by the model's score: one key per strategy, smallest key first."""

from __future__ import annotations

import numpy as np

from .base import Pool, top_k
from .candidates import candidates


def borderline_key(probs: np.ndarray) -> np.ndarray:
    return np.abs(probs - 0.5)


def positive_key(probs: np.ndarray) -> np.ndarray:
    return -probs


def negative_key(probs: np.ndarray) -> np.ndarray:
    return probs


def ranked_by(key, around: int | None = None):
    """A strategy taking the n candidates with the smallest key(probs); ties at random. `around`:
    the class it looks for, whose labeled items its candidates lie near on a large pool."""

    def choose(pool: Pool, n: int) -> np.ndarray:
        cand = candidates(pool, n, around=around)
        return top_k(cand, key(pool.probs[cand]), n, pool.rng)

    choose.__name__ = f"choose_by_{key.__name__}"
    return choose


choose_borderline = ranked_by(borderline_key)
choose_verify_positives = ranked_by(positive_key, around=1)
choose_verify_negatives = ranked_by(negative_key, around=0)
