"""Active search (ENS on the kNN graph): the sparse update gives the exact look-ahead score, the
model reads only the labeled items' neighbour lists, and a page finds a planted rare concept."""

from __future__ import annotations

import numpy as np

from fastlabel.learner.active_search import (SearchPlan, build_graph, ens_scores, make_active_search,
                                             neighbour_lists, top_sum)
from fastlabel.learner.base import Pool
from fastlabel.learner.index import EmbeddingIndex
from fastlabel.learner.registry import select


def planted(n=400, rare=16, dim=8, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs; the `rare` items of one small blob are the positives."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(9, dim))
    y = np.zeros(n, np.int64)
    y[:rare] = 1
    which = np.where(y == 1, 0, rng.integers(1, 9, size=n))
    return (centres[which] + rng.normal(size=(n, dim))).astype(np.float32), y


EMB, TRUTH = planted()
INDEX = EmbeddingIndex(EMB)
assert INDEX.wait(30)


def pool_with(labels: dict[int, int], has_head=False, seed=0) -> Pool:
    """A pool whose head, where there is one, has learned only that the concept is rare."""
    mask = np.zeros(len(EMB), bool)
    mask[list(labels)] = True
    probs = np.full(len(EMB), 0.05 if has_head else 0.5, np.float32)
    return Pool(EMB, probs, mask, dict(labels), np.random.default_rng(seed), has_head=has_head, index=INDEX)


def test_top_sum_takes_the_largest():
    assert top_sum(np.array([0.1, 0.9, 0.5, 0.7]), 2) == np.float64(0.9 + 0.7)
    assert top_sum(np.array([0.2]), 5) == np.float64(0.2)
    assert top_sum(np.array([0.2, 0.3]), 0) == 0.0


def test_knn_posterior_counts_only_labeled_neighbour_lists():
    plan = SearchPlan(k=5, gamma=0.1, head_weight=0.0)
    pool = pool_with({0: 1, 200: 0})
    graph = build_graph(pool, pool.unlabeled, plan)
    p = graph.probs(graph.num, graph.den, graph.head)
    touched = set()
    for ids, _ in neighbour_lists(pool, np.array([0, 200]), plan.k):
        touched |= set(ids.tolist())
    untouched = [i for i, x in enumerate(graph.ids) if int(x) not in touched]
    assert np.allclose(p[untouched], 0.1)  # no labeled neighbour: the prior
    first = [i for i, x in enumerate(graph.ids) if int(x) in set(neighbour_lists(pool, np.array([0]), 5)[0][0].tolist())]
    assert p[first].min() > 0.5  # near the labeled positive


def test_sparse_look_ahead_equals_recomputing_every_probability():
    plan = SearchPlan(k=6, gamma=0.1, head_weight=0.0)
    pool = pool_with({0: 1, 1: 1, 50: 0, 300: 0})
    graph = build_graph(pool, pool.unlabeled, plan)
    p = graph.probs(graph.num, graph.den, graph.head)
    short = np.arange(0, len(graph.ids), 37)
    lists = neighbour_lists(pool, graph.ids[short], plan.k)
    t = 20
    fast = ens_scores(graph, p, short, lists, t, np.zeros(len(p), bool))
    for j, x in enumerate(short):
        expected = p[x]
        for y, weight in ((1, p[x]), (0, 1 - p[x])):
            g = build_graph(pool_with({**pool.labels, int(graph.ids[x]): y}), np.delete(graph.ids, x), plan)
            expected += weight * top_sum(g.probs(g.num, g.den, g.head), t)
        assert np.isclose(fast[j], expected), (j, fast[j], expected)


def test_a_page_is_unlabeled_distinct_and_spread_by_the_fictional_negatives():
    pool = pool_with({0: 1, 50: 0}, has_head=True)
    ids = make_active_search(SearchPlan())(pool, 24)
    assert len(set(ids.tolist())) == 24 and not pool.labeled[ids].any()
    greedy = make_active_search(SearchPlan(sequential=False))(pool, 24)
    assert len(set(greedy.tolist())) == 24


def test_registered_and_finds_a_planted_rare_concept_faster_than_random():
    def found_after(strategy: str, pages: int) -> int:
        labels = {int(i): int(TRUTH[i]) for i in (0, *range(20, 40))}  # one positive, twenty others
        rng_seed = 0
        for _ in range(pages):
            sel = select(strategy, pool_with(labels, seed=rng_seed, has_head=True), 16)
            labels.update({int(i): int(TRUTH[i]) for i in sel.ids})
            rng_seed += 1
        return sum(labels.values())

    search, rand = found_after("active_search", 2), found_after("random", 2)
    assert search >= 14 and search > rand + 5, (search, rand)
