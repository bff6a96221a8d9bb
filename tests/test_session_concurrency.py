"""The session's locks and followers: followers hear a message after the event is saved, on their own
thread; slow work (a page's strategy, a review page's fold heads) runs off the lock; a submit takes
at most two locks."""

from __future__ import annotations

import inspect
import threading
from pathlib import Path

import numpy as np
import pytest

from fastlabel.events import EventLog, ModelTrained
from fastlabel.learner import registry
from fastlabel.learner.base import PageKind
from fastlabel.learner.head import FOREGROUND, HeadConfig, Learner
from fastlabel.server.push import Hub, announce_retrain
from fastlabel.session import LabelingSession, Retrained
from fastlabel.session import page_commands as session_module

RNG = np.random.default_rng(0)
X = RNG.normal(size=(400, 16)).astype(np.float32)
TRUTH = (X[:, 0] > 0.3).astype(int)
WAIT = 120  # seconds a held step waits at most, so a broken test fails instead of hanging (a busy CI is slow)
SMALL = HeadConfig(hidden=16, steps=30, warm_steps=10)


def labeled_session(pages: int = 2, **kwargs) -> LabelingSession:
    session = LabelingSession(X, EventLog(), seed=1, head_config=SMALL, **kwargs)
    for _ in range(pages):
        page = session.next_batch("random", 24)
        session.submit([(i, int(TRUTH[i])) for i in page.ids], batch_id=page.batch_id)
    return session


def submit_page(session: LabelingSession, strategy: str = "random"):
    page = session.next_batch(strategy, 24)
    return session.submit([(i, int(TRUTH[i])) for i in page.ids], batch_id=page.batch_id)


def finishes(fn, timeout: float = WAIT) -> bool:
    """Whether fn() returns within `timeout` seconds (run on a thread)."""
    done = threading.Event()
    threading.Thread(target=lambda: (fn(), done.set()), daemon=True).start()
    return done.wait(timeout)


def test_a_blocked_follower_holds_up_no_submit_and_hears_every_retrain_in_order() -> None:
    session = labeled_session()
    release, heard, journaled = threading.Event(), [], []

    def follower(message: Retrained) -> None:
        release.wait(WAIT)
        heard.append(message.point.seq)
        journaled.append(any(isinstance(e, ModelTrained) and e.seq == message.point.seq for e in session.log.events))

    session.subscribe(follower)
    assert finishes(lambda: [submit_page(session) for _ in range(3)], timeout=WAIT)
    assert heard == []  # still held, yet every submit was answered
    release.set()
    session.settle()
    assert heard == [r.seq for r in session.state.retrains[-3:]] and all(journaled)


def test_a_follower_is_told_everything_in_its_message() -> None:
    session = labeled_session()
    messages: list[Retrained] = []
    session.subscribe(messages.append)
    done = submit_page(session, "borderline")
    session.settle()
    (message,) = messages
    assert message.point.seq == done.point.seq and message.counts == session.counts()
    assert message.can_undo and message.concept == session.state.concept
    assert np.array_equal(message.probs, session.probs) and not message.probs.flags.writeable
    assert message.insights == session.insights()  # the estimates measured once, at the retrain
    assert message.insights["estimates"] == done.point.estimates

    sent: list[str] = []  # the push needs nothing but the message
    arrived = threading.Event()
    hub = Hub()
    client = hub.add(lambda text: (sent.append(text), arrived.set()))
    client.watched = frozenset({3, 5})
    announce_retrain(hub, message)
    assert arrived.wait(WAIT)
    hub.close_all()
    assert '"type":"trained"' in sent[0] and '"3":' in sent[0] and '"history_point"' in sent[0]


def test_a_submit_during_a_slow_review_page_is_not_held_up(monkeypatch) -> None:
    session = labeled_session(pages=3)
    entered, release, calls = threading.Event(), threading.Event(), []
    real = session_module.review_page

    def slow(state, *args, **kwargs):
        calls.append(state.labels)
        if len(calls) == 1:
            entered.set()
            release.wait(WAIT)
        return real(state, *args, **kwargs)

    monkeypatch.setattr(session_module, "review_page", slow)
    pages = []
    reviewer = threading.Thread(target=lambda: pages.append(session.review(12)))
    reviewer.start()
    assert entered.wait(WAIT)
    assert finishes(lambda: submit_page(session), timeout=WAIT)  # the fold heads hold no lock
    flipped = [(i, 1 - y) for i, y in session.state.labels.items()]
    assert finishes(lambda: session.correct(flipped, origin="gallery"), timeout=WAIT)
    release.set()
    reviewer.join(WAIT)
    (page,) = pages
    assert len(calls) == 2 and calls[1] is session.state.labels  # its cards' labels changed: computed again
    assert page.batch_id == session.state.batches[-1].seq and set(page.ids) <= set(session.state.labels)


