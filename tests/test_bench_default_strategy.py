"""The default strategy chosen by the suite (hunt_refine): cold pages are diverse, rare concepts
are hunted, balanced ones refined."""

from __future__ import annotations

import numpy as np

from fastlabel.config import Config
from fastlabel.learner.goals import GOALS
from fastlabel.learner.hunt_refine import HuntRefinePlan, hunt_count
from fastlabel.learner.base import Pool
from fastlabel.learner.diversity import choose_spread
from fastlabel.learner.index import EmbeddingIndex
from fastlabel.learner.registry import STRATEGIES, select


EMB = np.random.default_rng(1).normal(size=(400, 16)).astype(np.float32)
INDEX = EmbeddingIndex(EMB).start()  # 400 rows: fitted inline, so k-means pages are real k-means pages


def pool(probs: np.ndarray, labels: dict[int, int], seed: int = 0) -> Pool:
    labeled = np.zeros(probs.size, bool)
    labeled[list(labels)] = True
    return Pool(EMB, probs.astype(np.float32), labeled, labels, np.random.default_rng(seed),
                has_head=bool(labels), index=INDEX)


def test_default_is_registered_and_titled_by_what_it_does():
    assert GOALS[Config.goal].strategy in STRATEGIES
    assert "hunt" in STRATEGIES["hunt_refine"].title.lower()


def test_hunt_share_follows_the_positive_shortfall():
    plan = HuntRefinePlan(balance=0.5, max_hunt=0.75)
    assert hunt_count({}, 48, plan) == 36  # nothing positive yet: the cap
    assert hunt_count({i: int(i < 2) for i in range(40)}, 48, plan) == 36  # 5% positive: capped
    assert hunt_count({i: int(i < 16) for i in range(40)}, 48, plan) == 10  # 40%: a fifth of the shortfall
    assert hunt_count({i: i % 2 for i in range(40)}, 48, plan) == 0  # balanced: no hunting
    later = HuntRefinePlan(refine_after=10, later_max_hunt=0.25)  # a tuning variant, off by default
    assert hunt_count({i: int(i < 9) for i in range(400)}, 48, later) == 36
    assert hunt_count({i: int(i < 10) for i in range(400)}, 48, later) == 12
    assert HuntRefinePlan().refine_after is None and HuntRefinePlan().candidates_per_card == 10


def test_cold_pool_gets_a_diverse_page():
    assert INDEX.clustering is not None
    page = select("hunt_refine", pool(np.full(400, 0.5), {}), 24).ids
    assert set(page) == set(choose_spread(pool(np.full(400, 0.5), {}), 24))  # one card per cluster


def test_rare_concept_is_hunted_and_balanced_one_refined():
    probs = np.random.default_rng(0).uniform(size=400)
    rare = pool(probs, {i: int(i < 2) for i in range(40)})
    ids = select("hunt_refine", rare, 24).ids
    likeliest = rare.unlabeled[np.argsort(-probs[rare.unlabeled])[:18]]
    assert len(ids) == 24 and set(likeliest) <= set(ids)  # three quarters hunt the likeliest positives
    assert not set(ids) & set(range(40))  # never a labeled item

    balanced = pool(probs, {i: i % 2 for i in range(40)})
    ids = select("hunt_refine", balanced, 24).ids
    top = set(balanced.unlabeled[np.argsort(-probs[balanced.unlabeled])[:24]])
    assert len(ids) == 24 and len(set(ids) & top) < 12  # refine cards: uncertain, not the likeliest
    assert np.mean(np.abs(probs[ids] - 0.5)) < np.mean(np.abs(probs[balanced.unlabeled] - 0.5))
