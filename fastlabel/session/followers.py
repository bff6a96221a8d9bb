"""Followers: what hears about a retrain (the WebSocket push), after its event is saved.

A retrain hands a `Retrained` message to one executor (a single worker thread), so followers run
in order, off every session lock, and never on the request's thread. The message is built on that
thread from values frozen at the retrain (its state, its probabilities, the trend so far), so a
follower needs nothing from the session: it must not call back into it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..events import SessionState
from . import views
from .training import TrainPoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retrained:
    """Everything a follower hears about one retrain."""

    concept: str
    point: TrainPoint  # the trend's new point
    counts: dict[str, int]
    can_undo: bool
    insights: dict[str, Any]  # effort, estimates (measured once, at the retrain) and the stopping signal
    probs: np.ndarray  # every item's probability after this retrain (read-only)
    by: str | None = None  # the labeler whose change this retrain followed
    undoable: frozenset[str] = frozenset()  # labelers with a submission in effect (their undo has work to do)

    def probs_of(self, ids: Sequence[int]) -> dict[str, float]:
        """The probabilities of some cards, keyed by id as JSON keys are."""
        return {str(i): round(float(self.probs[i]), 4) for i in ids}


def retrained(state: SessionState, point: TrainPoint, probs: np.ndarray, history: Sequence[TrainPoint],
              available: np.ndarray | None, goal: str = "train") -> Retrained:
    """The message of one retrain, from the values it was measured with (pure); `goal`: the one in
    effect (the state's, else the session's default), whose stop signal the panel shows."""
    probs = probs.view()
    probs.flags.writeable = False
    by = getattr(state.history[-1], "labeler", None) if state.history else None
    return Retrained(state.concept, point, views.counts(state), bool(state.submissions),
                     views.insights(state, probs, history, available, quality=point.quality, goal=goal), probs, by,
                     frozenset(s.labeler for s in state.submissions))


Follower = Callable[[Retrained], None]


class Followers:
    """The followers of one session and the single thread they run on (started by the first message)."""

    def __init__(self) -> None:
        self._followers: list[Follower] = []
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastlabel-followers")
        self._last: Future | None = None

    def subscribe(self, follower: Follower) -> None:
        self._followers.append(follower)

    def __bool__(self) -> bool:
        return bool(self._followers)

    def announce(self, build: Callable[[], Retrained]) -> None:
        """Queue a message (built on the followers' thread) for every follower; returns at once."""
        if self._followers:
            try:
                self._last = self._executor.submit(self._run, build)
            except RuntimeError:  # the interpreter is exiting: nobody is left to hear it
                log.debug("not announcing a retrain while shutting down")

    def _run(self, build: Callable[[], Retrained]) -> None:
        try:
            message = build()
        except Exception:
            log.exception("could not build a retrain's message")
            return
        for follower in list(self._followers):
            try:
                follower(message)
            except Exception:  # the change is saved and answered whatever a follower does with it
                log.exception("a follower failed on retrain %d", message.point.seq)

    def drain(self) -> None:
        """Wait until every message queued so far has been heard (not from a follower itself)."""
        last = self._last
        if last is not None and threading.current_thread().name.startswith("fastlabel-followers"):
            return
        if last is not None:
            last.result()
