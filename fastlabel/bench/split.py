"""Train/test splits for benchmarks. With identities, a person lands on one side only, so the
test AUC never rewards recognising a face seen in training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # item ids, ascending
    test: np.ndarray


def split_by_identity(identities: np.ndarray, test_fraction: float, seed: int) -> Split:
    """Hold out `test_fraction` of the distinct identities (seeded); all their items go to test."""
    identities = np.asarray(identities)
    people = np.unique(identities)
    rng = np.random.default_rng(seed)
    n_test = int(round(test_fraction * people.size))
    test_people = rng.choice(people, size=n_test, replace=False)
    is_test = np.isin(identities, test_people)
    return Split(np.flatnonzero(~is_test), np.flatnonzero(is_test))


def split_random(n_items: int, test_fraction: float, seed: int) -> Split:
    """Hold out `test_fraction` of the items (seeded), when nothing says who is who."""
    rng = np.random.default_rng(seed)
    is_test = np.zeros(n_items, dtype=bool)
    is_test[rng.choice(n_items, size=int(round(test_fraction * n_items)), replace=False)] = True
    return Split(np.flatnonzero(~is_test), np.flatnonzero(is_test))


def holdout_split(n_items: int, identities: np.ndarray | None, test_fraction: float, seed: int) -> Split:
    if identities is not None:
        return split_by_identity(identities, test_fraction, seed)
    return split_random(n_items, test_fraction, seed)
