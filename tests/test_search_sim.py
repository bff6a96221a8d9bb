"""The offline find simulator's scoring pieces (benchmarks/search_sim.py) on tiny arrays."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "search_sim.py"


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("search_sim", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["search_sim"] = module  # its dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("search_sim", None)


def test_neighbour_table_is_exact_cosine_without_the_item_itself(sim):
    x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    ids, sims = sim.neighbour_table(x, 2)
    assert ids[:, 0].tolist() == [1, 0, 3, 2]
    assert (ids != np.arange(4)[:, None]).all()
    assert np.all(np.diff(sims, axis=1) <= 0) and sims.min() >= 0


def test_scores_blend_the_knn_posterior_and_the_largest_similarity_to_a_positive(sim):
    ids = np.array([[1, 2], [0, 2], [0, 1]])
    sims = np.array([[0.5, 0.2], [0.5, 0.4], [0.2, 0.4]])
    head = np.array([0.9, 0.1, 0.3])
    labels = {0: 1}
    assert np.allclose(sim.scores(sim.Policy(), head, labels, (ids, sims)), head)
    knn = sim.scores(sim.Policy(head=0.0, knn=1.0, k=2, gamma=0.1), head, labels, (ids, sims))
    assert np.allclose(knn, [0.1, 0.6 / 1.5, 0.3 / 1.2])  # (gamma + w to positives) / (1 + w to labeled)
    best = sim.scores(sim.Policy(head=0.0, maxsim=1.0, k=2), head, {0: 1, 1: 0}, (ids, sims))
    assert np.allclose(best, [0.0, 0.5, 0.2])  # only the positive's own neighbour lists count


def test_crossfit_bound_reads_a_separable_concept_at_the_oracle_minimum(sim):
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.1).astype(np.int64)
    x = rng.normal(size=(400, 8)).astype(np.float32)
    x[:, 0] += 6.0 * y  # the positives sit far apart on one axis
    assert sim.crossfit_bound(x, y, seed=0) == pytest.approx(1.0, abs=0.05)
