"""Each strategy: only unlabeled items, sorted by confidence, the right batch type, typed exhaustion;
ties broken at random, and a diverse page on a cold pool."""

from __future__ import annotations

import numpy as np
import pytest

from fastlabel.errors import UnknownStrategy
from fastlabel.learner.base import Pool, top_k
from fastlabel.learner.diversity import choose_kmeans
from fastlabel.learner.index import EmbeddingIndex
from fastlabel.learner.registry import STRATEGIES, select
from fastlabel.session import LabelingSession

UNPROMPTED = sorted(n for n, s in STRATEGIES.items() if not s.needs_examples)  # all but exemplar search
INDEXES: dict[int, EmbeddingIndex] = {}


def index_of(emb: np.ndarray) -> EmbeddingIndex:
    """One fitted index per test array (fitting is cheap, but not free on a busy machine)."""
    if id(emb) not in INDEXES:
        INDEXES[id(emb)] = EmbeddingIndex(emb)
        assert INDEXES[id(emb)].wait(30)
    return INDEXES[id(emb)]


POOL_EMB = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)


def make_pool(n=300, labeled=(), seed=0) -> Pool:
    rng = np.random.default_rng(seed)
    emb = POOL_EMB[:n] if n <= len(POOL_EMB) else rng.normal(size=(n, 16)).astype(np.float32)
    probs = rng.uniform(size=n).astype(np.float32)
    mask = np.zeros(n, bool)
    mask[list(labeled)] = True
    return Pool(emb, probs, mask, {i: 1 for i in labeled}, np.random.default_rng(seed), has_head=True,
                index=index_of(POOL_EMB) if n == len(POOL_EMB) else None)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
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


def test_kmeans_covers_clusters():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(8, 16)) * 10
    emb = np.concatenate([c + rng.normal(size=(50, 16)) for c in centres]).astype(np.float32)
    truth = np.repeat(np.arange(8), 50)
    pool = Pool(emb, np.full(400, 0.5, np.float32), np.zeros(400, bool), {}, rng, index=index_of(emb))
    ids = choose_kmeans(pool, 16)
    assert len(set(truth[ids])) == 8  # every true cluster is represented
    labeled = pool.labeled.copy()
    labeled[ids] = True
    more = choose_kmeans(Pool(emb, pool.probs, labeled, {}, rng, index=pool.index), 8)
    clusters = pool.index.clustering
    empty = set(range(clusters.n_clusters)) - set(clusters.assignment[ids].tolist())
    assert not labeled[more].any()
    assert set(clusters.assignment[more[: len(empty)]].tolist()) == empty  # uncovered clusters come first


def test_kmeans_before_the_index_is_ready_serves_a_random_page():
    emb = np.random.default_rng(2).normal(size=(400, 8)).astype(np.float32)
    pending = EmbeddingIndex(emb)  # not started: as if still fitting in the background
    pool = Pool(emb, np.full(400, 0.5, np.float32), np.zeros(400, bool), {}, np.random.default_rng(0), index=pending)
    ids = choose_kmeans(pool, 24)
    assert len(set(ids.tolist())) == 24 and not pending.ready


def test_small_pool_returns_what_is_left_and_exhausted_pool_is_typed():
    pool = make_pool(n=30, labeled=range(25))
    assert sorted(select("random", pool, 24).ids.tolist()) == [25, 26, 27, 28, 29]
    done = select("borderline", make_pool(n=5, labeled=range(5)), 24)
    assert done.exhausted and done.ids.size == 0 and "labeled" in done.message


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(UnknownStrategy, match="borderline"):
        select("nope", make_pool(), 5)


# -- ties and the cold start ----------------------------------------------------------------------

def class_sorted(n=600, share=0.55, dim=16, seed=0):
    """Embeddings whose rows are ordered by class (all negatives, then all positives), classes overlapping."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) >= round(n * (1 - share))).astype(int)
    emb = rng.normal(size=(n, dim)).astype(np.float32)
    emb[:, 0] += 1.5 * y
    return emb, y


SORTED = class_sorted()


def test_top_k_breaks_ties_at_random_and_replays():
    cand = np.arange(1000)
    key = np.zeros(1000)
    a = top_k(cand, key, 50, np.random.default_rng(3))
    b = top_k(cand, key, 50, np.random.default_rng(3))
    assert np.array_equal(a, b)  # seeded: a replay picks the same
    assert len(set(a.tolist())) == 50
    assert a.min() < 500 < a.max()  # not one block of ids at either end
    assert not np.array_equal(a, top_k(cand, key, 50, np.random.default_rng(4)))


def test_top_k_keeps_strictly_smaller_keys_and_orders_by_key():
    cand = np.arange(10, 20)
    key = np.array([5, 1, 3, 3, 3, 0, 9, 3, 2, 8], float)
    got = top_k(cand, key, 4, np.random.default_rng(0))
    assert got[:3].tolist() == [15, 11, 18] and got[3] in (12, 13, 14, 17)
    assert top_k(cand, key, 50, np.random.default_rng(0)).size == 10


@pytest.mark.parametrize("name", UNPROMPTED)
def test_cold_page_is_diverse_for_every_strategy(name):
    emb, y = SORTED
    pool = Pool(emb, np.full(len(y), 0.5, np.float32), np.zeros(len(y), bool), {}, np.random.default_rng(0),
                index=index_of(emb))
    sel = select(name, pool, 24)
    assert sel.ids.size == 24
    assert 0 < y[sel.ids].sum() < 24  # both classes on the first page of class-sorted data


@pytest.mark.parametrize("page", [12, 24, 48])
@pytest.mark.parametrize("name", UNPROMPTED)
def test_a_head_is_trained_by_the_second_page_on_class_sorted_data(name, page):
    emb, y = SORTED
    session = LabelingSession(emb, seed=1, index=index_of(emb))
    for _ in range(2):
        batch = session.next_batch(name, page)
        session.submit(tuple((i, int(y[i])) for i in batch.ids), batch_id=batch.batch_id)
    assert session.trainer.scores.head is not None, f"{name} pages of {page}: no head after two pages"
    assert session.history()[-1].train_ms is not None
