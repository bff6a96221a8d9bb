"""The label each card starts with: negative before any model, the model's guess after, the
strategy's own on "more like this" (its audit cards: the model's guess); the simulated labeler
counts flips from the same start labels."""

from __future__ import annotations

import numpy as np

from fastlabel.bench.clicks import page_flips, shown_labels, wrong_cards
from fastlabel.bench.simulate import Run, Task, simulate
from fastlabel.session import LabelingSession
from fastlabel.session.pages import cold_message, start_labels


def blobs(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    x = rng.normal(size=(n, 16)).astype(np.float32) + 2.0 * y[:, None]
    return x, y


def test_rule_cold_page_starts_every_card_negative():
    probs = [0.5] * 5
    assert start_labels([1, 2, 3, 4, 5], probs, audit=[2], prelabel=0, cold=True) == [0, 0, 0, 0, 0]


def test_rule_after_a_head_is_the_models_guess():
    probs = [0.9, 0.5, 0.49, 0.1]
    assert start_labels([1, 2, 3, 4], probs, audit=[3], prelabel=None, cold=False) == [1, 1, 0, 0]


def test_rule_similar_page_strategy_cards_positive_audit_cards_models_guess():
    ids, probs = [1, 2, 3, 4], [0.9, 0.2, 0.1, 0.8]
    assert start_labels(ids, probs, audit=[3, 4], prelabel=1, cold=False) == [1, 1, 0, 1]
    # no model yet: the audit cards start negative, the strategy's cards still positive
    assert start_labels(ids, [0.5] * 4, audit=[3, 4], prelabel=1, cold=True) == [1, 1, 0, 0]


def test_first_page_of_a_session_starts_negative_and_says_so():
    x, _ = blobs()
    session = LabelingSession(x, seed=0, concept="Eyeglasses")
    for strategy in ("hunt_refine", "random", "borderline", "audit"):
        batch = session.next_batch(strategy, 24)
        assert batch.prelabel == 0 and batch.starts == [0] * len(batch.ids), strategy
        assert batch.message == cold_message("Eyeglasses") and "Eyeglasses" in batch.message
    again = session.next_batch("audit", 24)  # the same unanswered page, served again
    assert again.batch_id == batch.batch_id and again.starts == batch.starts and again.message == batch.message


def test_after_a_head_cards_start_with_the_models_guess():
    x, y = blobs()
    session = LabelingSession(x, seed=0)
    first = session.next_batch("hunt_refine", 48)
    session.submit(tuple((i, int(y[i])) for i in first.ids), batch_id=first.batch_id)
    batch = session.next_batch("hunt_refine", 48)
    assert batch.prelabel is None and batch.message is None
    assert batch.starts == [int(p >= 0.5) for p in batch.probs]
    assert 0 < sum(batch.starts) < len(batch.starts)


def test_similar_page_audit_cards_start_with_the_models_guess():
    x, y = blobs()
    session = LabelingSession(x, seed=0)
    first = session.next_batch("hunt_refine", 48)
    session.submit(tuple((i, int(y[i])) for i in first.ids), batch_id=first.batch_id)
    seed_item = int(next(i for i in first.ids if y[i] == 1))
    batch = session.next_batch("similar", 24, exemplars=[seed_item])
    assert batch.prelabel == 1 and len(batch.audit) == 2
    for item, p, start in zip(batch.ids, batch.probs, batch.starts):
        assert start == (int(p >= 0.5) if item in batch.audit else 1)


def test_simulated_flips_follow_the_page():
    x, y = blobs()
    session = LabelingSession(x, seed=0)
    batch = session.next_batch("hunt_refine", 48)
    truth = y[batch.ids].tolist()
    assert shown_labels(batch) == [0] * 48
    assert page_flips(batch, truth) == sum(truth)  # cold: a flip per positive, none per negative
    assert wrong_cards([1, 1, 0, 0], [1, 0, 0, 1]) == 2


def test_bench_run_counts_the_cold_page_flips():
    x, y = blobs()
    task = Task("blob", 0, x[:200], y[:200], x[200:], y[200:])
    points = simulate(task, Run("hunt_refine", "hunt_refine"), 96, 48)
    first = points[1]
    assert first.labels == 48 and first.clicks == first.positives + 1  # flips = positives, plus the submit
