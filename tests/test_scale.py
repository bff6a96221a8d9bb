"""The hot path at scale: uniform draws without a pass over the pool, the labeled mask kept in step
with the labels, and restarts from head snapshots equal to a full replay."""

from __future__ import annotations

import dataclasses
import shutil
from collections import Counter

import numpy as np
import pytest

from fastlabel.learner.sampling import sample_unlabeled


@pytest.mark.parametrize("n_labeled", [0, 5, 17])  # 17 of 20 labeled: the listing fallback
def test_draws_are_uniform_over_unlabeled_items_and_never_repeat(n_labeled: int) -> None:
    rng = np.random.default_rng(0)
    labeled = np.zeros(20, bool)
    labeled[:n_labeled] = True
    exclude = [19] if n_labeled < 17 else []
    allowed = [i for i in range(20) if not labeled[i] and i not in exclude]
    counts: Counter[int] = Counter()
    trials = 4000
    for _ in range(trials):
        ids = sample_unlabeled(rng, labeled, 3, exclude)
        assert len(set(ids.tolist())) == ids.size == min(3, len(allowed))
        assert set(ids.tolist()) <= set(allowed)
        counts.update(ids.tolist())
    expected = trials * min(3, len(allowed)) / len(allowed)
    assert set(counts) == set(allowed)
    assert max(abs(c - expected) for c in counts.values()) < 0.15 * expected


def test_draws_stop_at_what_is_left() -> None:
    rng = np.random.default_rng(1)
    labeled = np.ones(10, bool)
    assert sample_unlabeled(rng, labeled, 4).size == 0
    labeled[3] = False
    assert sample_unlabeled(rng, labeled, 4).tolist() == [3]
    assert sample_unlabeled(rng, labeled, 4, exclude=[3]).size == 0


# --- the session's labeled mask and head snapshots ----------------------------------------------

from pathlib import Path  # noqa: E402

from fastlabel.cli import main  # noqa: E402
from fastlabel.data.sources import SpriteSheet  # noqa: E402
from fastlabel.events import EventLog, load_events  # noqa: E402
from fastlabel.session import LabelingSession  # noqa: E402
from fastlabel.session import training  # noqa: E402
from fastlabel.session import snapshots  # noqa: E402
from fastlabel.session.snapshots import snapshot_dir  # noqa: E402

SNAPSHOT_EVERY = 3  # the tests' snapshot interval: small, so few pages exercise it


@pytest.fixture(autouse=True)
def frequent_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", SNAPSHOT_EVERY)


@pytest.fixture(scope="module")
def pool600() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 24)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, (x[:, 0] - 0.5 * x[:, 2] > 0.1).astype(int)


def label_pages(session: LabelingSession, y: np.ndarray, pages: int, size: int = 12) -> None:
    strategies = ("hybrid", "borderline", "random", "verify_positives")
    for k in range(pages):
        batch = session.next_batch(strategies[k % len(strategies)], size)
        session.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id, page_ms=800, clicks=2)


