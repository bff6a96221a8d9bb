"""A large pool's embeddings are cached as float16 and used in place: the session never widens the
whole array to float32, and the head's probabilities stay those of the float32 pool."""

from __future__ import annotations

import numpy as np
import torch

from fastlabel.embeddings import cache as cache_module
from fastlabel.embeddings.cache import EmbeddingCache, stored_dtype
from fastlabel.events import EventLog
from fastlabel.learner.zeroshot import zero_shot_probs
from fastlabel.session import LabelingSession

RNG = np.random.default_rng(8)
CENTRES = RNG.normal(size=(6, 32)).astype(np.float32)
CLUSTER = RNG.integers(0, 6, 2000)
EMB = CENTRES[CLUSTER] + 0.7 * RNG.normal(size=(2000, 32)).astype(np.float32)
EMB /= np.linalg.norm(EMB, axis=1, keepdims=True)
TRUTH = (CLUSTER == 0).astype(int)


def test_large_arrays_are_cached_as_float16_and_small_ones_as_float32(tmp_path, monkeypatch) -> None:
    assert stored_dtype((1_000_000, 512)) is np.float16 and stored_dtype((10_000, 1280)) is np.float32
    cache = EmbeddingCache(tmp_path)
    cache.save("small", EMB, {})
    monkeypatch.setattr(cache_module, "FLOAT16_ABOVE", 1000)
    cache.save("large", EMB, {})
    small, large = cache.load("small"), cache.load("large")
    assert small.dtype == np.float32 and large.dtype == np.float16
    assert isinstance(large, np.memmap) and cache.load_meta("large")["dtype"] == "float16"
    assert np.abs(large.astype(np.float32) - EMB).max() < 1e-3


def test_a_float16_pool_is_used_in_place_and_scores_like_float32() -> None:
    half = EMB.astype(np.float16)
    wide = LabelingSession(EMB, EventLog(), seed=3)
    narrow = LabelingSession(half, EventLog(), seed=3)
    assert narrow.embeddings is half  # not widened to a float32 copy
    assert narrow.trainer.learner.x.dtype == torch.float16
    assert np.shares_memory(narrow.trainer.learner.x.numpy(), half)
    for _ in range(3):  # the same labels for both (k-means on rounded rows may pick other pages)
        page = wide.next_batch("hunt_refine", 24)
        for session in (wide, narrow):
            session.submit([(i, int(TRUTH[i])) for i in page.ids])
    # training amplifies the rounding a little (benchmarks/float16.py: AUC within 0.0001 on CelebA)
    assert np.abs(wide.probs - narrow.probs).max() < 0.05
    assert np.mean((wide.probs >= 0.5) == (narrow.probs >= 0.5)) > 0.995
    assert narrow.next_batch("hunt_refine", 24).ids  # and it serves pages


def test_zero_shot_scores_of_a_float16_pool_match_float32() -> None:
    text = EMB[5]
    assert np.abs(zero_shot_probs(EMB.astype(np.float16), text, 100.0) - zero_shot_probs(EMB, text, 100.0)).max() < 2e-2
