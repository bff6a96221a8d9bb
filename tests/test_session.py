"""The session: events -> reducer -> learner, and replay determinism."""

from __future__ import annotations

import numpy as np
import pytest

from fastlabel.errors import InvalidInput, NothingToUndo, NoTextSide, UnknownItem
from fastlabel.events import EventLog, parse_jsonl
from fastlabel.server.bodies import parse_labels
from fastlabel.session import LabelingSession


class FakeText:
    has_text = True
    logit_scale = 50.0

    def __init__(self, direction: np.ndarray):
        self.direction = direction

    def encode_text(self, text: str) -> np.ndarray:
        return self.direction


@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).astype(int)
    return x, y


def label_pages(session: LabelingSession, y, strategies, size=40):
    for name in strategies:
        batch = session.next_batch(name, size)
        session.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id, page_ms=900, clicks=3)


def test_no_labels_no_query_means_one_half(pool):
    x, _ = pool
    s = LabelingSession(x)
    assert np.all(s.probs == 0.5)


def test_labels_train_a_head_that_learns(pool):
    x, y = pool
    s = LabelingSession(x, seed=1)
    label_pages(s, y, ["random", "borderline", "borderline", "borderline"])
    acc = np.mean((s.probs >= 0.5) == y)
    assert acc > 0.85
    assert s.counts()["labeled"] == 160
    assert s.history()[-1].train_ms is not None and 0 <= s.history()[-1].flip_rate <= 1


def test_replay_rebuilds_identical_labels_and_model(pool):
    x, y = pool
    s = LabelingSession(x, seed=5)
    label_pages(s, y, ["kmeans", "borderline", "verify_positives", "verify_negatives"])
    s.undo()
    label_pages(s, y, ["random"])
    events, _ = parse_jsonl(s.export_events_jsonl())
    r = LabelingSession.replay(events, x)
    assert dict(r.state.labels) == dict(s.state.labels)
    np.testing.assert_allclose(r.probs, s.probs, atol=1e-5)
    assert [p.labeled for p in r.history()] == [p.labeled for p in s.history()]


def test_different_seed_gives_a_different_model(pool):
    x, y = pool
    a = LabelingSession(x, seed=1)
    label_pages(a, y, ["random", "borderline"])
    events = a.log.events
    b = LabelingSession(x, seed=2)
    for e in events[1:]:
        if e.type == "labels_submitted":
            b.submit(e.labels)
    assert dict(a.state.labels) == dict(b.state.labels)
    assert not np.allclose(a.probs, b.probs)


def test_zero_shot_prior_scores_before_any_label(pool):
    x, y = pool
    direction = np.zeros(32, np.float32)
    direction[0] = 1
    s = LabelingSession(x, text_encoder=FakeText(direction))
    s.set_query("first axis")
    assert np.mean((s.probs >= 0.5) == y) > 0.75
    batch = s.next_batch("verify_positives", 20)
    assert np.mean(y[batch.ids]) > 0.9
    assert s.state.query == "first axis"


def test_query_needs_a_text_side_and_text(pool):
    x, _ = pool
    with pytest.raises(NoTextSide):
        LabelingSession(x).set_query("smiling")
    s = LabelingSession(x, text_encoder=FakeText(np.ones(32, np.float32) / np.sqrt(32)))
    for bad in ["", "   ", None, 3, "x" * 501]:
        with pytest.raises(InvalidInput):
            s.set_query(bad)
    assert len(s.log) == 1


def test_undo_restores_labels_and_model(pool):
    x, y = pool
    s = LabelingSession(x, seed=3)
    label_pages(s, y, ["random"])
    labels_before, probs_before = dict(s.state.labels), s.probs.copy()
    label_pages(s, y, ["borderline"])
    undone = s.undo()
    assert dict(s.state.labels) == labels_before
    assert undone.page is not None and undone.page.strategy == "borderline" and len(undone.labels) == 40
    assert undone.point.seq > undone.page.seq and undone.point.labeled == 40  # its own retrain
    s.undo()
    assert s.counts()["labeled"] == 0 and np.all(s.probs == 0.5)
    with pytest.raises(NothingToUndo):
        s.undo()
    assert probs_before.shape == s.probs.shape


def test_one_class_only_keeps_the_prior(pool):
    x, _ = pool
    s = LabelingSession(x)
    s.submit([(0, 1), (1, 1)])
    assert np.all(s.probs == 0.5) and s.history()[-1].train_ms is None


def test_exhausted_pool_is_a_clear_result_not_an_error(pool):
    x, y = pool
    s = LabelingSession(x[:30])
    s.submit([(i, int(y[i])) for i in range(30)])
    batch = s.next_batch("borderline", 10)
    assert batch.exhausted and batch.ids == [] and batch.message


