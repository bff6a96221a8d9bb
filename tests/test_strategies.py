"""Each strategy: only unlabeled items, sorted by confidence, the right batch type, typed exhaustion."""

from __future__ import annotations

import numpy as np
import pytest

from fastlabel.errors import UnknownStrategy
from fastlabel.learner.strategies import STRATEGIES, Pool, choose_kmeans, select


def make_pool(n=300, labeled=(), seed=0) -> Pool:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    probs = rng.uniform(size=n).astype(np.float32)
    mask = np.zeros(n, bool)
    mask[list(labeled)] = True
    return Pool(emb, probs, mask, {i: 1 for i in labeled}, np.random.default_rng(seed))


@pytest.mark.parametrize("name", sorted(n for n, s in STRATEGIES.items() if not s.audit))
def test_every_strategy_returns_unlabeled_unique_items_sorted(name):
    pool = make_pool(labeled=range(0, 300, 3))
    sel = select(name, pool, 24)
    assert len(sel.ids) == 24 and len(set(sel.ids.tolist())) == 24
    assert not pool.labeled[sel.ids].any()
    p = pool.probs[sel.ids]
    if sel.batch_type == "negative":
        assert np.all(np.diff(p) >= 0)
    else:
        assert np.all(np.diff(p) <= 0)
    assert sel.batch_type == STRATEGIES[name].batch_type


def test_verify_strategies_take_the_extremes():
    pool = make_pool()
    unl = pool.unlabeled
    pos = select("verify_positives", pool, 10).ids
    neg = select("verify_negatives", pool, 10).ids
    assert set(pos) == set(unl[np.argsort(-pool.probs[unl])[:10]])
    assert set(neg) == set(unl[np.argsort(pool.probs[unl])[:10]])
    assert pool.probs[pos].min() > pool.probs[neg].max()


def test_borderline_takes_items_closest_to_one_half():
    pool = make_pool()
    ids = select("borderline", pool, 20).ids
    others = np.setdiff1d(pool.unlabeled, ids)
    assert np.abs(pool.probs[ids] - 0.5).max() <= np.abs(pool.probs[others] - 0.5).min()


def test_kmeans_covers_clusters_and_caches_the_clustering():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(8, 16)) * 10
    emb = np.concatenate([c + rng.normal(size=(50, 16)) for c in centres]).astype(np.float32)
    truth = np.repeat(np.arange(8), 50)
    pool = Pool(emb, np.full(400, 0.5, np.float32), np.zeros(400, bool), {}, rng)
    ids = choose_kmeans(pool, 16)
    assert len(set(truth[ids])) == 8  # every true cluster is represented
    assert len(pool.cache) == 1
    index = next(iter(pool.cache.values()))
    choose_kmeans(pool, 8)
    assert next(iter(pool.cache.values())) is index


def test_small_pool_returns_what_is_left_and_exhausted_pool_is_typed():
    pool = make_pool(n=30, labeled=range(25))
    assert sorted(select("random", pool, 24).ids.tolist()) == [25, 26, 27, 28, 29]
    done = select("borderline", make_pool(n=5, labeled=range(5)), 24)
    assert done.exhausted and done.ids.size == 0 and "labeled" in done.message


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(UnknownStrategy, match="borderline"):
        select("nope", make_pool(), 5)
