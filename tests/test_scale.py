"""The hot path at scale: uniform draws without a pass over the pool, the labeled mask kept in step
with the labels, and restarts from head snapshots equal to a full replay."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fastlabel.learner.sampling import sample_unlabeled


@pytest.mark.parametrize("n_labeled", [0, 5, 17])  # 17 of 20 labeled: the listing fallback
def test_draws_are_uniform_over_unlabeled_items_and_never_repeat(n_labeled: int) -> None:
    rng = np.random.default_rng(0)
    labeled = np.zeros(20, bool)
    labeled[:n_labeled] = True
    exclude = [19] if n_labeled < 17 else []
    allowed = [i for i in range(20) if not labeled[i] and i not in exclude]
    counts: Counter[int] = Counter()
    trials = 4000
    for _ in range(trials):
        ids = sample_unlabeled(rng, labeled, 3, exclude)
        assert len(set(ids.tolist())) == ids.size == min(3, len(allowed))
        assert set(ids.tolist()) <= set(allowed)
        counts.update(ids.tolist())
    expected = trials * min(3, len(allowed)) / len(allowed)
    assert set(counts) == set(allowed)
    assert max(abs(c - expected) for c in counts.values()) < 0.15 * expected


def test_draws_stop_at_what_is_left() -> None:
    rng = np.random.default_rng(1)
    labeled = np.ones(10, bool)
    assert sample_unlabeled(rng, labeled, 4).size == 0
    labeled[3] = False
    assert sample_unlabeled(rng, labeled, 4).tolist() == [3]
    assert sample_unlabeled(rng, labeled, 4, exclude=[3]).size == 0
