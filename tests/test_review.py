"""The review page (out-of-fold disagreement), corrections as replayable events, and the labeled gallery."""

from __future__ import annotations

import numpy as np
import pytest

from fastlabel.errors import InvalidInput
from fastlabel.events import LabelsCorrected, event_from_dict
from fastlabel.learner.head import HeadConfig, use_threads
from fastlabel.session import LabelingSession
from fastlabel.session.labeled import labeled_items
from fastlabel.session.review import out_of_fold_probs, review_page, stratified_folds

SMALL = HeadConfig(hidden=16, steps=30, warm_steps=10)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    use_threads()  # as a server does: tiny fits on one thread


def blobs(n: int = 200, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two well separated clusters: class = cluster."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    x = rng.normal(size=(n, dim)).astype(np.float32) * 0.3
    x[:, 0] += np.where(y == 1, 2.0, -2.0)
    return x, y


def test_stratified_folds_give_each_fold_both_classes():
    y = np.array([0] * 7 + [1] * 5)
    folds = stratified_folds(y, 3, np.random.default_rng(0))
    for f in range(3):
        assert set(y[folds == f]) == {0, 1}


def test_out_of_fold_finds_planted_mistakes():
    x, y = blobs()
    noisy = y.copy()
    wrong = np.array([3, 50, 121])
    noisy[wrong] = 1 - noisy[wrong]
    ids = np.arange(len(y))
    probs = out_of_fold_probs(x, ids, noisy, folds=5, seed=1, config=SMALL)
    worst = np.argsort(-np.abs(noisy - probs))[:3]
    assert set(worst) == set(wrong)
    with pytest.raises(ValueError):
        out_of_fold_probs(x, ids[:3], np.array([0, 0, 1]))


def labeled_session(n_label: int = 120, wrong=(4, 9, 30)) -> tuple[LabelingSession, np.ndarray]:
    x, y = blobs()
    session = LabelingSession(x, seed=3, head_config=SMALL)
    noisy = y.copy()
    noisy[list(wrong)] = 1 - noisy[list(wrong)]
    session.submit(tuple((i, int(noisy[i])) for i in range(n_label)))
    return session, y


def test_review_page_shows_the_mistakes_first_then_others():
    session, truth = labeled_session()
    first = session.review(3)
    assert set(first.ids) == {4, 9, 30} and first.strategy == "review" and first.batch_id is not None
    second = session.review(3)
    assert not set(second.ids) & set(first.ids)  # a reviewed card is not shown again
    page = review_page(session.state, session.embeddings, 500, config=SMALL)
    assert page.ids.size == 120 - 6


def test_review_needs_two_of_each_class():
    x, _ = blobs()
    session = LabelingSession(x, head_config=SMALL)
    session.submit(((0, 0), (1, 1), (2, 0)))
    batch = session.review(10)
    assert batch.exhausted and batch.ids == [] and "two positives" in batch.message


def test_corrections_replay_count_and_undo():
    session, truth = labeled_session()
    page = session.review(3)
    fixes = tuple((i, int(truth[i])) for i in page.ids)
    done = session.correct(fixes, origin="review", batch_id=page.batch_id)
    assert done.point.train_ms is not None
    assert all(session.state.labels[i] == truth[i] for i in page.ids)
    effort = session.insights()["effort"]
    assert effort["corrections"] == {"total": 3, "review": 3, "gallery": 0}
    assert effort["overall"]["labels"] == 120  # a correction is not a new page of labels

    events = list(session.log)
    corrected = [e for e in events if isinstance(e, LabelsCorrected)]
    assert len(corrected) == 1 and event_from_dict(corrected[0].to_dict()) == corrected[0]
    again = LabelingSession.replay(events, session.embeddings, seed=3, head_config=SMALL)
    assert dict(again.state.labels) == dict(session.state.labels)
    assert np.array_equal(again.probs, session.probs)  # the retrain after the correction replays too
    assert set(again.state.corrected()) == set(page.ids)

    session.undo()  # takes the correction back
    assert session.insights()["effort"]["corrections"]["total"] == 0
    assert all(session.state.labels[i] != truth[i] for i in page.ids)


def test_correct_refuses_unlabeled_items_and_bad_origins():
    session, _ = labeled_session(n_label=20)
    n_events = len(session.log)
    with pytest.raises(InvalidInput):
        session.correct(((150, 1),), origin="gallery")
    with pytest.raises(InvalidInput):
        session.correct(((1, 1),), origin="elsewhere")
    with pytest.raises(InvalidInput):
        session.correct(((1, 1),), origin="review", batch_id=999)
    assert len(session.log) == n_events


def test_gallery_filters_newest_first():
    x, _ = blobs()
    session = LabelingSession(x, head_config=SMALL)
    session.submit(((0, 1), (1, 0), (2, 1)))
    session.submit(((3, 0), (4, 1)))
    session.correct(((1, 1),), origin="gallery")
    assert [r.id for r in labeled_items(session.state)] == [1, 3, 4, 0, 2]
    assert [r.id for r in labeled_items(session.state, "positive")] == [1, 4, 0, 2]
    assert [r.id for r in labeled_items(session.state, "negative")] == [3]
    assert [(r.id, r.label) for r in labeled_items(session.state, "corrected")] == [(1, 1)]
    session.correct(((2, 1),), origin="gallery")  # same label again: recorded, but nothing corrected
    assert [r.id for r in labeled_items(session.state, "corrected")] == [1]
    with pytest.raises(ValueError):
        labeled_items(session.state, "odd")