def test_unknown_batch_id_is_rejected_without_state_change(pool):
    x, _ = pool
    s = LabelingSession(x)
    with pytest.raises(InvalidInput):
        s.submit([(0, 1)], batch_id=999)
    assert s.counts()["labeled"] == 0 and len(s.log) == 1


@pytest.mark.parametrize(
    "raw, error",
    [
        ({"id": 1}, InvalidInput),
        ([], InvalidInput),
        ([{"id": 1}], InvalidInput),
        ([{"id": 1, "label": 2}], InvalidInput),
        ([{"id": 1, "label": True}], InvalidInput),
        ([{"id": "1", "label": 1}], InvalidInput),
        ([{"id": 1, "label": 1, "x": 0}], InvalidInput),
        ([{"id": 1, "label": 1}, {"id": 1, "label": 0}], InvalidInput),
        ([{"id": 600, "label": 1}], UnknownItem),
        ([{"id": -1, "label": 1}], UnknownItem),
    ],
)
def test_parse_labels_rejects_bad_pages(raw, error):
    with pytest.raises(error):
        parse_labels(raw, 600)


def test_journal_resumes_same_labels_and_model(pool, tmp_path):
    x, y = pool
    path = tmp_path / "session.jsonl"
    s = LabelingSession(x, EventLog.open(path), seed=4)
    label_pages(s, y, ["random", "borderline"])
    s.log.close()
    resumed = LabelingSession(x, EventLog.open(path), seed=999)  # the journal's seed wins
    assert dict(resumed.state.labels) == dict(s.state.labels)
    np.testing.assert_allclose(resumed.probs, s.probs, atol=1e-5)


def test_journal_for_other_data_is_refused(pool, tmp_path):
    x, _ = pool
    path = tmp_path / "session.jsonl"
    LabelingSession(x, EventLog.open(path), data_id="aaa").log.close()
    with pytest.raises(InvalidInput, match="other data"):
        LabelingSession(x, EventLog.open(path), data_id="bbb")
    with pytest.raises(InvalidInput, match="600 items"):
        LabelingSession(x[:10], EventLog.open(path))


def test_pages_carry_audit_cards_held_out_of_training(pool):
    x, y = pool
    s = LabelingSession(x, seed=2, audit_per_page=2)
    batch = s.next_batch("verify_positives", 40)
    served = s.state.batch(batch.batch_id)
    assert len(served.audit) == 2 and set(served.audit) <= set(batch.ids)
    assert served.audit_pool == 600 - 38
    s.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id)
    assert s.state.audit_ids == frozenset(served.audit)
    assert s.counts()["labeled"] == 40  # audit labels are kept, only not trained on
    page = s.next_batch("audit", 24)
    assert set(s.state.batch(page.batch_id).audit) == set(page.ids)


def test_concurrent_submissions_coalesce_retrains_and_replay_identically(pool):
    import threading

    x, y = pool
    s = LabelingSession(x, seed=6)
    pages = [[(i, int(y[i])) for i in range(k * 20, k * 20 + 20)] for k in range(12)]
    start = threading.Barrier(4)

    def tab(chunk):
        start.wait()
        for page in chunk:
            s.submit(page)

    threads = [threading.Thread(target=tab, args=(pages[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kinds = [e.type for e in s.log]
    assert kinds.count("labels_submitted") == 12
    assert 1 <= kinds.count("model_trained") <= 12
    assert s.counts()["labeled"] == 240
    replayed = LabelingSession.replay(s.log.events, x)
    np.testing.assert_allclose(replayed.probs, s.probs, atol=1e-5)


def test_a_submission_never_retrained_is_trained_on_resume(pool, tmp_path):
    from fastlabel.events import LabelsSubmitted

    x, y = pool
    path = tmp_path / "session.jsonl"
    s = LabelingSession(x, EventLog.open(path), seed=4)
    label_pages(s, y, ["random"])
    s.log.append(LabelsSubmitted, labels=tuple((i, int(y[i])) for i in range(500, 540)))  # then the process died
    s.log.close()
    resumed = LabelingSession(x, EventLog.open(path))
    assert resumed.counts()["labeled"] == 80
    assert resumed.log.events[-1].type == "model_trained"
    assert resumed.history()[-1].labeled == 80


def test_replay_reproduces_the_panel_figures(pool):
    from fastlabel.replay import insight_lines

    x, y = pool
    s = LabelingSession(x, seed=8)
    label_pages(s, y, ["hybrid", "borderline", "audit", "verify_positives"])
    events, _ = parse_jsonl(s.export_events_jsonl())
    replayed = LabelingSession.replay(events, x)
    assert replayed.insights() == s.insights()
    assert s.insights()["estimates"]["audit_cards"] >= 40
    assert insight_lines(replayed.insights()) == insight_lines(s.insights())
