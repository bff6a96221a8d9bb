"""A large pool is scored off the request path: a submit returns once the head is fitted, pages
rank by exact scores computed by id, and the whole pool's probabilities (with flips and
estimates) follow from a background pass. Small sizes here, with the size limit set to zero."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from fastlabel.events import EventLog
from fastlabel.learner.head import HeadConfig
from fastlabel.session import LabelingSession
from fastlabel.session import training

RNG = np.random.default_rng(3)
CENTRES = RNG.normal(size=(8, 16)).astype(np.float32)
CLUSTER = RNG.integers(0, 8, 3000)
EMB = (CENTRES[CLUSTER] + 0.8 * RNG.normal(size=(3000, 16))).astype(np.float32)
TRUTH = (CLUSTER < 2).astype(int)
BACKGROUND = HeadConfig(background_above=0)


def label_pages(session: LabelingSession, pages: int, strategy: str = "hunt_refine") -> list[list[float]]:
    """Label `pages` pages with the truth, waiting for each pass as a person's labeling would;
    returns the probabilities each page was shown with."""
    shown = []
    for _ in range(pages):
        batch = session.next_batch(strategy, 24)
        shown.append(batch.probs)
        session.submit([(i, int(TRUTH[i])) for i in batch.ids], batch_id=batch.batch_id)
        session.settle()
    return shown


def test_background_scoring_gives_the_probabilities_of_scoring_in_line() -> None:
    inline = LabelingSession(EMB, EventLog(), seed=1)
    background = LabelingSession(EMB, EventLog(), seed=1, head_config=BACKGROUND)
    assert background.trainer.background and not inline.trainer.background
    assert label_pages(inline, 4) == label_pages(background, 4)  # same pages, same shown probabilities
    assert np.allclose(inline.probs, background.probs, atol=1e-6)
    assert [p.flip_rate for p in inline.history()] == [p.flip_rate for p in background.history()]


def test_a_submit_does_not_wait_for_the_pool_and_pages_rank_by_exact_scores(monkeypatch) -> None:
    session = LabelingSession(EMB, EventLog(), seed=2, head_config=BACKGROUND)
    label_pages(session, 1)
    release = threading.Event()
    real = training.PendingScores.score_all

    def held(self, still_wanted):
        release.wait(30)
        return real(self, still_wanted)

    monkeypatch.setattr(training.PendingScores, "score_all", held)
    heard = []
    session.subscribe(lambda message: heard.append(message.point))
    batch = session.next_batch("borderline", 24)
    done = session.submit([(i, int(TRUTH[i])) for i in batch.ids], batch_id=batch.batch_id)
    assert done.point.train_ms is not None and done.point.flip_rate is None  # measured when the pass ends
    assert heard == []  # followers hear a retrain once the whole pool is scored
    stale = session.probs.copy()
    page = session.next_batch("borderline", 24)  # served while the pass is held
    release.set()
    session.settle()
    assert np.allclose(page.probs, np.round(session.probs[page.ids], 5), atol=1e-5)
    assert not np.allclose(stale, session.probs)
    assert len(heard) == 1 and heard[0].seq == done.point.seq and heard[0].flip_rate is not None
    assert session.history()[-1].flip_rate == heard[0].flip_rate


def test_a_newer_retrain_supersedes_a_pass_still_running(monkeypatch) -> None:
    session = LabelingSession(EMB, EventLog(), seed=4, head_config=BACKGROUND)
    label_pages(session, 1)
    first_pass = threading.Event()
    real = training.PendingScores.score_all
    calls = []

    def held_once(self, still_wanted):  # holds the first background pass (a page may also score the pool)
        if threading.current_thread().name.startswith("fastlabel-scores"):
            calls.append(self)
            if len(calls) == 1:
                first_pass.wait(30)
        return real(self, still_wanted)

    monkeypatch.setattr(training.PendingScores, "score_all", held_once)
    heard = []
    session.subscribe(lambda message: heard.append(message.point.seq))
    for _ in range(2):
        batch = session.next_batch("hunt_refine", 24)
        session.submit([(i, int(TRUTH[i])) for i in batch.ids], batch_id=batch.batch_id)
    first_pass.set()
    session.settle()
    assert heard == [session.state.retrains[-1].seq]  # the superseded pass published nothing
    inline = LabelingSession.replay(session.log.events, EMB)
    assert np.allclose(inline.probs, session.probs, atol=1e-6)


@pytest.mark.parametrize("background", [False, True])
def test_a_replay_ends_with_the_whole_pool_scored(background: bool) -> None:
    live = LabelingSession(EMB, EventLog(), seed=5)
    label_pages(live, 3)
    config = BACKGROUND if background else None
    replayed = LabelingSession.replay(live.log.events, EMB, head_config=config)
    assert replayed.trainer.pending is None
    assert np.allclose(replayed.probs, live.probs, atol=1e-6)