@pytest.fixture
def count_retrains(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = training.Trainer.retrain

    def counted(self, seq, state, done=None, **kwargs):
        calls.append(seq)
        return real(self, seq, state, done, **kwargs)

    monkeypatch.setattr(training.Trainer, "retrain", counted)
    return calls


def test_labeled_mask_follows_submissions_and_undos(pool600) -> None:
    x, y = pool600
    session = LabelingSession(x, seed=1)
    label_pages(session, y, 3)
    session.submit([(0, 1), (1, 0), (2, 1)])
    session.submit([(1, 1), (5, 0)])  # 1 relabeled, 5 new
    session.undo()  # 1 goes back to 0, 5 back to unlabeled
    session.undo()
    session.submit([(7, 1)])
    expected = np.zeros(len(x), bool)
    expected[list(session.state.labels)] = True
    assert np.array_equal(session.pool().labeled, expected) and 5 not in session.state.labels


def test_restart_from_a_snapshot_equals_a_full_replay(pool600, tmp_path: Path, count_retrains) -> None:
    x, y = pool600
    journal = tmp_path / "s.jsonl"
    live = LabelingSession(x, EventLog.open(journal), seed=4)
    label_pages(live, y, 2 * SNAPSHOT_EVERY + 2)
    live.log.close()
    stored = sorted(snapshot_dir(journal).glob("head-*.safetensors"))
    assert len(stored) == 2  # every SNAPSHOT_EVERY retrains, the newest two kept

    count_retrains.clear()
    copy = tmp_path / "copy.jsonl"  # each journal has one writer; the full replay gets its own
    shutil.copy(journal, copy)
    restarted = LabelingSession(x, EventLog.open(journal), seed=4)
    assert len(count_retrains) == 2  # only the retrains after the newest snapshot ran again
    full = LabelingSession(x, EventLog.open(copy), seed=4, snapshots=False)
    assert len(count_retrains) == 2 + 2 * SNAPSHOT_EVERY + 2
    np.testing.assert_allclose(restarted.probs, full.probs, atol=1e-6)
    np.testing.assert_allclose(restarted.probs, live.probs, atol=1e-6)
    trend = [(p.seq, p.labeled, p.positive, p.flip_rate) for p in live.history()]  # train_ms is re-measured
    assert [(p.seq, p.labeled, p.positive, p.flip_rate) for p in restarted.history()] == trend
    # and they go on alike: same next page, same retrain
    for session in (restarted, full):
        label_pages(session, y, 1)
    np.testing.assert_allclose(restarted.probs, full.probs, atol=1e-6)
    restarted.log.close()
    full.log.close()


def test_a_snapshot_that_does_not_match_is_ignored(pool600, tmp_path: Path, count_retrains) -> None:
    x, y = pool600
    journal = tmp_path / "s.jsonl"
    live = LabelingSession(x, EventLog.open(journal), seed=4)
    label_pages(live, y, SNAPSHOT_EVERY + 1)
    live.log.close()
    events = load_events(journal)
    folder = snapshot_dir(journal)
    # the same events over other embeddings: the snapshot was trained on these, so it is ignored
    other = np.roll(x, 1, axis=0)
    count_retrains.clear()
    replayed = LabelingSession.replay(events, other, snapshots=folder)
    assert len(count_retrains) == SNAPSHOT_EVERY + 1
    np.testing.assert_allclose(replayed.probs, LabelingSession.replay(events, other, snapshots=False).probs, atol=1e-6)
    # an edited journal: one early label flipped, so the hash of the events before the snapshot differs
    k = next(i for i, e in enumerate(events) if type(e).__name__ == "LabelsSubmitted")
    first = events[k]
    (item, label), *rest = first.labels
    events[k] = dataclasses.replace(first, labels=((item, 1 - label), *tuple(rest)))
    count_retrains.clear()
    LabelingSession.replay(events, x, snapshots=folder)
    assert len(count_retrains) == SNAPSHOT_EVERY + 1
    # a damaged file
    newest = sorted(folder.glob("head-*.safetensors"))[-1]
    newest.write_bytes(b"not a safetensors file")
    count_retrains.clear()
    LabelingSession.replay(load_events(journal), x, snapshots=folder)
    assert len(count_retrains) == SNAPSHOT_EVERY + 1


def test_replay_command_uses_snapshots_unless_told_not_to(demo_dir: Path, tmp_path: Path, capsys,
                                                          count_retrains) -> None:
    sheet = SpriteSheet(demo_dir / "sprite.png", "30x20")
    x = np.random.default_rng(5).normal(size=(len(sheet), 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    journal = tmp_path / "s.jsonl"
    live = LabelingSession(x / np.linalg.norm(x, axis=1, keepdims=True), EventLog.open(journal), seed=0,
                           data_id=sheet.fingerprint())
    label_pages(live, (x[:, 0] > 0).astype(int), SNAPSHOT_EVERY + 2)
    live.log.close()
    args = ["replay", str(journal), "--sprite", str(demo_dir / "sprite.png"), "--grid", "30x20",
            "--encoder", "precomputed", "--embeddings", str(tmp_path / "x.npy"), "--home", str(tmp_path / "home")]
    count_retrains.clear()
    assert main(args) == 0
    fast = capsys.readouterr().out
    assert len(count_retrains) == 2
    assert main(args + ["--no-snapshots"]) == 0
    assert len(count_retrains) == 2 + SNAPSHOT_EVERY + 2
    full = capsys.readouterr().out

    def steady(text: str) -> list[str]:  # all but the measured training time
        return [line for line in text.splitlines() if not line.startswith("last retrain")]

    assert steady(full) == steady(fast) and "predicted positive" in fast
