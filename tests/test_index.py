"""The embedding index: fitted aside (a page never waits for it), cached on disk, reused on restart;
and SEALS candidates drawn from the labeled items' neighbours."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import fastlabel.learner.index as index_module
from fastlabel.learner.base import Pool
from fastlabel.learner.candidates import Seals, candidates
from fastlabel.learner.index import EmbeddingIndex, unit_rows
from fastlabel.learner.index_cache import IndexCache
from fastlabel.learner.registry import select

EMB = np.random.default_rng(5).normal(size=(1200, 12)).astype(np.float32)


def cold_pool(index: EmbeddingIndex, emb: np.ndarray = EMB) -> Pool:
    n = len(emb)
    return Pool(emb, np.full(n, 0.5, np.float32), np.zeros(n, bool), {}, np.random.default_rng(0), index=index)


def test_a_page_never_waits_for_the_background_fit(monkeypatch):
    release = threading.Event()
    real_fit = index_module.fit

    def slow_fit(*args, **kwargs):
        release.wait(30)  # a fit that takes as long as the test wants
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(index_module, "fit", slow_fit)
    index = EmbeddingIndex(EMB, inline_below=0).start()
    try:
        assert not index.ready
        sel = select("kmeans", cold_pool(index), 24)  # served by the fallback while the fit runs
        assert sel.ids.size == 24 and not index.ready
        sel = select("borderline", cold_pool(index), 24)
        assert sel.ids.size == 24
    finally:
        release.set()
    assert index.wait(30) and index.clustering.assignment.shape == (len(EMB),)


def test_a_restart_reuses_the_cached_index(tmp_path, monkeypatch):
    cache = IndexCache(tmp_path, "abc")
    first = EmbeddingIndex(EMB, cache=cache)
    assert first.wait(30) and not first.fitted.from_cache
    assert cache.clustering_path.is_file() and cache.neighbours_path.is_file()

    def no_fit(*args, **kwargs):
        raise AssertionError("refitted although the cache holds the index")

    monkeypatch.setattr(index_module, "fit", no_fit)
    second = EmbeddingIndex(EMB, cache=IndexCache(tmp_path, "abc"))
    assert second.wait(30) and second.fitted.from_cache
    assert np.array_equal(first.clustering.assignment, second.clustering.assignment)
    for a, b in zip(first.clustering.members, second.clustering.members):
        assert np.array_equal(a, b)  # the same order, nearest the centre first
    assert np.array_equal(first.neighbours.search(EMB[:3], 5)[1], second.neighbours.search(EMB[:3], 5)[1])


def test_a_stale_or_broken_cache_is_a_miss(tmp_path):
    cache = IndexCache(tmp_path, "k")
    assert EmbeddingIndex(EMB, cache=cache).wait(30)
    other = EmbeddingIndex(EMB[:1000], cache=cache)  # another row count under the same key
    assert other.wait(30) and not other.fitted.from_cache and len(other.clustering.assignment) == 1000
    cache.neighbours_path.write_bytes(b"not an index")
    again = EmbeddingIndex(EMB[:1000], cache=cache)
    assert again.wait(30) and not again.fitted.from_cache


def test_clusters_hold_every_item_once_nearest_the_centre_first():
    index = EmbeddingIndex(EMB)
    assert index.wait(30)
    clusters = index.clustering
    assert clusters.n_clusters == 60
    every = np.sort(np.concatenate(clusters.members))
    assert np.array_equal(every, np.arange(len(EMB)))
    for c, members in enumerate(clusters.members[:5]):
        assert (clusters.assignment[members] == c).all()


def test_neighbour_search_is_cosine_nearest_first():
    index = EmbeddingIndex(EMB)
    assert index.wait(30)
    sims, ids = index.neighbours.search(EMB[7], 10)
    exact = unit_rows(EMB) @ unit_rows(EMB[7:8])[0]
    assert ids[0][0] == 7
    assert np.array_equal(ids[0], np.argsort(-exact)[:10])
    assert np.allclose(sims[0], np.sort(exact)[::-1][:10], atol=1e-5)


def test_seals_candidates_are_the_labeled_items_neighbours():
    index = EmbeddingIndex(EMB)
    assert index.wait(30)
    labeled = np.zeros(len(EMB), bool)
    labeled[[3, 400]] = True
    pool = Pool(EMB, np.full(len(EMB), 0.5, np.float32), labeled, {3: 1, 400: 0}, np.random.default_rng(0),
                has_head=True, index=index)
    got = candidates(pool, 12, Seals(min_pool=0, k=20))
    _, near = index.neighbours.search(EMB[[3, 400]], 20)
    assert set(got.tolist()) == set(near.ravel().tolist()) - {3, 400}
    assert candidates(pool, 12).size == len(EMB) - 2  # a small pool scans everything
    assert candidates(pool, 100, Seals(min_pool=0, k=20)).size == len(EMB) - 2  # too few neighbours for a page


def test_a_strategy_seeking_one_class_looks_around_that_class_only():
    index = EmbeddingIndex(EMB)
    assert index.wait(30)
    labeled = np.zeros(len(EMB), bool)
    labeled[[3, 400, 401]] = True
    pool = Pool(EMB, np.full(len(EMB), 0.5, np.float32), labeled, {3: 1, 400: 0, 401: 0},
                np.random.default_rng(0), has_head=True, index=index)
    _, near = index.neighbours.search(EMB[3], 20)
    got = candidates(pool, 12, Seals(min_pool=0, k=20), around=1)
    assert set(got.tolist()) == set(near.ravel().tolist()) - {3, 400, 401}
    # no labeled item of the class sought: every labeled item's neighbours
    everyone = candidates(Pool(EMB, pool.probs, labeled, {3: 0, 400: 0, 401: 0}, np.random.default_rng(0),
                               has_head=True, index=index), 12, Seals(min_pool=0, k=20), around=1)
    _, all_near = index.neighbours.search(EMB[[3, 400, 401]], 20)
    assert set(everyone.tolist()) == set(all_near.ravel().tolist()) - {3, 400, 401}


def test_a_large_pool_without_its_index_ranks_a_uniform_sample_not_everything():
    labeled = np.zeros(len(EMB), bool)
    labeled[[3, 400]] = True
    pool = Pool(EMB, np.full(len(EMB), 0.5, np.float32), labeled, {3: 1, 400: 0}, np.random.default_rng(0),
                has_head=True, index=None)
    got = candidates(pool, 12, Seals(min_pool=0, k=20, sample=50))
    assert got.size == 50 and not labeled[got].any() and np.unique(got).size == 50


def test_a_failed_fit_leaves_the_fallbacks(monkeypatch):
    def broken(*args, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(index_module, "fit", broken)
    index = EmbeddingIndex(EMB)
    assert not index.wait(5) and "no room" in index.error
    assert select("kmeans", cold_pool(index), 12).ids.size == 12


@pytest.mark.parametrize("n", [2, 30])
def test_tiny_pools_are_indexed(n):
    index = EmbeddingIndex(EMB[:n])
    assert index.wait(10) and index.clustering.n_clusters == 2


def test_the_workspace_index_is_cached_beside_the_embeddings_and_reused(new_home):
    from fastlabel.config import Config
    from fastlabel.workspace import open_workspace

    config = Config(home=new_home(), encoder="pixels")
    first = open_workspace(config).session.index
    assert first.wait(30) and not first.fitted.from_cache
    npy = {p.name.split(".")[0] for p in config.cache_dir.glob("*.npy")}
    assert {p.name.split(".")[0] for p in config.cache_dir.glob("*.index.*")} == npy  # the embeddings' key
    second = open_workspace(config).session.index
    assert second.wait(30) and second.fitted.from_cache
    assert np.array_equal(first.clustering.assignment, second.clustering.assignment)


def test_embed_leaves_the_index_cached_for_serve(new_home, capsys):
    from fastlabel.cli import main

    home = new_home()
    assert main(["embed", "--home", str(home), "--encoder", "pixels"]) == 0
    assert "index: 30 clusters, fitted" in capsys.readouterr().out
    assert main(["embed", "--home", str(home), "--encoder", "pixels"]) == 0
    assert "index: 30 clusters, loaded" in capsys.readouterr().out


def test_the_cold_page_is_one_card_per_cluster_drawn_in_proportion_to_size():
    from fastlabel.learner.diversity import choose_spread

    index = EmbeddingIndex(EMB)
    assert index.wait(30)
    clustering = index.clustering
    sizes = np.bincount(clustering.assignment, minlength=clustering.n_clusters)
    n = min(12, clustering.n_clusters)
    hits = np.zeros(len(EMB))
    for seed in range(400):
        pool = cold_pool(index)
        pool.rng = np.random.default_rng(seed)
        ids = choose_spread(pool, n)
        assert ids.size == n and np.unique(clustering.assignment[ids]).size == n  # distinct clusters
        hits[ids] += 1
        if seed == 0:
            again = cold_pool(index)
            again.rng = np.random.default_rng(0)
            assert choose_spread(again, n).tolist() == ids.tolist()  # seeded: a replay draws the same page
    # representative: a cluster's share of the cards follows its size, as on a random page
    share = np.bincount(clustering.assignment, weights=hits, minlength=clustering.n_clusters) / hits.sum()
    big = sizes >= np.median(sizes)
    assert abs(share[big].sum() - sizes[big].sum() / sizes.sum()) < 0.05


def test_the_cold_page_tops_up_when_there_are_fewer_clusters_than_cards():
    from fastlabel.learner.diversity import choose_spread

    index = EmbeddingIndex(EMB)
    assert index.wait(30)
    n = index.clustering.n_clusters + 5
    pool = cold_pool(index)
    pool.labeled[:10] = True
    ids = choose_spread(pool, n)
    assert ids.size == n and np.unique(ids).size == n and not pool.labeled[ids].any()


def test_a_submit_looks_up_the_new_positives_neighbours_while_the_head_trains(monkeypatch):
    import time

    import fastlabel.learner.candidates as candidates_module
    from fastlabel.events import EventLog
    from fastlabel.session import LabelingSession

    monkeypatch.setattr(candidates_module, "SEALS", Seals(min_pool=0, k=20))
    index = EmbeddingIndex(EMB)
    assert index.wait(30)
    session = LabelingSession(EMB, EventLog(), index=index)
    page = session.next_batch("hunt_refine", 12)
    labels = [(i, int(k < 3)) for k, i in enumerate(page.ids)]
    session.submit(labels, batch_id=page.batch_id)
    positives = {i for i, y in labels if y == 1}
    deadline = time.monotonic() + 10
    while not positives <= set(index.neighbours._known) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert positives <= set(index.neighbours._known)
    assert not set(index.neighbours._known) - positives  # negatives wait until a strategy asks for them
