"""The effect engine: an event is journaled, folded into the state, then its effects follow.

- fold: the reducer, plus the labeled mask and the events' digest kept event by event;
- follow: an event's effects given the state just after it (a query's text prior, a retrain at a
  model_trained event), the same live and in replay, so a journal comes back to the same labels
  and, seeded, the same model;
- when to retrain: `CoalescedRetrains` (retrain_policy.py);
- snapshots: every few retrains the head is saved, and a replay starts from the newest that fits;
- followers: a measured retrain is handed to the followers' thread (followers.py).

Two locks: `lock` (the journal's own, which also guards the state folded from it; held briefly)
and `head_lock` (the head: held while it trains and while its scores are swapped).

A change made while another change's retrain runs (a team on one concept) does not wait for the
head: it is answered at once, and the retrain after the running one, on the engine's retrain
thread, covers it and every change that came meanwhile; its push tells every tab.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from ..errors import FastLabelError, InvalidInput
from ..events import Event, EventLog, ModelTrained, QuerySet, Retrain, SessionState, SubmissionUndone, apply
from ..events import LabelResolved, LabelsSubmitted
from ..learner.zeroshot import query_probs
from .followers import Follower, Followers, retrained
from .replies import Batch
from .retrain_policy import CoalescedRetrains
from .snapshots import EventDigest, HeadSnapshots, snapshot_dir
from .training import TrainPoint, Trainer

log = logging.getLogger(__name__)
OFF_LOCK_TRIES = 3  # work done off the lock is done again when the state moved meanwhile
T = TypeVar("T")


def check_recorded_on(state: SessionState, n_items: int, ids_may_grow: bool, data_id: str) -> None:
    """A journal must be replayed over the data it was recorded on (a folder's ids may only grow)."""
    if state.n_items != n_items and not (ids_may_grow and state.n_items < n_items):
        raise InvalidInput(f"this session was recorded on {state.n_items} items, but the data has {n_items}")
    if data_id and state.data and state.data != data_id:
        raise InvalidInput("this session was recorded on other data (fingerprints differ); "
                           "start a new session file or point at the original data")


def snapshot_store(snapshots: bool | str | Path, journal: Path | None, embeddings: np.ndarray) -> HeadSnapshots | None:
    """Head snapshots: True, beside the journal (none without one); a folder; False, none."""
    if snapshots is False:
        return None
    if snapshots is True:
        return HeadSnapshots(snapshot_dir(journal), embeddings) if journal else None
    return HeadSnapshots(Path(snapshots), embeddings)


class Engine:
    """The state of one session's journal and the effects of its events."""

    def __init__(self, embeddings: np.ndarray, log: EventLog, trainer: Trainer,
                 snapshots: HeadSnapshots | None = None, available: np.ndarray | None = None) -> None:
        self.embeddings, self.log, self.trainer, self.snapshots = embeddings, log, trainer, snapshots
        self.available = available
        self.default_goal = "train"  # the goal in effect until a goal_set event states one
        self.state = SessionState()
        self.lock = log.lock  # the journal and the state folded from it
        self.head_lock = trainer.lock  # the head: training and swapping its scores
        self.policy = CoalescedRetrains()
        self.followers = Followers()
        self.labeled = np.zeros(int(embeddings.shape[0]), dtype=bool)  # state.labels as a mask
        self.points: dict[int, TrainPoint] = {}  # measured retrains, by model_trained seq
        self._digest = EventDigest()  # of every event so far, for snapshots
        self._digest_at: dict[int, str] = {}  # the digest at each model_trained event not yet snapshotted
        self._training = False  # a retrain runs now (set and cleared under head_lock)
        # the retrains that changes made during another retrain did not wait for (no thread until the first)
        self._later = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastlabel-retrain")

    # -- events -------------------------------------------------------------------------------
    def replay(self, events: list[Event]) -> None:
        """Fold the log in with its effects, as live; from the newest head snapshot that matches it,
        when there is one, so only the retrains after it run again."""
        found = self.snapshots.latest(events, self.trainer.fits) if self.snapshots else None
        start = 0
        if found is not None:
            index, snapshot = found
            for event in events[: index + 1]:
                self.fold(event)
            query = next((e for e in reversed(events[: index + 1]) if isinstance(e, QuerySet)), None)
            if query is not None:
                self.follow(query, self.state)
            self.trainer.restore(snapshot.weights, len(self.state.labels))
            self.points.update({p["seq"]: TrainPoint(**p) for p in snapshot.points})
            start = index + 1
        for event in events[start:]:
            self.follow(event, self.fold(event))
        self.trainer.settle()

    def fold(self, event: Event) -> SessionState:
        """Apply one event to the state, keeping the labeled mask and the events' digest in step."""
        before = self.state
        self.state = apply(before, event)
        self._digest.add(event)
        if isinstance(event, (LabelsSubmitted, LabelResolved)):
            self.labeled[[item for item, _ in event.labels]] = True
        elif isinstance(event, SubmissionUndone):
            undone = before.submission(event.submission)  # any labeler's latest, not only the last of all
            for item in undone.previous if undone is not None else ():
                self.labeled[item] = item in self.state.labels
        elif isinstance(event, ModelTrained):
            self._digest_at[event.seq] = self._digest.hexdigest()
        return self.state

    def record(self, kind: type[Event], **payload: Any) -> tuple[Event, SessionState]:
        """Journal an event and fold it in; returns the state right after it, for its effects."""
        with self.lock:
            event = self.log.append(kind, **payload)
            return event, self.fold(event)

    def follow(self, event: Event, state: SessionState, *, foreground: bool = True) -> TrainPoint | None:
        """An event's effects, given the state just after it: the same live and in replay
        (`foreground`: a person waits on its retrain)."""
        if isinstance(event, QuerySet):
            prior = query_probs(self.embeddings, event.query_type, np.asarray(event.embedding, np.float32),
                                event.logit_scale, event.bias)
            self.trainer.set_prior(prior, len(state.labels))
        elif isinstance(event, ModelTrained):
            point = self.trainer.retrain(event.seq, state, done=lambda p, probs: self._scored(p, probs, state),
                                         foreground=foreground)
            self.points.setdefault(event.seq, point)  # `_scored` may have put the measured point first
            self._snapshot(event.seq, state)
            return point
        return None

    def _scored(self, point: TrainPoint, probs: np.ndarray, state: SessionState) -> None:
        """A retrain's probabilities cover the whole pool: keep what it measured, tell the followers."""
        self.points[point.seq] = point
        if self.followers:
            history = self.history(state)
            goal = self.goal_in_effect(state)
            self.followers.announce(lambda: retrained(state, point, probs, history, self.available, goal))

    def goal_in_effect(self, state: SessionState) -> str:
        """The goal stated last (a goal_set event), else the session's default."""
        return state.goal or self.default_goal

    def subscribe(self, follower: Follower) -> None:
        """`follower(message)` after every retrain from now on, on the followers' thread."""
        self.followers.subscribe(follower)

    def _snapshot(self, seq: int, state: SessionState) -> None:
        """Save the head every `snapshots.every` retrains of a journaled session."""
        digest = self._digest_at.pop(seq, None)
        store = self.snapshots
        if store is None or digest is None or self.log.journal is None or len(state.retrains) % store.every:
            return
        store.save(seq, digest, self.trainer.weights(), [p.to_dict() for p in list(self.points.values())])

    def optimistic(self, snapshot: Callable[[], T | Batch], work: Callable[[T], Any],
                  record: Callable[[T, Any, bool], Batch | None]) -> Batch:
        """Optimistic concurrency for slow work on the state (a page's strategy, a review page's fold heads).

        Run `work` on what `snapshot` took under the journal's lock, without holding it, then
        `record` its result under the lock (None: the state moved meanwhile, so again; the last try
        is told it is the last). `snapshot` may answer a Batch at once."""
        for attempt in range(OFF_LOCK_TRIES):
            with self.lock:
                taken = snapshot()
            if isinstance(taken, Batch):
                return taken
            result = work(taken)
            with self.lock:
                served = record(taken, result, attempt == OFF_LOCK_TRIES - 1)
                if served is not None:
                    return served
        raise AssertionError("the last try always records")

    # -- retrains -----------------------------------------------------------------------------
    def train_through(self, seq: int, *, foreground: bool = True) -> TrainPoint:
        """Make sure the head has trained on every label change up to `seq`; returns the retrain that did
        (`foreground`: a person waits on it)."""
        with self.head_lock:
            done = self.policy.covering(self.state.retrains, seq)
            if done is not None:
                return self.point(done)
            self._training = True
            try:
                event, state = self.record(ModelTrained, n_labels=len(self.state.labels))
                point = self.follow(event, state, foreground=foreground)
            finally:
                self._training = False
            assert point is not None
            return point

    def train_after(self, seq: int, *, wait: bool = True) -> tuple[TrainPoint, str | None, bool]:
        """Retrain after a change already journaled at `seq`: (the retrain, a warning, queued).

        The change waits for its retrain when `wait` and no other change's retrain is running; else
        the retrain after it is queued on the retrain thread (queued=True, and the point is the
        newest retrain's, which does not cover this change). The change stands whatever happens
        here: if the retrain cannot run (a full disk refuses its model_trained line), the answer, or
        the log for a queued one, says so and the next change, or the next start, trains."""
        if wait and not self._training:
            return *self._train_now(seq), False
        self._later.submit(self._train_now, seq, foreground=False)  # nobody waits on it
        st = self.state
        newest = self.point(st.retrains[-1]) if st.retrains else TrainPoint(seq, len(st.labels), st.n_positive, None, None)
        return newest, None, True

    def _train_now(self, seq: int, *, foreground: bool = True) -> tuple[TrainPoint, str | None]:
        try:
            return self.train_through(seq, foreground=foreground), None
        except Exception as exc:
            if isinstance(exc, FastLabelError):
                log.warning("saved event %d, but could not retrain: %s", seq, exc)
            else:
                log.exception("saved event %d, but could not retrain", seq)
            st = self.state
            reason = str(exc) if isinstance(exc, FastLabelError) else "an internal error; see the server log"
            return TrainPoint(seq, len(st.labels), st.n_positive, None, None), \
                f"Saved, but the model did not retrain: {reason}"

    def point(self, retrain: Retrain) -> TrainPoint:
        """A retrain as measured, or as the log records it when it was not measured here."""
        return self.points.get(retrain.seq) or TrainPoint(retrain.seq, retrain.labeled, retrain.positive, None, None)

    def history(self, state: SessionState | None = None) -> list[TrainPoint]:
        """Every retrain of `state` (default: now) in log order, with what was measured."""
        return [self.point(r) for r in (state or self.state).retrains]

    def settle(self) -> None:
        """Wait until the queued retrains ran, the newest one's probabilities cover the pool and its
        followers have heard."""
        self._later.submit(lambda: None).result()
        self.trainer.settle()
        self.followers.drain()