def test_a_page_chosen_while_a_submit_lands_is_chosen_again(monkeypatch) -> None:
    session = labeled_session()
    other = LabelingSession.replay(session.log.events, X, seed=1, head_config=SMALL)  # what a second tab labels
    theirs = other.next_batch("random", 24).ids
    entered, release, calls = threading.Event(), threading.Event(), []
    real = session_module.select

    def slow(name, pool, n):
        calls.append(pool.labeled.sum())
        if len(calls) == 1:
            entered.set()
            release.wait(WAIT)
        return real(name, pool, n)

    monkeypatch.setattr(session_module, "select", slow)
    pages = []
    chooser = threading.Thread(target=lambda: pages.append(session.next_batch("borderline", 24)))
    chooser.start()
    assert entered.wait(WAIT)
    assert finishes(lambda: session.submit([(i, int(TRUTH[i])) for i in theirs]), timeout=WAIT)
    release.set()
    chooser.join(WAIT)
    (served,) = pages
    assert len(calls) == 2 and calls[1] > calls[0]
    assert not set(served.ids) & set(session.state.labels)  # never a card labeled meanwhile


def counting_locks(monkeypatch, acquired: list) -> None:
    """Locks made by fastlabel's own modules from now on record who takes them."""
    real_lock, real_rlock = threading.Lock, threading.RLock
    package = str(Path(registry.__file__).parents[1])

    class Counted:
        def __init__(self, lock) -> None:
            self._lock = lock

        def acquire(self, *args, **kwargs):
            got = self._lock.acquire(*args, **kwargs)
            if got:
                acquired.append((threading.get_ident(), id(self)))
            return got

        def release(self) -> None:
            self._lock.release()

        __enter__ = acquire

        def __exit__(self, *exc) -> None:
            self.release()

    def factory(make):
        def made(*args, **kwargs):
            caller = inspect.stack()[1].filename
            lock = make(*args, **kwargs)
            return Counted(lock) if caller.startswith(package) else lock
        return made

    monkeypatch.setattr(threading, "Lock", factory(real_lock))
    monkeypatch.setattr(threading, "RLock", factory(real_rlock))


def test_a_submit_takes_at_most_two_locks(monkeypatch) -> None:
    acquired: list[tuple[int, int]] = []
    counting_locks(monkeypatch, acquired)
    session = labeled_session()
    monkeypatch.undo()
    session.subscribe(lambda message: None)
    page = session.next_batch("borderline", 24)
    acquired.clear()
    session.submit([(i, int(TRUTH[i])) for i in page.ids], batch_id=page.batch_id)
    mine = {lock for thread, lock in acquired if thread == threading.get_ident()}
    assert {id(session.engine.lock), id(session.head_lock)} == mine


def test_the_catalog_drives_the_menu_and_the_pages(monkeypatch) -> None:
    names = [entry["name"] for entry in registry.menu()]
    assert names == [k.name for k in registry.CATALOG.values() if k.in_menu] and "audit" in names
    assert registry.REVIEW in registry.CATALOG and registry.REVIEW not in names
    assert LabelingSession.strategy_menu() == registry.menu()
    first = PageKind("first_ids", "Lowest ids first", "neutral", lambda pool, n: pool.unlabeled[:n],
                     needs=frozenset(), diverse_when_cold=False)
    monkeypatch.setitem(registry.CATALOG, first.name, first)
    assert registry.menu()[-1] == {"name": "first_ids", "title": "Lowest ids first", "batch_type": "neutral",
                                   "page": "pool", "needs": [], "starts": "guess"}
    session = LabelingSession(X, EventLog(), seed=1, audit_per_page=0)
    assert sorted(session.next_batch("first_ids", 12).ids) == list(range(12))
    review = labeled_session(pages=2).next_batch(registry.REVIEW, 12)  # a review page, by its catalog entry
    assert review.strategy == registry.REVIEW and review.batch_id is not None


def test_hybrid_and_hunt_refine_share_their_cold_start() -> None:
    session = LabelingSession(X, EventLog(), seed=3, audit_per_page=0)
    picks = [registry.CATALOG[name].choose(session.pool(), 12) for name in ("hybrid", "hunt_refine")]
    assert np.array_equal(*picks)  # one cold-start block (refine.py), the same seeded pool
    with pytest.raises(Exception, match="unknown strategy 'nope'"):
        session.next_batch("nope", 12)


def test_fits_that_can_wait_pause_while_a_retrain_runs() -> None:
    """A review's fold head (between_steps=FOREGROUND.wait_idle) makes no step while a retrain holds the gate."""
    rng = np.random.default_rng(0)
    learner = Learner(rng.normal(size=(200, 16)).astype(np.float32), HeadConfig(steps=20))
    steps: list[int] = []

    def counted() -> None:
        FOREGROUND.wait_idle()
        steps.append(1)

    with FOREGROUND.running():
        fit = threading.Thread(target=learner.fit, args=(np.arange(40), np.arange(40) % 2, 0, counted))
        fit.start()
        fit.join(0.5)
        assert fit.is_alive() and steps == []  # paused before its first step
    fit.join(10)
    assert not fit.is_alive() and len(steps) == 20
