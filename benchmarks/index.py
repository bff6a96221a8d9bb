"""The embedding index at scale: a page never waits for the fit; the fit, the cached restart, and
page times with and without the index (k-means, SEALS candidates, exemplar search).

Synthetic 512-d unit rows around 1,000 planted centres stand in for CLIP features (the costs
depend on the shapes). Page times are medians of several pages; run on an otherwise idle machine.
Run: .venv/bin/python benchmarks/index.py --items 100000 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

import numpy as np

from fastlabel.learner.base import Pool, top_k
from fastlabel.learner.candidates import Seals, candidates
from fastlabel.learner.index import EmbeddingIndex
from fastlabel.learner.index_cache import IndexCache
from fastlabel.learner.registry import select
from train_and_score import median_ms  # the benchmarks' one timer (run from benchmarks/ or as a script)

DIM = 512


def embeddings(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32)
    x = centres[rng.integers(0, 1000, n)] + 0.8 * rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def pool_for(x: np.ndarray, index: EmbeddingIndex | None, n_labeled: int) -> Pool:
    rng = np.random.default_rng(1)
    labeled = np.zeros(len(x), bool)
    ids = rng.choice(len(x), n_labeled, replace=False)
    labeled[ids] = True
    probs = rng.uniform(size=len(x)).astype(np.float32)
    return Pool(x, probs, labeled, {int(i): int(k % 5 == 0) for k, i in enumerate(ids)}, rng, has_head=True,
                index=index)


def run(n: int, page: int) -> None:
    x = embeddings(n)
    with tempfile.TemporaryDirectory() as home:
        cache = IndexCache(home, "bench")
        index = EmbeddingIndex(x, cache=cache, inline_below=0)
        started = time.perf_counter()
        index.start()
        first_page_ms = (time.perf_counter() - started) * 1000 + median_ms(
            lambda: select("kmeans", pool_for(x, index, 0), page), 1)
        waiting = not index.ready
        index.wait()
        fit_s = time.perf_counter() - started
        size_mb = (cache.clustering_path.stat().st_size + cache.neighbours_path.stat().st_size) / 2**20

        restarted = EmbeddingIndex(x, cache=IndexCache(home, "bench"), inline_below=0)
        t0 = time.perf_counter()
        restarted.wait()
        load_s = time.perf_counter() - t0
        assert restarted.fitted.from_cache

        pool = pool_for(x, index, 500)
        kmeans_ms = median_ms(lambda: select("kmeans", pool, page), 5)
        scan_ms = median_ms(lambda: select("borderline", pool, page), 5)
        with_seals = Seals(min_pool=0)

        def seals() -> np.ndarray:  # borderline over the SEALS candidates, whatever the pool size
            cand = candidates(pool, page, with_seals)
            return top_k(cand, np.abs(pool.probs[cand] - 0.5), page, pool.rng)

        seals()  # the first call looks up the 500 labeled items' neighbours once
        seals_ms = median_ms(seals, 5)
        similar = replace(pool, exemplars=(int(np.flatnonzero(~pool.labeled)[0]),))
        similar_ms = median_ms(lambda: select("similar", similar, page), 5)
        brute = replace(similar, index=None)
        brute_ms = median_ms(lambda: select("similar", brute, page), 3)

    print(f"| {n:,} | {first_page_ms:.0f} ms{' (fit still running)' if waiting else ''} | {fit_s:.1f} s | "
          f"{load_s:.2f} s | {size_mb:.0f} MB | {kmeans_ms:.0f} ms | {scan_ms:.0f} ms | {seals_ms:.0f} ms | "
          f"{similar_ms:.0f} ms | {brute_ms:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[100_000])
    parser.add_argument("--page", type=int, default=48)
    args = parser.parse_args()
    print(f"{DIM}-d rows, pages of {args.page}, 500 labeled; medians of 5 pages (brute-force exemplar search: 3).\n")
    print("| items | first k-means page | fit (background) | restart (cached) | cache on disk | k-means page "
          "| borderline page, full scan | borderline, SEALS candidates | similar page (index) "
          "| similar page (brute force) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.items:
        run(n, args.page)


if __name__ == "__main__":
    main()
