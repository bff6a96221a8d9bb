"""Exemplar search ("more like this"): nearest first by cosine, labeled items excluded, around every exemplar."""

from __future__ import annotations

import numpy as np
import pytest

from fastlabel.errors import InvalidInput
from fastlabel.learner.base import Pool
from fastlabel.learner.index import EmbeddingIndex, unit_rows
from fastlabel.learner.registry import select
from fastlabel.learner.similar import choose_similar

EMB = np.random.default_rng(9).normal(size=(800, 16)).astype(np.float32)
INDEX = EmbeddingIndex(EMB).start()


def pool_with(labels=None, exemplars=(), vectors=None, indexed=True) -> Pool:
    labels = labels or {}
    mask = np.zeros(len(EMB), bool)
    mask[list(labels)] = True
    return Pool(EMB, np.random.default_rng(1).uniform(size=len(EMB)).astype(np.float32), mask, labels,
                np.random.default_rng(0), has_head=True, index=INDEX if indexed else None,
                exemplars=tuple(exemplars), query_vectors=vectors)


def cosine_order(vector: np.ndarray) -> np.ndarray:
    return np.argsort(-(unit_rows(EMB) @ unit_rows(vector[None])[0]), kind="stable")


@pytest.mark.parametrize("indexed", [True, False])  # the neighbour index, and brute force before it is ready
def test_nearest_first_and_labeled_items_excluded(indexed):
    assert INDEX.wait(30)
    order = cosine_order(EMB[42])
    labels = {int(i): 0 for i in order[1:6]}  # five of the nearest are already labeled
    ids = choose_similar(pool_with(labels, exemplars=[42], indexed=indexed), 12)
    expected = [int(i) for i in order if i != 42 and int(i) not in labels][:12]
    assert ids.tolist() == expected


def test_an_uploaded_vector_is_searched_like_a_card():
    query = EMB[100] + 0.01  # an image from outside the pool, almost item 100
    ids = choose_similar(pool_with(vectors=query[None]), 8)
    assert ids[0] == 100 and ids.tolist() == cosine_order(query)[:8].tolist()


def test_with_no_exemplar_it_searches_around_every_labeled_positive():
    positives = [10, 300, 650]
    labels = {10: 1, 300: 1, 650: 1, 20: 0}
    ids = choose_similar(pool_with(labels), 9)
    for p in positives:  # each positive's own nearest unlabeled item is on the page
        nearest = next(int(i) for i in cosine_order(EMB[p]) if int(i) not in labels)
        assert nearest in ids.tolist()
    assert not set(ids.tolist()) & set(labels)


def test_nothing_to_search_for_is_a_clear_error():
    with pytest.raises(InvalidInput, match="example"):
        choose_similar(pool_with({5: 0}), 8)


def test_similar_pages_are_positive_pages_even_before_a_head():
    pool = pool_with(exemplars=[3])
    cold = Pool(pool.embeddings, np.full(len(EMB), 0.5, np.float32), pool.labeled, {}, pool.rng, index=INDEX,
                exemplars=(3,))
    sel = select("similar", cold, 6)
    assert sel.batch_type == "positive"
    assert sorted(sel.ids.tolist()) == sorted(cosine_order(EMB[3])[1:7].tolist())  # not a diverse page
